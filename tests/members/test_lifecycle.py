from decimal import Decimal

import pytest

from cooperative.exceptions import Conflict, NotAllowed, ValidationFailed
from ledger.models import Account
from members import services
from members.models import Member

pytestmark = pytest.mark.django_db


def _savings(member, balance="0.00", held="0.00", number="1000000019", type_="SAVINGS"):
    return Account.objects.create(
        account_number=number,
        name=f"{member.full_name} savings",
        member=member,
        type=type_,
        normal_balance="CREDIT",
        branch=member.branch,
        balance=Decimal(balance),
        held_amount=Decimal(held),
    )


# --- KYC ----------------------------------------------------------------------------------------------
def test_manager_verifies_kyc_and_the_review_is_recorded(register, manager):
    member = register(bvn="22212345678")
    verified = services.verify_kyc(actor=manager, member_id=member.pk)
    assert verified.kyc_status == Member.KycStatus.VERIFIED
    assert verified.kyc_reviewed_by == manager
    assert verified.kyc_reviewed_at is not None
    assert verified.history.latest().history_change_reason == "KYC verified"


def test_four_eyes_the_person_who_registered_cannot_review(register, make_staff, branch):
    # given a manager who registered the member themselves (managers hold verify_kyc)
    boss = make_staff("MANAGER", branch, email="boss@test.ng")
    boss.user_permissions.add(
        *__import__("django.contrib.auth.models", fromlist=["Permission"]).Permission.objects.filter(
            codename="add_member"
        )
    )
    boss = type(boss).objects.get(pk=boss.pk)
    member = register(actor=boss, bvn="22212345678")
    # when they try to verify it
    with pytest.raises(NotAllowed, match="another colleague"):
        services.verify_kyc(actor=boss, member_id=member.pk)
    # then it stays pending
    assert Member.objects.get(pk=member.pk).kyc_status == Member.KycStatus.PENDING


def test_teller_cannot_decide_kyc(register, teller, make_staff, branch):
    member = register(bvn="22212345678", actor=make_staff("TELLER", branch, email="t2@test.ng"))
    with pytest.raises(NotAllowed, match="permission"):
        services.verify_kyc(actor=teller, member_id=member.pk)


def test_manager_of_another_branch_cannot_decide_kyc(register, make_staff, other_branch):
    member = register(bvn="22212345678")
    with pytest.raises(NotAllowed, match="branch"):
        services.verify_kyc(actor=make_staff("MANAGER", other_branch), member_id=member.pk)


def test_rejecting_kyc_needs_a_reason_which_is_kept(register, manager):
    member = register(bvn="22212345678")
    with pytest.raises(ValidationFailed) as error:
        services.reject_kyc(actor=manager, member_id=member.pk, reason="  ")
    assert error.value.field == "reason"
    rejected = services.reject_kyc(actor=manager, member_id=member.pk, reason="BVN name does not match ID")
    assert rejected.kyc_status == Member.KycStatus.REJECTED
    assert rejected.kyc_rejection_reason == "BVN name does not match ID"


def test_kyc_cannot_be_verified_without_bvn_or_nin(register, manager):
    member = register()
    with pytest.raises(ValidationFailed, match="BVN or NIN"):
        services.verify_kyc(actor=manager, member_id=member.pk)


def test_kyc_decisions_cannot_be_repeated(register, manager):
    member = register(nin="70012345678")
    services.verify_kyc(actor=manager, member_id=member.pk)
    with pytest.raises(Conflict, match="already verified"):
        services.verify_kyc(actor=manager, member_id=member.pk)
    with pytest.raises(Conflict):
        services.reject_kyc(actor=manager, member_id=member.pk, reason="changed my mind")


def test_kyc_needs_a_named_reviewer(register):
    member = register(bvn="22212345678")
    with pytest.raises(NotAllowed):
        services.verify_kyc(actor=None, member_id=member.pk)


