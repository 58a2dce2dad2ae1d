from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry

from ledger.models import Account
from members.models import Member
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/members/member/"


def _add_data(branch, **extra):
    return {
        "branch": str(branch.pk),
        "first_name": "Folasade",
        "last_name": "Adeyemi",
        "phone": "0816 456 7804",
        "email": "",
        "join_date": "2026-01-15",
        "date_of_birth": "1988-01-30",
        "gender": "F",
        "bvn": "",
        "nin": "",
        "occupation": "",
        "employer": "",
        "address": "",
        "city": "",
        "state": "",
        "country": "Nigeria",
        "next_of_kin_name": "",
        "next_of_kin_relationship": "",
        "next_of_kin_phone": "",
        **extra,
    }


def _change_data(member, **extra):
    data = {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "phone": member.phone,
        "email": member.email,
        "date_of_birth": member.date_of_birth.isoformat() if member.date_of_birth else "",
        "gender": member.gender,
        "bvn": "",
        "nin": "",
        "occupation": member.occupation,
        "employer": member.employer,
        "address": member.address,
        "city": member.city,
        "state": member.state,
        "country": member.country,
        "next_of_kin_name": "",
        "next_of_kin_relationship": "",
        "next_of_kin_phone": "",
        "accounts-TOTAL_FORMS": "0",
        "accounts-INITIAL_FORMS": "0",
        "accounts-MIN_NUM_FORMS": "0",
        "accounts-MAX_NUM_FORMS": "0",
    }
    data.update(extra)
    return data


def _errors(response) -> str:
    form = response.context["adminform"].form
    return str(form.errors)


# --- add / change ---------------------------------------------------------------------------------
def test_teller_registers_a_member_through_the_admin_form(admin_client_as, teller, branch):
    client = admin_client_as(teller)
    assert client.get(f"{CHANGELIST}add/").status_code == 200
    response = client.post(f"{CHANGELIST}add/", _add_data(branch, bvn="22212345604"))
    assert response.status_code == 302, _errors(response)
    member = Member.objects.get()
    assert member.member_number == "MEM00001"
    assert member.phone == "+2348164567804"
    assert member.created_by == teller
    assert member.bvn_masked == "*******5604"


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"phone": "12345"}, "phone", "not a valid phone number"),
        ({"bvn": "1234"}, "bvn", "exactly 11 digits"),
        ({"nin": "1234567890X"}, "nin", "exactly 11 digits"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "cannot be in the future"),
    ],
)
def test_bad_input_on_the_add_form_is_a_form_error(admin_client_as, teller, branch, extra, field, message):
    response = admin_client_as(teller).post(f"{CHANGELIST}add/", _add_data(branch, **extra))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert message in str(form.errors[field])
    assert Member.objects.count() == 0


def test_duplicate_phone_on_the_add_form_names_the_existing_member(admin_client_as, teller, branch, member):
    response = admin_client_as(teller).post(f"{CHANGELIST}add/", _add_data(branch, phone="0806 123 4567"))
    assert response.status_code == 200
    assert member.member_number in str(response.context["adminform"].form.errors["phone"])
    assert Member.objects.count() == 1


def test_validating_the_add_form_registers_nobody(rf, teller, branch):
    # Registration happens when the admin saves, not while the form validates.
    request = rf.post(f"{CHANGELIST}add/")
    request.user = teller
    model_admin = admin.site._registry[Member]
    form = model_admin.get_form(request)(data=_add_data(branch))

    assert form.is_valid(), form.errors
    assert Member.objects.count() == 0


def test_a_refused_registration_shows_the_reason_and_writes_nothing(admin_client_as, teller, branch, member):
    members, history, log = Member.objects.count(), Member.history.count(), LogEntry.objects.count()

    # when the teller saves a member whose BVN is malformed (the service refuses it at save)
    response = admin_client_as(teller).post(f"{CHANGELIST}add/", _add_data(branch, bvn="1234"))

    # then the add form comes back with the service's reason on the field, and nothing is stored
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "exactly 11 digits" in str(form.errors["bvn"])
    assert form.data["first_name"] == "Folasade"  # what was typed is still there
    stored = (Member.objects.count(), Member.history.count(), LogEntry.objects.count())
    assert stored == (members, history, log)

    # and the same form, corrected, registers the member once
    saved = admin_client_as(teller).post(f"{CHANGELIST}add/", _add_data(branch, bvn="22212345604"))
    assert saved.status_code == 302, _errors(saved)
    assert Member.objects.count() == members + 1
    assert LogEntry.objects.count() == log + 1


def test_add_form_offers_only_the_tellers_branches(admin_client_as, teller, branch, other_branch):
    response = admin_client_as(teller).get(f"{CHANGELIST}add/")
    choices = [str(c[0]) for c in response.context["adminform"].form.fields["branch"].choices if c[0]]
    assert choices == [str(branch.pk)]
    refused = admin_client_as(teller).post(f"{CHANGELIST}add/", _add_data(other_branch))
    assert refused.status_code == 200
    assert "branch" in refused.context["adminform"].form.errors
    assert Member.objects.count() == 0


