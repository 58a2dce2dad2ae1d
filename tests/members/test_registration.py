import threading
from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cooperative.exceptions import Conflict, NotAllowed, ValidationFailed
from members import services
from members.models import Member
from tests.factories import BranchFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_registration_gives_consecutive_member_numbers_and_normalises_input(register, teller, branch):
    # when two members are registered
    first = register(email="  Ade.Ogunleye@Example.NG ", bvn="222-1234-5678", nin="70012345678")
    second = register(first_name="Ngozi", last_name="Eze", phone="0905 890 1208")
    # then numbers follow each other and the data is stored the way search expects it
    assert (first.member_number, second.member_number) == ("MEM00001", "MEM00002")
    assert first.phone == "+2348031234567"
    assert first.email == "ade.ogunleye@example.ng"
    assert first.bvn_masked == "*******5678"
    assert first.nin_masked == "*******5678"
    assert "22212345678" not in first.bvn_encrypted
    assert first.status == Member.Status.ACTIVE
    assert first.kyc_status == Member.KycStatus.PENDING
    assert first.created_by == teller
    assert first.branch == branch
    assert first.join_date == timezone.localdate()
    assert first.history.latest().history_change_reason == "registered"


def test_a_failed_registration_does_not_use_up_a_member_number(register):
    register()
    with pytest.raises(Conflict):
        register(first_name="Someone", phone="+2348031234567")
    assert register(first_name="Next", phone="08099999999").member_number == "MEM00002"


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        ({"phone": "0803 123 4567"}, {"phone": "+234-803-123-4567"}, "phone"),
        ({"email": "ade@example.ng"}, {"email": "ADE@Example.NG"}, "email"),
        ({"bvn": "22212345678"}, {"bvn": "222 1234 5678"}, "bvn"),
        ({"nin": "70012345678"}, {"nin": "70012345678"}, "nin"),
    ],
)
def test_the_same_identity_cannot_belong_to_two_members(register, first, second, field):
    # given a registered member
    existing = register(**{"phone": "0803 123 4567", **first})
    # when someone else registers with the same identity (typed differently)
    with pytest.raises(Conflict) as error:
        register(first_name="Other", last_name="Person", **{"phone": "0812 000 0000", **second})
    # then the error names the field and the member who already has it
    assert error.value.field == field
    assert existing.member_number in str(error.value)
    assert Member.objects.count() == 1


def test_an_exited_member_frees_their_phone_email_and_bvn(register, manager):
    # given a member who has exited
    old = register(email="ade@example.ng", bvn="22212345678")
    services.exit_member(actor=manager, member_id=old.pk, reason="Relocated abroad")
    # when a new member registers with the same phone, email and BVN
    new = register(first_name="Tola", email="ade@example.ng", bvn="22212345678")
    # then it works, and the old record is kept
    assert new.member_number == "MEM00002"
    assert Member.objects.get(pk=old.pk).status == Member.Status.EXITED


