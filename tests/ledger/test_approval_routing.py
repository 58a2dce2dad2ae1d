"""The ledger's sensitive actions through approvals: withdrawals and transfers above the policy band,
closures of accounts that hold money, reversals (ledger/approval_actions.py), at the service level."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals.exceptions import NotPermitted, SelfApprovalForbidden, SubjectPendingApproval
from approvals.models import Approval, ApprovalPolicy, ApprovalRequest
from approvals.selectors import policies_changed
from approvals.services import cancel_approval_request, decide_approval, handle_timeouts
from cooperative.exceptions import Conflict
from ledger import approval_actions, services
from ledger.exceptions import (
    AccountNotActive,
    AccountNotEmpty,
    AlreadyReversed,
    InsufficientFunds,
)
from ledger.exceptions import (
    NotPermitted as LedgerNotPermitted,
)
from ledger.models import Account, AccountType, Hold, JournalEntry, PostingRequest, Transaction
from ledger.services import Pending
from ledger.services._direct import post_withdrawal
from tests.ledger.factories import fund_till, make_account, make_member

pytestmark = pytest.mark.django_db
D = Decimal
Status = ApprovalRequest.Status


def withdraw(account, amount, teller, **kwargs):
    return services.withdraw(
        account_id=account.pk, amount=D(amount), actor=teller, description="School fees", **kwargs
    )


def approve(pending: Pending, actor):
    return decide_approval(request_id=pending.approval_request.pk, actor=actor, decision="APPROVED")


def withdrawals_of(account) -> int:
    return JournalEntry.objects.filter(kind=JournalEntry.Kind.WITHDRAWAL, legs__account=account).count()


@pytest.fixture
def rich(branch, teller):
    account = make_account(branch, balance="2000000.00")
    fund_till(branch, teller, "2000000.00")  # the teller's till can pay it all out
    return account


# --- withdrawals ---------------------------------------------------------------------------------


def test_withdrawal_up_to_the_threshold_posts_at_once(rich, teller):
    entry = withdraw(rich, "500000.00", teller)
    assert isinstance(entry, JournalEntry)
    rich.refresh_from_db()
    assert (rich.balance, rich.held_amount) == (D("1500000.00"), D("0.00"))
    assert not PostingRequest.objects.exists()
    assert not ApprovalRequest.objects.exists()


def test_withdrawal_above_the_threshold_waits_with_the_money_reserved(rich, teller, branch):
    # when a teller pays out one kobo above the band
    pending = withdraw(rich, "500000.01", teller, channel="bank", idempotency_key="t:1")

    # then nothing is posted, the amount is held, and a manager's approval is asked for
    assert isinstance(pending, Pending)
    posting = pending.posting_request
    assert (posting.kind, posting.status, posting.amount, posting.channel) == (
        PostingRequest.Kind.WITHDRAWAL,
        PostingRequest.Status.PENDING,
        D("500000.01"),
        "bank",
    )
    rich.refresh_from_db()
    assert (rich.balance, rich.held_amount, rich.available_balance) == (
        D("2000000.00"),
        D("500000.01"),
        D("1499999.99"),
    )
    assert posting.hold.status == Hold.Status.ACTIVE
    approval = pending.approval_request
    assert (approval.action_type, approval.status, approval.branch_id, approval.amount) == (
        "withdrawal",
        Status.PENDING,
        branch.pk,
        D("500000.01"),
    )
    assert approval.subject == posting
    assert approval.approver_roles == ["MANAGER"]
    assert withdrawals_of(rich) == 0
    assert pending.as_data()["status"] == "PENDING_APPROVAL"


def test_approval_posts_the_withdrawal_once_as_the_requester(rich, teller, manager):
    pending = withdraw(rich, "600000.00", teller)

    approved = approve(pending, manager)

    # then exactly the asked withdrawal is posted, by the teller, and the hold is consumed
    posting = PostingRequest.objects.get(pk=pending.posting_request.pk)
    assert posting.status == PostingRequest.Status.POSTED
    entry = posting.entry
    assert (entry.kind, entry.posted_by, entry.idempotency_key) == (
        JournalEntry.Kind.WITHDRAWAL,
        teller,
        f"posting-request:{posting.pk}",
    )
    assert approved.transaction == entry
    rich.refresh_from_db()
    assert (rich.balance, rich.held_amount) == (D("1400000.00"), D("0.00"))
    assert Hold.objects.get(pk=posting.hold_id).status == Hold.Status.RELEASED
    # a retried callback (e.g. redelivered) never posts twice
    approval_actions.on_posting_approved(approved, manager)
    assert withdrawals_of(rich) == 1
    rich.refresh_from_db()
    assert rich.balance == D("1400000.00")


def test_nobody_approves_their_own_or_outside_their_role_or_branch(rich, teller, make_staff, other_branch):
    pending = withdraw(rich, "600000.00", teller)
    request_id = pending.approval_request.pk
    with pytest.raises(SelfApprovalForbidden):
        decide_approval(request_id=request_id, actor=teller, decision="APPROVED")
    with pytest.raises(NotPermitted):
        decide_approval(request_id=request_id, actor=make_staff("TELLER", rich.branch), decision="APPROVED")
    with pytest.raises(NotPermitted):
        decide_approval(request_id=request_id, actor=make_staff("MANAGER", other_branch), decision="APPROVED")
    assert not Approval.objects.exists()
    assert withdrawals_of(rich) == 0


def test_a_refusal_at_approval_time_rolls_the_decision_back(rich, teller, manager):
    # given a waiting withdrawal whose account is frozen meanwhile
    pending = withdraw(rich, "600000.00", teller)
    services.freeze_account(account_id=rich.pk, reason="Fraud check")

    # when the manager approves, the posting is refused and the manager hears why
    with pytest.raises(AccountNotActive):
        approve(pending, manager)

    # then nothing was decided: the request still waits, the money is still reserved
    approval = ApprovalRequest.objects.get(pk=pending.approval_request.pk)
    assert approval.status == Status.PENDING
    assert not Approval.objects.exists()
    posting = PostingRequest.objects.get(pk=pending.posting_request.pk)
    assert posting.status == PostingRequest.Status.PENDING
    rich.refresh_from_db()
    assert (rich.balance, rich.held_amount) == (D("2000000.00"), D("600000.00"))
    assert withdrawals_of(rich) == 0
    # and the manager can still reject it, which releases the money
    decide_approval(request_id=approval.pk, actor=manager, decision="REJECTED", comment="Account frozen")
    rich.refresh_from_db()
    assert rich.held_amount == D("0.00")


def test_a_requester_who_lost_the_permission_is_refused_at_approval(rich, teller, manager):
    pending = withdraw(rich, "600000.00", teller)
    teller.groups.clear()
    teller = type(teller).objects.get(pk=teller.pk)
    with pytest.raises(LedgerNotPermitted):
        approve(pending, manager)
    assert ApprovalRequest.objects.get(pk=pending.approval_request.pk).status == Status.PENDING


def test_rejection_releases_the_hold(rich, teller, manager):
    pending = withdraw(rich, "600000.00", teller)
    decide_approval(
        request_id=pending.approval_request.pk, actor=manager, decision="REJECTED", comment="No ID"
    )
    posting = PostingRequest.objects.get(pk=pending.posting_request.pk)
    assert posting.status == PostingRequest.Status.REJECTED
    assert Hold.objects.get(pk=posting.hold_id).status == Hold.Status.RELEASED
    rich.refresh_from_db()
    assert (rich.balance, rich.held_amount) == (D("2000000.00"), D("0.00"))
    assert withdrawals_of(rich) == 0


def test_cancelling_releases_the_hold(rich, teller):
    pending = withdraw(rich, "600000.00", teller)
    cancel_approval_request(request_id=pending.approval_request.pk, actor=teller, reason="Member left")
    posting = PostingRequest.objects.get(pk=pending.posting_request.pk)
    assert posting.status == PostingRequest.Status.CANCELLED
    rich.refresh_from_db()
    assert rich.held_amount == D("0.00")


def test_expiry_releases_the_hold(rich, teller):
    ApprovalPolicy.objects.filter(action_type="withdrawal").update(
        on_timeout="EXPIRE", timeout_after_hours=48
    )
    policies_changed()
    pending = withdraw(rich, "600000.00", teller)
    counts = handle_timeouts(now=timezone.now() + timedelta(hours=49))
    assert counts["expired"] == 1
    posting = PostingRequest.objects.get(pk=pending.posting_request.pk)
    assert posting.status == PostingRequest.Status.EXPIRED
    rich.refresh_from_db()
    assert rich.held_amount == D("0.00")


def test_a_request_beyond_the_available_balance_is_refused_at_once(branch, teller):
    account = make_account(branch, balance="700000.00")
    services.place_hold(account_id=account.pk, amount=D("150000.00"), reason="Guarantor pledge")
    with pytest.raises(InsufficientFunds):
        withdraw(account, "600000.00", teller)
    assert not PostingRequest.objects.exists()
    assert not ApprovalRequest.objects.exists()
    account.refresh_from_db()
    assert account.held_amount == D("150000.00")


def test_the_same_key_twice_asks_once(rich, teller):
    first = withdraw(rich, "600000.00", teller, idempotency_key="admin:abc")
    second = withdraw(rich, "600000.00", teller, idempotency_key="admin:abc")
    assert second.posting_request.pk == first.posting_request.pk
    assert second.approval_request.pk == first.approval_request.pk
    assert PostingRequest.objects.count() == 1
    rich.refresh_from_db()
    assert rich.held_amount == D("600000.00")


def test_a_branch_band_lowers_the_threshold_for_that_branch_only(branch, other_branch, teller, make_staff):
    from tests.approvals.factories import make_policy

    make_policy([(["MANAGER"], 1)], action_type="withdrawal", low="100000", branch=branch)
    policies_changed()
    ours = make_account(branch, balance="300000.00")
    theirs = make_account(other_branch, balance="300000.00")
    their_teller = make_staff("TELLER", other_branch)
    fund_till(other_branch, their_teller, "300000.00")
    assert isinstance(withdraw(ours, "150000.00", teller), Pending)
    assert isinstance(withdraw(theirs, "150000.00", their_teller), JournalEntry)


def test_the_requester_needs_the_posting_permission(rich, manager):
    # a manager may approve withdrawals but does not post them
    with pytest.raises(LedgerNotPermitted):
        withdraw(rich, "600000.00", manager)
    assert not PostingRequest.objects.exists()


# --- transfers -----------------------------------------------------------------------------------


def test_transfers_wait_above_their_band_and_post_once_on_approval(rich, branch, teller, manager):
    target = make_account(branch, account_type=AccountType.SHARES, member=rich.member)
    at_the_band = services.transfer(
        from_account_id=rich.pk, to_account_id=target.pk, amount=D("1000000.00"), actor=teller
    )
    assert isinstance(at_the_band, JournalEntry)

    pending = services.transfer(
        from_account_id=rich.pk, to_account_id=target.pk, amount=D("900000.00"), actor=teller
    )
    assert isinstance(pending, JournalEntry)  # below the band
    rich.refresh_from_db()
    assert rich.balance == D("100000.00")

    services.deposit(account_id=rich.pk, amount=D("1500000.00"))
    pending = services.transfer(
        from_account_id=rich.pk, to_account_id=target.pk, amount=D("1000000.01"), actor=teller
    )
    assert isinstance(pending, Pending)
    assert pending.posting_request.to_account == target
    rich.refresh_from_db()
    assert (rich.balance, rich.held_amount) == (D("1600000.00"), D("1000000.01"))

    approve(pending, manager)
    rich.refresh_from_db()
    target.refresh_from_db()
    assert (rich.balance, rich.held_amount) == (D("599999.99"), D("0.00"))
    assert target.balance == D("2900000.01")
    transfers = JournalEntry.objects.filter(kind=JournalEntry.Kind.TRANSFER)
    assert transfers.count() == 3
    assert transfers.filter(idempotency_key=f"posting-request:{pending.posting_request.pk}").count() == 1


def test_a_transfer_to_a_closed_account_is_refused_when_asked(rich, branch, teller):
    target = make_account(branch, account_type=AccountType.CASH, member=rich.member)
    services.close_account(account_id=target.pk, reason="Not used")
    with pytest.raises(AccountNotActive):
        services.transfer(
            from_account_id=rich.pk, to_account_id=target.pk, amount=D("1500000.00"), actor=teller
        )
    assert not PostingRequest.objects.exists()


# --- account closures ----------------------------------------------------------------------------


def close(account, manager, sweep=None):
    return services.close_account(
        account_id=account.pk,
        reason="Member request",
        actor=manager,
        sweep_to_account_id=sweep.pk if sweep else None,
    )


def test_an_empty_account_closes_at_once(branch, manager):
    account = make_account(branch)
    result = close(account, manager)
    assert isinstance(result, Account)
    assert result.status == Account.Status.CLOSED
    assert not ApprovalRequest.objects.exists()


def test_closing_an_account_with_money_waits_and_blocks_other_changes(branch, manager, manager2):
    member = make_member(branch)
    funded = make_account(branch, member=member, account_type=AccountType.SHARES, balance="1500.00")
    savings = make_account(branch, member=member, balance="100.00")

    pending = close(funded, manager, sweep=savings)
    assert isinstance(pending, Pending)
    assert (pending.approval_request.action_type, pending.approval_request.amount) == (
        "account_closure",
        D("1500.00"),
    )
    funded.refresh_from_db()
    assert funded.status == Account.Status.ACTIVE

    # while it waits, a second closure request is refused (409)
    with pytest.raises(SubjectPendingApproval):
        close(funded, manager2, sweep=savings)

    # and so is a freeze, which would make the approved closure fail
    with pytest.raises(SubjectPendingApproval):
        services.freeze_account(account_id=funded.pk, reason="Dispute", actor=manager2)
    funded.refresh_from_db()
    assert funded.status == Account.Status.ACTIVE

    # the approver does it: one sweep entry, then closed
    approved = approve(pending, manager2)
    funded.refresh_from_db()
    savings.refresh_from_db()
    assert (funded.status, funded.balance, savings.balance) == (
        Account.Status.CLOSED,
        D("0.00"),
        D("1600.00"),
    )
    assert approved.transaction.kind == JournalEntry.Kind.SWEEP


def test_a_closure_whose_balance_moved_is_refused_on_approval(branch, manager, manager2):
    member = make_member(branch)
    funded = make_account(branch, member=member, account_type=AccountType.SHARES, balance="1500.00")
    savings = make_account(branch, member=member)
    pending = close(funded, manager, sweep=savings)
    services.deposit(account_id=funded.pk, amount=D("10.00"))
    with pytest.raises(Conflict, match="reject it and ask again"):
        approve(pending, manager2)
    funded.refresh_from_db()
    assert (funded.status, funded.balance) == (Account.Status.ACTIVE, D("1510.00"))
    assert ApprovalRequest.objects.get(pk=pending.approval_request.pk).status == Status.PENDING


def test_a_closure_needs_a_sweep_account_when_asked(branch, manager):
    funded = make_account(branch, balance="1500.00")
    with pytest.raises(AccountNotEmpty):
        close(funded, manager)
    assert not ApprovalRequest.objects.exists()


# --- reversals -----------------------------------------------------------------------------------


def test_a_reversal_waits_for_a_manager_and_posts_as_the_requester(branch, accountant, manager):
    account = make_account(branch, balance="2500.00")
    entry = Transaction.objects.get(account=account).entry

    pending = services.reverse_entry(entry_id=entry.pk, reason="Wrong member", actor=accountant)
    assert isinstance(pending, Pending)
    assert pending.approval_request.amount == D("2500.00")
    # a second request for the same entry is refused while the first waits
    with pytest.raises(SubjectPendingApproval):
        services.reverse_entry(entry_id=entry.pk, reason="Again", actor=accountant)
    # the requester cannot approve it
    with pytest.raises(SelfApprovalForbidden):
        approve(pending, accountant)

    # the manager (who holds no ledger.reverse_transaction) approves: the requester's right counts
    assert not manager.has_perm("ledger.reverse_transaction")
    approved = approve(pending, manager)
    mirror = JournalEntry.objects.get(reverses=entry)
    assert (mirror.posted_by, mirror.reversal_reason, approved.transaction) == (
        accountant,
        "Wrong member",
        mirror,
    )
    account.refresh_from_db()
    assert account.balance == D("0.00")
    with pytest.raises(AlreadyReversed):
        services.reverse_entry(entry_id=entry.pk, reason="Again", actor=accountant)


def test_asking_for_a_reversal_needs_the_permission(branch, teller):
    account = make_account(branch, balance="2500.00")
    entry = Transaction.objects.get(account=account).entry
    with pytest.raises(LedgerNotPermitted):
        services.reverse_entry(entry_id=entry.pk, reason="Wrong member", actor=teller)
    assert not ApprovalRequest.objects.exists()


def test_internal_reversals_stay_direct(branch):
    account = make_account(branch, balance="2500.00")
    entry = Transaction.objects.get(account=account).entry
    mirror = services.reverse_entry(entry_id=entry.pk, reason="System correction")
    assert mirror.reverses == entry
    assert not ApprovalRequest.objects.exists()


def test_the_gate_costs_no_query_below_the_band(rich, teller):
    # with the policy table cached, a routed withdrawal below the band makes the queries of a direct
    # one plus one cache look-up (the gate on the locked row), never a policy query
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from approvals.selectors import approval_required

    approval_required(action_type="withdrawal", amount=D("1.00"), branch_id=rich.branch_id)  # warm
    post_withdrawal(account_id=rich.pk, amount=D("10.00"), actor=teller)  # warm the rest
    with CaptureQueriesContext(connection) as direct:
        post_withdrawal(account_id=rich.pk, amount=D("10.00"), actor=teller)
    with CaptureQueriesContext(connection) as routed:
        withdraw(rich, "10.00", teller)
    from django.conf import settings

    if settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache"):
        # the one addition is the policy cache's round trip, a query on the database cache
        assert len(routed.captured_queries) == len(direct.captured_queries) + 1
        assert sum("approvals:policy-version" in q["sql"] for q in routed.captured_queries) == 1
    else:  # Redis (CI, production): the cache look-up is no SQL at all
        assert len(routed.captured_queries) == len(direct.captured_queries)
    assert not any("approvals_approvalpolicy" in q["sql"] for q in routed.captured_queries)


# --- the one public function per money use case is the safe one ---------------------------------


def test_the_ledgers_public_money_functions_route_through_the_approval_policy(
    rich, branch, teller, manager, accountant
):
    # ledger.services.withdraw/transfer/close_account/reverse_entry are the entry points other
    # apps and new callers trust; above the band each files its request and posts nothing
    # (they used to post at once, skipping the policy the API and the admin applied)
    target = make_account(branch, account_type=AccountType.CASH, member=rich.member)
    shares = make_account(branch, account_type=AccountType.SHARES, member=rich.member, balance="1500.00")
    before = JournalEntry.objects.count()

    withdrawal = services.withdraw(account_id=rich.pk, amount=D("750000.00"), actor=teller)
    transfer = services.transfer(
        from_account_id=rich.pk, to_account_id=target.pk, amount=D("1000000.01"), actor=teller
    )
    closure = services.close_account(
        account_id=shares.pk, reason="Member request", actor=manager, sweep_to_account_id=target.pk
    )
    entry = Transaction.objects.filter(account=rich).earliest("created_at").entry
    reversal = services.reverse_entry(entry_id=entry.pk, reason="Wrong member", actor=accountant)

    assert [type(result) for result in (withdrawal, transfer, closure, reversal)] == [Pending] * 4
    assert [result.approval_request.action_type for result in (withdrawal, transfer, closure, reversal)] == [
        "withdrawal",
        "transfer",
        "account_closure",
        "reversal",
    ]
    assert JournalEntry.objects.count() == before
    rich.refresh_from_db()
    assert (rich.balance, rich.held_amount, rich.status) == (D("2000000.00"), D("1750000.01"), "ACTIVE")
    shares.refresh_from_db()
    assert (shares.balance, shares.status) == (D("1500.00"), "ACTIVE")