def test_change_page_shows_bvn_masked_and_saves_through_the_service(admin_client_as, teller, branch):
    member = MemberFactory(branch=branch, bvn="22212345678", phone="+2348031112222")
    client = admin_client_as(teller)
    page = client.get(f"{CHANGELIST}{member.pk}/change/")
    html = page.content.decode()
    assert "*******5678" in html
    assert "22212345678" not in html
    assert member.bvn_hash not in html
    response = client.post(
        f"{CHANGELIST}{member.pk}/change/", _change_data(member, phone="0803-111-3333", city="Ikeja")
    )
    assert response.status_code == 302, _errors(response)
    member.refresh_from_db()
    assert (member.phone, member.city) == ("+2348031113333", "Ikeja")
    assert member.bvn_masked == "*******5678"  # an empty BVN input keeps the one on file


def test_a_refused_change_shows_the_reason_and_keeps_the_member(admin_client_as, teller, branch, member):
    other = MemberFactory(branch=branch, phone="+2348031112222", city="Yaba")
    log = LogEntry.objects.count()

    # when the teller gives the member another member's phone (the service refuses it at save)
    response = admin_client_as(teller).post(
        f"{CHANGELIST}{other.pk}/change/", _change_data(other, phone="0806 123 4567", city="Ikeja")
    )

    # then the change page shows why, and nothing of the change is stored
    assert response.status_code == 200
    assert member.member_number in str(response.context["adminform"].form.errors["phone"])
    other.refresh_from_db()
    assert (other.phone, other.city) == ("+2348031112222", "Yaba")
    assert LogEntry.objects.count() == log


def test_change_page_lists_the_members_accounts_read_only(admin_client_as, teller, member):
    Account.objects.create(
        account_number="3000000015",
        name="Savings",
        member=member,
        type="SAVINGS",
        normal_balance="CREDIT",
        branch=member.branch,
        balance=Decimal("12500.00"),
    )
    html = admin_client_as(teller).get(f"{CHANGELIST}{member.pk}/change/").content.decode()
    assert "3000000015" in html
    assert "12500.00" in html or "12,500.00" in html
    assert 'name="accounts-0-balance"' not in html


# --- scoping --------------------------------------------------------------------------------------
def test_other_branch_members_are_404_on_every_admin_screen(admin_client_as, teller, member, other_member):
    client = admin_client_as(teller)
    for suffix in ("change/", "history/", "delete/"):
        assert client.get(f"{CHANGELIST}{other_member.pk}/{suffix}").status_code == 404, suffix
    assert client.get(f"{CHANGELIST}{member.pk}/change/").status_code == 200
    assert client.get(f"{CHANGELIST}{member.pk}/history/").status_code == 200
    assert client.get(f"{CHANGELIST}{member.pk}/delete/").status_code == 403  # exit instead
    html = client.get(CHANGELIST).content.decode()
    assert member.member_number in html
    assert other_member.member_number not in html


def test_autocomplete_is_branch_scoped_and_uses_the_search(admin_client_as, teller, member, other_member):
    client = admin_client_as(teller)
    url = "/admin/autocomplete/"
    params = {"app_label": "ledger", "model_name": "account", "field_name": "member"}
    mine = client.get(url, {**params, "term": "0806 123 4567"}).json()["results"]
    assert [r["id"] for r in mine] == [str(member.pk)]
    theirs = client.get(url, {**params, "term": "Garba"}).json()["results"]
    assert theirs == []


# --- search ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "term",
    ["08061234567", "+2348061234567", "806-123-4567", "Nwosu", "chiamaka nwosu", "CHIA", "22212345678"],
)
def test_changelist_search_in_every_format(admin_client_as, teller, branch, term):
    target = MemberFactory(
        branch=branch, first_name="Chiamaka", last_name="Nwosu", phone="+2348061234567", bvn="22212345678"
    )
    MemberFactory(branch=branch, first_name="Zainab", last_name="Musa", phone="+2348099999999")
    response = admin_client_as(teller).get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    assert [m.pk for m in response.context["cl"].result_list] == [target.pk]


def test_changelist_search_by_member_number_and_filters(admin_client_as, teller, member, branch):
    client = admin_client_as(teller)
    found = client.get(CHANGELIST, {"q": member.member_number}).context["cl"].result_list
    assert list(found) == [member]
    dormant = MemberFactory(branch=branch, status="DORMANT")
    filtered = client.get(CHANGELIST, {"status__exact": "DORMANT"}).context["cl"].result_list
    assert list(filtered) == [dormant]
    by_branch = client.get(CHANGELIST, {"branch__id__exact": str(branch.pk)}).context["cl"].result_list
    assert set(by_branch) == {member, dormant}
    assert client.get(CHANGELIST, {"branch__id__exact": "garbage"}).status_code == 200