def test_the_database_also_refuses_duplicates_that_slip_past_the_check(register, monkeypatch):
    # given a member, and a duplicate check that misses (as in a race between two tellers)
    existing = register()
    calls = []
    original = services._check_duplicates

    def miss_once(member):
        if not calls:
            calls.append(1)
            return None
        return original(member)

    monkeypatch.setattr(services, "_check_duplicates", miss_once)
    # when the second registration reaches the insert
    with pytest.raises(Conflict) as error:
        register(first_name="Racer")
    # then the unique constraint answers with the same clear error
    assert existing.member_number in str(error.value)
    assert Member.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"bvn": "1234"}, "bvn"),
        ({"nin": "7001234567X"}, "nin"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.ng"}, "email"),
        ({"first_name": "   "}, "first_name"),
        ({"gender": "X"}, "gender"),
        ({"next_of_kin_phone": "999"}, "next_of_kin_phone"),
        ({"date_of_birth": timezone.localdate() + timedelta(days=1)}, "date_of_birth"),
        ({"date_of_birth": timezone.localdate() - timedelta(days=365 * 10)}, "date_of_birth"),
        ({"date_of_birth": date(1850, 1, 1)}, "date_of_birth"),
        ({"join_date": timezone.localdate() + timedelta(days=3)}, "join_date"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(register, overrides, field):
    with pytest.raises(ValidationFailed) as error:
        register(**overrides)
    assert error.value.field == field
    assert Member.objects.count() == 0


def test_future_date_of_birth_message_is_clear(register):
    with pytest.raises(ValidationFailed, match="cannot be in the future"):
        register(date_of_birth=timezone.localdate() + timedelta(days=1))


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier; 29 February falls back to 28 February in a common year
    (`day.replace(year=...)` alone raises ValueError on a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def test_minimum_age_is_configurable(register, settings):
    settings.MEMBER_MINIMUM_AGE = 18
    with pytest.raises(ValidationFailed, match="at least 18"):
        register(date_of_birth=years_before(timezone.localdate(), 17))


def test_minimum_age_holds_on_29_february(register, settings, monkeypatch):
    # given today is 29 February 2028 (the day the old date arithmetic raised ValueError)
    leap_day = date(2028, 2, 29)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: leap_day)
    settings.MEMBER_MINIMUM_AGE = 18

    # then 17 years ago (28 February 2011) is too young, and 18 years ago is old enough
    with pytest.raises(ValidationFailed, match="at least 18"):
        register(date_of_birth=years_before(leap_day, 17))
    member = register(date_of_birth=years_before(leap_day, 18), join_date=leap_day)
    assert member.date_of_birth == date(2010, 2, 28)


def test_teller_cannot_register_a_member_in_another_branch(register, other_branch):
    with pytest.raises(NotAllowed, match="branch you do not work in"):
        register(branch=other_branch)
    assert Member.objects.count() == 0


def test_staff_without_the_add_permission_cannot_register(register, make_staff, branch):
    accountant = make_staff("ACCOUNTANT", branch)
    with pytest.raises(NotAllowed):
        register(actor=accountant)


def test_inactive_branch_takes_no_new_members(register):
    closed = BranchFactory(code="CL009", name="Closed Branch", status="INACTIVE")
    boss = UserFactory(roles=["ADMIN"], is_superuser=True)
    with pytest.raises(ValidationFailed) as error:
        register(actor=boss, branch=closed)
    assert error.value.field == "branch"


def test_update_normalises_and_checks_duplicates(register, teller):
    # given two members
    ade = register()
    ngozi = register(first_name="Ngozi", last_name="Eze", phone="0905 890 1208")
    # when Ngozi's phone is changed to Ade's (typed another way)
    with pytest.raises(Conflict) as error:
        services.update_member(actor=teller, member_id=ngozi.pk, phone="+234 803 123 4567")
    # then the error names Ade, and a valid change is stored normalised
    assert ade.member_number in str(error.value)
    updated = services.update_member(actor=teller, member_id=ngozi.pk, phone="0805 111 2222", city="Ikeja")
    assert (updated.phone, updated.city) == ("+2348051112222", "Ikeja")


def test_update_refuses_fields_it_does_not_own(register, teller):
    member = register()
    with pytest.raises(ValidationFailed) as error:
        services.update_member(actor=teller, member_id=member.pk, status="EXITED")
    assert error.value.field == "status"


def test_changing_a_verified_members_bvn_sends_kyc_back_to_pending(register, teller, manager):
    member = register(bvn="22212345678")
    services.verify_kyc(actor=manager, member_id=member.pk)
    updated = services.update_member(actor=teller, member_id=member.pk, bvn="22299998888")
    assert updated.kyc_status == Member.KycStatus.PENDING
    assert updated.kyc_reviewed_by is None
    assert updated.bvn_masked == "*******8888"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_get_distinct_member_numbers(roles_restored, branch, teller):
    # given eight tellers pressing "save" at the same instant
    count = 8
    barrier = threading.Barrier(count)
    numbers, errors = [], []

    def work(index):
        try:
            barrier.wait()
            member = services.register_member(
                actor=teller,
                branch=branch,
                first_name=f"Member{index}",
                last_name="Concurrent",
                phone=f"0803 000 {index:04d}",
            )
            numbers.append(member.member_number)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then every registration succeeded with its own number, without gaps
    assert errors == []
    assert sorted(numbers) == [f"MEM{i:05d}" for i in range(1, count + 1)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_the_same_phone_let_exactly_one_through(roles_restored, branch, teller):
    count = 6
    barrier = threading.Barrier(count)
    outcomes = []

    def work(index):
        try:
            barrier.wait()
            services.register_member(
                actor=teller, branch=branch, first_name=f"Twin{index}", last_name="Same", phone="08031234567"
            )
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1
    assert all("already belongs to member MEM00001" in o for o in outcomes if o != "ok")
    assert Member.objects.count() == 1