# --- status -------------------------------------------------------------------------------------------
def test_status_lifecycle_with_reasons(register, teller):
    member = register()
    dormant = services.change_member_status(
        actor=teller, member_id=member.pk, status="DORMANT", reason="No activity for 12 months"
    )
    assert (dormant.status, dormant.status_reason) == ("DORMANT", "No activity for 12 months")
    assert dormant.status_changed_at is not None
    active = services.change_member_status(actor=teller, member_id=member.pk, status="ACTIVE", reason="Back")
    assert active.status == "ACTIVE"
    assert [h.status for h in Member.history.filter(id=member.pk).order_by("history_date")] == [
        "ACTIVE",
        "DORMANT",
        "ACTIVE",
    ]


@pytest.mark.parametrize(
    ("status", "reason", "error"),
    [("EXITED", "x", ValidationFailed), ("GONE", "x", ValidationFailed), ("DORMANT", "", ValidationFailed)],
)
def test_status_change_refuses_bad_input(register, teller, status, reason, error):
    member = register()
    with pytest.raises(error):
        services.change_member_status(actor=teller, member_id=member.pk, status=status, reason=reason)


def test_status_change_to_the_same_status_is_a_conflict(register, teller):
    member = register()
    with pytest.raises(Conflict, match="already Active"):
        services.change_member_status(actor=teller, member_id=member.pk, status="ACTIVE", reason="x")


# --- exit ---------------------------------------------------------------------------------------------
def test_exit_is_refused_while_an_account_holds_money(register, manager):
    # given a member with 5,000 in savings
    member = register()
    _savings(member, balance="5000.00")
    # when the manager tries to exit them
    with pytest.raises(Conflict) as error:
        services.exit_member(actor=manager, member_id=member.pk, reason="Relocating")
    # then the error names the account and the member stays active
    assert "1000000019" in str(error.value)
    assert "5,000.00" in str(error.value)
    assert Member.objects.get(pk=member.pk).status == Member.Status.ACTIVE


def test_exit_is_refused_while_a_lien_is_held(register, manager):
    member = register()
    _savings(member, balance="0.00", held="100.00")
    with pytest.raises(Conflict, match="held 100.00"):
        services.exit_member(actor=manager, member_id=member.pk, reason="Relocating")


def test_exit_with_zero_balances_keeps_the_record_and_its_accounts(register, manager):
    member = register()
    account = _savings(member, balance="0.00")
    exited = services.exit_member(actor=manager, member_id=member.pk, reason="Relocated to Canada")
    assert exited.status == Member.Status.EXITED
    assert exited.status_reason == "Relocated to Canada"
    assert Account.objects.filter(pk=account.pk, member=member).exists()
    assert member.history.count() == 2


def test_an_exited_members_accounts_are_closed_and_refuse_deposits(register, manager):
    from ledger import services as ledger_services
    from ledger.exceptions import AccountNotActive

    member = register()
    account = _savings(member, balance="0.00")
    services.exit_member(actor=manager, member_id=member.pk, reason="Relocated")
    account.refresh_from_db()
    assert account.status == Account.Status.CLOSED
    assert account.status_reason == "Member exited: Relocated"
    with pytest.raises(AccountNotActive):
        ledger_services.deposit(account_id=account.pk, amount=Decimal("10.00"))


def test_exit_needs_a_reason_and_the_permission(register, teller, manager):
    member = register()
    with pytest.raises(NotAllowed):
        services.exit_member(actor=teller, member_id=member.pk, reason="x")
    with pytest.raises(ValidationFailed) as error:
        services.exit_member(actor=manager, member_id=member.pk, reason="")
    assert error.value.field == "reason"


def test_an_exited_member_cannot_be_changed_or_exited_again(register, teller, manager):
    member = register()
    services.exit_member(actor=manager, member_id=member.pk, reason="Left")
    with pytest.raises(Conflict):
        services.exit_member(actor=manager, member_id=member.pk, reason="Again")
    with pytest.raises(Conflict):
        services.update_member(actor=teller, member_id=member.pk, city="Abuja")
    with pytest.raises(Conflict):
        services.change_member_status(actor=teller, member_id=member.pk, status="ACTIVE", reason="x")
