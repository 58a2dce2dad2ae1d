"""The manager's screens with the Django test client: dashboard, header badge, decision page,
request list, policy admin (band validation)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from approvals.models import Approval, ApprovalLevel, ApprovalPolicy, ApprovalRequest, Notice
from cooperative.models import AuditLog
from tests.approvals.factories import TEST_ACTION, calls, make_policy

pytestmark = pytest.mark.django_db
D = Decimal
Status = ApprovalRequest.Status


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


def decide_url(request) -> str:
    return reverse("admin:approvals_approvalrequest_decide", args=[request.pk])


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def two_level(ask):
    make_policy([(["MANAGER"], 1), (["CREDIT_COMMITTEE"], 2)], low="0")
    return ask("1250000.00")


# --- dashboard and header -------------------------------------------------------------------------


def test_my_approvals_lists_what_i_may_decide_with_amount_level_and_link(login, manager, two_level):
    page = text(login(manager).get(reverse("admin:index")))
    widget = page[page.index('id="my-approvals"') :]
    assert "Test payout" in widget
    assert "Bisi Adewale (M0001)" in widget
    assert "₦1,250,000.00" in widget
    assert "1 of 2" in widget
    assert "MB001" in widget
    assert decide_url(two_level) in widget


def test_my_approvals_is_empty_for_the_requester_and_oldest_first_for_deciders(
    login, teller, manager, ask, other_branch
):
    make_policy([(["MANAGER"], 1)])
    first = ask("10.00", title="First")
    second = ask("20.00", subject=other_branch, title="Second")
    page = text(login(manager).get(reverse("admin:index")))
    assert page.index(decide_url(first)) < page.index(decide_url(second))
    page = text(login(teller).get(reverse("admin:index")))
    assert "Nothing is waiting for your decision." in page


def test_the_header_badge_counts_my_approvals_on_every_admin_page(login, manager, teller, two_level):
    client = login(manager)
    for url in (reverse("admin:index"), reverse("admin:approvals_approvalpolicy_changelist")):
        page = text(client.get(url))
        assert re.search(r'class="coop-badge-count"[^>]*>1</span>', page), url
    # the requester sees the link without a count
    page = text(login(teller).get(reverse("admin:index")))
    assert "coop-header-badge" in page
    assert "coop-badge-count" not in page


def test_the_badge_link_filters_the_list_to_my_queue(login, manager, two_level, ask, other_branch):
    ask("5.00", subject=other_branch, requested_by=manager, title="Mine to wait for")
    page = text(login(manager).get(reverse("admin:approvals_approvalrequest_changelist") + "?mine=1"))
    assert "Payout to Bisi Adewale" in page
    assert "Mine to wait for" not in page


def test_notices_show_on_the_dashboard_and_can_be_marked_read(login, manager, two_level):
    client = login(manager)
    page = text(client.get(reverse("admin:index")))
    assert "Approval needed: Test payout" in page
    notice = Notice.objects.get(recipient=manager)
    response = client.post(reverse("admin:approvals_notices_read"), {"notice": [notice.pk]})
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert "No new notices." in text(client.get(reverse("admin:index")))
    assert client.get(reverse("admin:approvals_notices_read")).status_code == 405


# --- the decision page ------------------------------------------------------------------------------


def test_the_decision_page_shows_summary_levels_and_buttons(login, manager, two_level):
    page = text(login(manager).get(decide_url(two_level)))
    assert "Test subject" in page  # the action type's summary hook, with its template
    assert "Main Branch (MB001)" in page
    assert "₦1,250,000.00" in page
    assert 'id="appr-levels"' in page
    assert "CREDIT_COMMITTEE" in page
    assert 'id="appr-approve"' in page
    assert 'id="appr-reject"' in page
    assert "csrfmiddlewaretoken" in page


def test_approving_redirects_and_shows_the_outcome(login, manager, committee, two_level):
    # when the manager approves level 1
    client = login(manager)
    response = client.post(decide_url(two_level), {"decision": "APPROVED", "comment": "Good record"})
    # then Post/Redirect/Get with a message
    assert response.status_code == 302
    assert response["Location"] == decide_url(two_level)
    page = text(client.get(response["Location"]))
    assert "now waits for level 2 of 2" in page
    assert "Good record" in page
    assert "You already approved this request at level 1" in page  # no buttons any more
    assert 'id="appr-approve"' not in page
    # the committee finishes it
    for member in committee:
        response = login(member).post(decide_url(two_level), {"decision": "APPROVED"}, follow=True)
    assert "Approved: Payout to Bisi Adewale. The action has been carried out." in text(response)
    two_level.refresh_from_db()
    assert two_level.status == Status.APPROVED
    assert len(calls) == 1


def test_the_requester_sees_no_buttons_and_a_forged_post_is_a_403(login, teller, two_level):
    client = login(teller)
    page = text(client.get(decide_url(two_level)))
    assert 'id="appr-approve"' not in page
    assert "You asked for this approval, so someone else must decide it" in page
    assert 'id="appr-cancel"' in page  # the requester may withdraw it
    # when the requester forges the POST
    response = client.post(decide_url(two_level), {"decision": "APPROVED"})
    # then
    assert response.status_code == 403
    assert not Approval.objects.exists()
    two_level.refresh_from_db()
    assert two_level.status == Status.PENDING
    assert AuditLog.objects.filter(event=AuditLog.Event.PERMISSION_DENIED, user=teller).exists()


def test_wrong_role_sees_why_and_cannot_post(login, committee, two_level):
    client = login(committee[0])
    page = text(client.get(decide_url(two_level)))
    assert "Level 1 of 2 needs MANAGER; you hold CREDIT_COMMITTEE." in page
    assert client.post(decide_url(two_level), {"decision": "APPROVED"}).status_code == 403
    assert not Approval.objects.exists()


def test_another_branch_does_not_see_the_request_at_all(login, make_staff, other_branch, two_level):
    far = make_staff("MANAGER", other_branch, email="far@test.ng")
    client = login(far)
    assert client.get(decide_url(two_level)).status_code == 404
    assert client.post(decide_url(two_level), {"decision": "APPROVED"}).status_code == 404
    assert client.get("/admin/approvals/approvalrequest/not-a-uuid/decide/").status_code == 404
    assert client.post("/admin/approvals/approvalrequest/not-a-uuid/cancel/").status_code == 404
    assert not Approval.objects.exists()


def test_a_rejection_without_comment_is_a_form_error(login, manager, two_level):
    response = login(manager).post(decide_url(two_level), {"decision": "REJECTED", "comment": " "})
    assert response.status_code == 400
    assert "a comment is required" in text(response)
    assert not Approval.objects.exists()


def test_deciding_an_already_decided_request_says_who_decided(login, manager, manager2, ask):
    make_policy([(["MANAGER"], 1)])
    request = ask("10.00")
    login(manager).post(decide_url(request), {"decision": "APPROVED"})
    response = login(manager2).post(decide_url(request), {"decision": "APPROVED"})
    assert response.status_code == 409
    assert "already approved by" in text(response)
    assert Approval.objects.count() == 1


def test_the_decision_endpoint_is_post_only_and_csrf_protected(manager, two_level):
    plain = Client()
    plain.force_login(manager)
    assert plain.put(decide_url(two_level)).status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.post(decide_url(two_level), {"decision": "APPROVED"}).status_code == 403
    assert not Approval.objects.exists()


def test_the_requester_cancels_from_the_page(login, teller, manager, two_level):
    cancel = reverse("admin:approvals_approvalrequest_cancel", args=[two_level.pk])
    assert login(manager).post(cancel, {"reason": "x"}).status_code == 403
    response = login(teller).post(cancel, {"reason": "Member withdrew"}, follow=True)
    assert "Cancelled: Payout to Bisi Adewale" in text(response)
    two_level.refresh_from_db()
    assert two_level.status == Status.CANCELLED
    assert login(teller).get(cancel).status_code == 405


def test_a_refusal_by_the_domain_is_shown_and_changes_nothing(login, manager, ask):
    from tests.approvals.factories import state

    make_policy([(["MANAGER"], 1)])
    request = ask("10.00")
    state["fail_on_approve"] = "Insufficient funds: the balance is now ₦20.00."
    response = login(manager).post(decide_url(request), {"decision": "APPROVED"})
    assert response.status_code == 409
    assert "Insufficient funds" in text(response)
    request.refresh_from_db()
    assert request.status == Status.PENDING


# --- the request list -------------------------------------------------------------------------------


def test_the_list_is_read_only_filtered_and_searchable(
    login, manager, auditor, teller, two_level, ask, other_branch
):
    client = login(manager)
    url = reverse("admin:approvals_approvalrequest_changelist")
    for query in (
        "",
        "?status__exact=PENDING",
        f"?action_type={TEST_ACTION}",
        "?q=Bisi",
        "?created_at__year=2020",
    ):
        assert client.get(url + query).status_code == 200, query
    assert "Payout to Bisi Adewale" in text(client.get(url + "?q=Bisi"))
    assert "Payout to Bisi Adewale" not in text(client.get(url + "?q=Nobody"))
    assert client.get(reverse("admin:approvals_approvalrequest_add")).status_code == 403
    # the change page is the decision page
    change = client.get(reverse("admin:approvals_approvalrequest_change", args=[two_level.pk]))
    assert change["Location"] == decide_url(two_level)
    # auditors read; the decision page tells them why they cannot decide
    assert login(auditor).get(url).status_code == 200
    assert 'id="appr-approve"' not in text(login(auditor).get(decide_url(two_level)))


def test_a_requester_lists_only_their_own_requests(login, teller, accountant, two_level, ask, other_branch):
    ask("5.00", subject=other_branch, requested_by=accountant, title="Accountant's own")
    page = text(login(teller).get(reverse("admin:approvals_approvalrequest_changelist")))
    assert "Payout to Bisi Adewale" in page
    assert "Accountant&#x27;s own" not in page
    assert "Accountant's own" not in page


# --- policies ---------------------------------------------------------------------------------------


def policy_form(**overrides) -> dict:
    data = {
        "action_type": TEST_ACTION,
        "branch": "",
        "product_ref": "",
        "min_amount": "0",
        "max_amount": "",
        "active": "on",
        "remind_after_hours": "24",
        "timeout_after_hours": "72",
        "on_timeout": "ESCALATE",
        "escalation_roles": ["ADMIN"],
        "levels-TOTAL_FORMS": "1",
        "levels-INITIAL_FORMS": "0",
        "levels-MIN_NUM_FORMS": "1",
        "levels-MAX_NUM_FORMS": "1000",
        "levels-0-order": "1",
        "levels-0-roles": ["MANAGER"],
        "levels-0-required_approvals": "1",
    }
    data.update(overrides)
    return data


ADD = "admin:approvals_approvalpolicy_add"


def test_a_valid_band_with_levels_is_saved(login, admin_user):
    client = login(admin_user)
    form_page = text(client.get(reverse(ADD)))
    assert "CREDIT_COMMITTEE" in form_page  # the roles are a multi-select
    assert "Loan approval" in form_page  # known action types are offered before their domain registers
    response = client.post(reverse(ADD), policy_form())
    assert response.status_code == 302, text(response)[:2000]
    policy = ApprovalPolicy.objects.get(action_type=TEST_ACTION)
    assert [(lvl.roles, lvl.required_approvals) for lvl in policy.levels.all()] == [(["MANAGER"], 1)]
    change = client.get(reverse("admin:approvals_approvalpolicy_change", args=[policy.pk]))
    assert change.status_code == 200
    assert client.get(reverse("admin:approvals_approvalpolicy_changelist")).status_code == 200


@pytest.mark.parametrize(
    ("existing", "new", "message"),
    [
        (("0", None), ("500000", ""), "Bands overlap"),
        (("0", "100000"), ("200000", ""), "Gap between ₦100,000.00 and ₦200,000.00"),
        (None, ("0", "100000"), "leave its upper limit empty"),
    ],
)
def test_overlapping_gapping_or_closed_bands_are_form_errors(login, admin_user, existing, new, message):
    if existing:
        make_policy([(["MANAGER"], 1)], low=existing[0], high=existing[1])
    before = ApprovalPolicy.objects.count()
    response = login(admin_user).post(reverse(ADD), policy_form(min_amount=new[0], max_amount=new[1]))
    assert response.status_code == 200
    assert message in text(response)
    assert ApprovalPolicy.objects.count() == before


def test_levels_must_exist_have_distinct_orders_and_at_least_one_approval(login, admin_user):
    client = login(admin_user)
    no_levels = policy_form(**{"levels-TOTAL_FORMS": "0"})
    assert "A band needs at least one approval level." in text(client.post(reverse(ADD), no_levels))
    twice = policy_form(
        **{
            "levels-TOTAL_FORMS": "2",
            "levels-1-order": "1",
            "levels-1-roles": ["ADMIN"],
            "levels-1-required_approvals": "1",
        }
    )
    assert "Each level needs its own order number" in text(client.post(reverse(ADD), twice))
    zero = policy_form(**{"levels-0-required_approvals": "0"})
    assert "At least one approval is needed per level." in text(client.post(reverse(ADD), zero))
    no_roles = policy_form(**{"levels-0-roles": []})
    assert "This field is required." in text(client.post(reverse(ADD), no_roles))
    bad_type = policy_form(action_type="teleport")
    assert "Select a valid choice" in text(client.post(reverse(ADD), bad_type))
    assert not ApprovalPolicy.objects.filter(action_type=TEST_ACTION).exists()


def test_switching_off_a_middle_band_would_leave_a_gap(login, admin_user):
    low = make_policy([(["MANAGER"], 1)], low="0", high="100")
    middle = make_policy([(["MANAGER"], 1)], low="100", high="200")
    make_policy([(["MANAGER"], 1)], low="200")
    level = middle.levels.get()
    data = policy_form(
        min_amount="100",
        max_amount="200",
        active="",
        **{
            "levels-INITIAL_FORMS": "1",
            "levels-0-id": str(level.pk),
            "levels-0-policy": str(middle.pk),
        },
    )
    data.pop("active")
    response = login(admin_user).post(
        reverse("admin:approvals_approvalpolicy_change", args=[middle.pk]), data
    )
    assert response.status_code == 200
    assert "Without this band: Gap between ₦100.00 and ₦200.00" in text(response)
    middle.refresh_from_db()
    assert middle.active
    assert low.active


def changelist_data(rows) -> dict:
    data = {
        "form-TOTAL_FORMS": str(len(rows)),
        "form-INITIAL_FORMS": str(len(rows)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, (policy, low, high) in enumerate(rows):
        data[f"form-{index}-id"] = str(policy.pk)
        data[f"form-{index}-min_amount"] = low
        data[f"form-{index}-max_amount"] = high
        data[f"form-{index}-active"] = "on"
    return data


def test_moving_a_boundary_edits_both_bands_on_the_list_page_at_once(login, admin_user):
    lower = make_policy([(["MANAGER"], 1)], low="0", high="500000")
    upper = make_policy([(["MANAGER"], 1)], low="500000")
    url = reverse("admin:approvals_approvalpolicy_changelist") + f"?action_type={TEST_ACTION}"
    client = login(admin_user)
    # one band alone would overlap: a clear error, nothing saved
    response = client.post(url, changelist_data([(lower, "0", "1000000"), (upper, "500000", "")]))
    assert response.status_code == 200
    assert "Bands overlap" in text(response)
    lower.refresh_from_db()
    assert lower.max_amount == D("500000")
    # both together are fine
    response = client.post(url, changelist_data([(lower, "0", "1000000"), (upper, "1000000", "")]))
    assert response.status_code == 302, text(response)[:3000]
    lower.refresh_from_db()
    upper.refresh_from_db()
    assert (lower.max_amount, upper.min_amount) == (D("1000000"), D("1000000"))


def test_policies_cannot_be_deleted_and_managers_only_read_them(login, admin_user, manager):
    policy = make_policy([(["MANAGER"], 1)])
    delete = reverse("admin:approvals_approvalpolicy_delete", args=[policy.pk])
    assert login(admin_user).post(delete, {"post": "yes"}).status_code == 403
    assert ApprovalPolicy.objects.filter(pk=policy.pk).exists()
    client = login(manager)
    assert client.get(reverse("admin:approvals_approvalpolicy_changelist")).status_code == 200
    assert client.post(reverse(ADD), policy_form()).status_code == 403
    assert not ApprovalLevel.objects.filter(policy__action_type=TEST_ACTION).exclude(policy=policy).exists()


def test_a_product_band_offers_the_registered_products_and_refuses_others(login, admin_user):
    from tests.approvals.factories import register_test_action

    register_test_action(product_choices=lambda: [("P-STD", "Standard loan"), ("P-EMG", "Emergency loan")])
    client = login(admin_user)
    assert "Emergency loan" in text(client.get(reverse(ADD)))
    assert client.post(reverse(ADD), policy_form(product_ref="P-EMG")).status_code == 302
    assert ApprovalPolicy.objects.get(action_type=TEST_ACTION).product_ref == "P-EMG"
    response = client.post(reverse(ADD), policy_form(product_ref="P-NOPE"))
    assert "Select a valid choice" in text(response)


def test_a_forged_approver_field_is_ignored_the_signed_in_person_decides(login, teller, manager, ask):
    make_policy([(["MANAGER"], 1)])
    request = ask("10.00")
    response = login(teller).post(decide_url(request), {"decision": "APPROVED", "approver": str(manager.pk)})
    assert response.status_code == 403
    assert not Approval.objects.exists()


def test_a_branch_band_is_its_own_scope(login, admin_user, branch):
    # given a global band from zero
    make_policy([(["MANAGER"], 1)], low="0")
    # when a branch adds its own band starting elsewhere, it does not overlap the global one
    response = login(admin_user).post(reverse(ADD), policy_form(branch=str(branch.pk), min_amount="200000"))
    assert response.status_code == 302, text(response)[:2000]
    # but a second open band in the same branch scope does
    response = login(admin_user).post(reverse(ADD), policy_form(branch=str(branch.pk), min_amount="300000"))
    assert f"Test payout for {branch}, all products: Bands overlap" in text(response)


def test_staff_who_cannot_see_approvals_get_no_badge(login, make_staff, branch):
    partner = make_staff("PARTNER", branch, email="partner@test.ng")
    response = login(partner).get(reverse("admin:index"))
    assert response.status_code == 200
    assert 'id="user-tools"' in text(response)
    assert "coop-header-badge" not in text(response)