# --- actions --------------------------------------------------------------------------------------
def _action(client, action, members, **extra):
    data = {"action": action, "_selected_action": [str(m.pk) for m in members], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_manager_approves_kyc_from_the_list(admin_client_as, manager, branch):
    member = MemberFactory(branch=branch, nin="70012345678")
    response = _action(admin_client_as(manager), "verify_kyc_selected", [member])
    assert "1 member verified" in response.content.decode()
    member.refresh_from_db()
    assert member.kyc_status == "VERIFIED"
    assert member.kyc_reviewed_by == manager


def test_kyc_approval_four_eyes_is_reported_not_a_500(admin_client_as, make_staff, branch):
    boss = make_staff("MANAGER", branch, email="boss@test.ng")
    member = MemberFactory(branch=branch, nin="70012345678", created_by=boss)
    response = _action(admin_client_as(boss), "verify_kyc_selected", [member])
    assert response.status_code == 200
    assert "another colleague" in response.content.decode()
    member.refresh_from_db()
    assert member.kyc_status == "PENDING"


def test_teller_does_not_get_kyc_or_exit_actions(admin_client_as, teller, member):
    actions = admin_client_as(teller).get(CHANGELIST).context["action_form"].fields["action"].choices
    names = [name for name, _ in actions]
    assert "verify_kyc_selected" not in names
    assert "exit_selected" not in names
    assert "change_status_selected" in names


def test_reject_kyc_asks_for_a_reason_first(admin_client_as, manager, member):
    client = admin_client_as(manager)
    confirm = _action(client, "reject_kyc_selected", [member])
    assert confirm.status_code == 200
    assert "Reject KYC" in confirm.content.decode()
    assert member.member_number in confirm.content.decode()
    member.refresh_from_db()
    assert member.kyc_status == "PENDING"
    empty = _action(client, "reject_kyc_selected", [member], post="yes", reason="")
    assert "This field is required" in empty.content.decode()
    done = _action(client, "reject_kyc_selected", [member], post="yes", reason="ID photo unreadable")
    assert "1 member rejected" in done.content.decode()
    member.refresh_from_db()
    assert (member.kyc_status, member.kyc_rejection_reason) == ("REJECTED", "ID photo unreadable")


def test_status_change_action_with_reason(admin_client_as, teller, member):
    client = admin_client_as(teller)
    assert "Change member status" in _action(client, "change_status_selected", [member]).content.decode()
    _action(client, "change_status_selected", [member], post="yes", status="SUSPENDED", reason="Under review")
    member.refresh_from_db()
    assert (member.status, member.status_reason) == ("SUSPENDED", "Under review")


def test_exit_action_refused_with_balance_then_done_with_zero(admin_client_as, manager, member):
    account = Account.objects.create(
        account_number="3000000023",
        name="Savings",
        member=member,
        type="SAVINGS",
        normal_balance="CREDIT",
        branch=member.branch,
        balance=Decimal("10.00"),
    )
    client = admin_client_as(manager)
    refused = _action(client, "exit_selected", [member], post="yes", reason="Relocating")
    assert "3000000023" in refused.content.decode()
    member.refresh_from_db()
    assert member.status == "ACTIVE"
    Account.objects.filter(pk=account.pk).update(balance=Decimal("0.00"))
    done = _action(client, "exit_selected", [member], post="yes", reason="Relocating")
    assert "1 member exited" in done.content.decode()
    member.refresh_from_db()
    assert member.status == "EXITED"
    page = client.get(f"{CHANGELIST}{member.pk}/change/")
    assert page.status_code == 200
    assert 'name="phone"' not in page.content.decode()  # an exited member's record is read-only


def test_accountant_sees_a_read_only_member_page(admin_client_as, accountant, branch):
    member = MemberFactory(branch=branch, bvn="22212345678")
    client = admin_client_as(accountant)
    page = client.get(f"{CHANGELIST}{member.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "*******5678" in html
    assert 'name="bvn"' not in html
    assert client.get(f"{CHANGELIST}add/").status_code == 403


def test_history_shows_each_change_and_is_scoped(admin_client_as, teller, register, other_member):
    member = register(city="Ikeja")
    from members import services

    services.update_member(actor=teller, member_id=member.pk, city="Yaba")
    client = admin_client_as(teller)
    history = client.get(f"{CHANGELIST}{member.pk}/history/")
    assert history.status_code == 200
    first = member.history.earliest()
    version = client.get(f"{CHANGELIST}{member.pk}/history/{first.history_id}/")
    assert version.status_code == 200
    assert "Ikeja" in version.content.decode()
    other_version = other_member.history.earliest()
    assert client.get(f"{CHANGELIST}{other_member.pk}/history/{other_version.history_id}/").status_code == 404
