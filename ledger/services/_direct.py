"""Postings made as asked, with no approval routing. Private to the ledger.

The public money functions of `ledger.services` (deposit, withdraw, transfer, close_account,
reverse_entry)
are the safe ones: they route through the approval policy and call these only when no approval is
needed (below the band, or the system acting); `ledger.approval_actions` calls them once a request
is approved, as the requester. Nothing else may: a caller here skips the four-eyes rule. Every
other rule (permission, branch, balance, limits, till cash) is still checked by `post_entry`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from cooperative.exceptions import Conflict, ValidationFailed
from cooperative.models import User
from cooperative.permissions import can_see_row

from .. import kyc
from ..exceptions import AccountNotEmpty, AccountNotFound, AccountNotVisible, AlreadyReversed
from ..lock_objects import BranchGL, accounts_for_update
from ..models import Account, JournalEntry, Side
from ..posting_sql import CompanionRow
from ._common import (
    DEPOSIT_ACCOUNT_TYPES,
    as_uuid,
    counter_gl_code,
    member_deposit_account,
    require,
    set_status,
)
from .gl_accounts import till_teller_of
from .posting import Line, post_entry


def member_account_guard(
    *member_account_ids,
    actor: User | None,
    perm: str,
    expected_branch_id: uuid.UUID | None = None,
    visible_to: User | None = None,
    gate=None,
) -> Callable[[dict], None]:
    """Checks run on the locked rows: visibility, member deposit accounts, permission, branch.

    `visible_to` (a user): the first account must be a member account that user can see (their
    branches, `view_all_branches`, or a guardian grant), else `AccountNotVisible`, which the API
    answers exactly like an unknown id."""
    member_account_ids = tuple(as_uuid(account_id) for account_id in member_account_ids)

    def guard(locked: dict) -> None:
        if visible_to is not None:
            first = locked[member_account_ids[0]]
            if first.member_id is None or not can_see_row(visible_to, Account, first.pk, first.branch_id):
                raise AccountNotVisible(member_account_ids[0])
        if expected_branch_id is not None and locked[member_account_ids[0]].branch_id != expected_branch_id:
            raise ValidationFailed("The account does not belong to the given branch.")
        for account_id in member_account_ids:
            account = locked[account_id]
            if account.type not in DEPOSIT_ACCOUNT_TYPES:
                raise ValidationFailed(
                    f"Account {account.account_number} is not a member savings, shares or cash account."
                )
        authorising = locked[member_account_ids[0]]
        require(actor, perm, authorising.branch_id)
        if gate is not None:  # e.g. "does this need approval?" (posting_requests), last
            gate(authorising)

    return guard


def counter_movement(
    *,
    kind: str,
    member_side: str,
    account_id: uuid.UUID,
    amount,
    actor: User | None,
    description,
    channel,
    idempotency_key,
    value_date,
    branch_id,
    visible_to,
    companion,
    default_narration: str,
    gate=None,
) -> JournalEntry:
    """Money between a member's account and its branch's teller cash (or bank) GL account.

    Cash handled by a staff member goes through their own till in the member's branch (opened on
    first use), so two tellers' postings never wait for each other's lock; cash posted by the
    system goes through the branch's vault. Both rows are locked by one read (the GL account found
    through the member account's branch, `BranchGL`); every check runs on the locked rows."""
    account_id = as_uuid(account_id)
    counter = BranchGL(counter_gl_code(channel), of=account_id, till_teller=till_teller_of(actor, channel))
    counter_side = Side.CREDIT if member_side == Side.DEBIT else Side.DEBIT
    member_line = Line(account_id, member_side, amount, description)
    counter_line = Line(counter, counter_side, amount, description)
    return post_entry(
        kind=kind,
        # Debit leg first, so statements and the API list legs in the usual order.
        lines=[member_line, counter_line] if member_side == Side.DEBIT else [counter_line, member_line],
        narration=description or default_narration,
        actor=actor,
        branch_id=branch_id,
        idempotency_key=idempotency_key,
        value_date=value_date,
        companion=companion,
        guard=member_account_guard(
            account_id,
            actor=actor,
            perm="ledger.post_transaction",
            expected_branch_id=branch_id,
            visible_to=visible_to,
            gate=gate,
        ),
    )


def between_two_accounts(
    *, kind, debit_id, credit_id, amount, description, narration, actor: User | None, idempotency_key, guard
) -> JournalEntry:
    return post_entry(
        kind=kind,
        lines=[
            Line(debit_id, Side.DEBIT, amount, description),
            Line(credit_id, Side.CREDIT, amount, description),
        ],
        narration=narration,
        actor=actor,
        idempotency_key=idempotency_key,
        guard=guard,
    )


def post_deposit(
    *,
    account_id: uuid.UUID,
    amount: Decimal,
    actor: User | None = None,
    description: str = "",
    channel: str = "cash",
    idempotency_key: str | None = None,
    value_date: date | None = None,
    branch_id: uuid.UUID | None = None,
    visible_to: User | None = None,
    companion: CompanionRow | None = None,
    approval_gate: Callable[[Account], None] | None = None,
) -> JournalEntry:
    """Member pays in: debit teller cash (or bank), credit the member's account.

    The member's KYC tier limits are checked on the locked account first (`ledger.kyc`), then
    `approval_gate` (see `post_withdrawal`; the safe `deposit` routes a cash deposit above the
    deposit band to an approval that way)."""

    def checks(account: Account) -> None:
        kyc.check_deposit(account, amount)
        if approval_gate is not None:
            approval_gate(account)

    return counter_movement(
        kind=JournalEntry.Kind.DEPOSIT,
        member_side=Side.CREDIT,
        account_id=account_id,
        amount=amount,
        actor=actor,
        description=description,
        channel=channel,
        idempotency_key=idempotency_key,
        value_date=value_date,
        branch_id=branch_id,
        visible_to=visible_to,
        companion=companion,
        default_narration="Deposit",
        gate=checks,
    )


def post_withdrawal(
    *,
    account_id: uuid.UUID,
    amount: Decimal,
    actor: User | None = None,
    description: str = "",
    channel: str = "cash",
    idempotency_key: str | None = None,
    value_date: date | None = None,
    branch_id: uuid.UUID | None = None,
    visible_to: User | None = None,
    companion: CompanionRow | None = None,
    approval_gate: Callable[[Account], None] | None = None,
) -> JournalEntry:
    """Member takes out: debit the member's account, credit teller cash (or bank).

    `approval_gate(account)` runs last on the locked member account and may refuse (the safe
    `withdraw` routes a withdrawal above the policy band to an approval that way, at the cost of
    one cache look-up)."""
    return counter_movement(
        kind=JournalEntry.Kind.WITHDRAWAL,
        member_side=Side.DEBIT,
        account_id=account_id,
        amount=amount,
        actor=actor,
        description=description,
        channel=channel,
        idempotency_key=idempotency_key,
        value_date=value_date,
        branch_id=branch_id,
        visible_to=visible_to,
        companion=companion,
        default_narration="Withdrawal",
        gate=approval_gate,
    )


def post_transfer(
    *,
    from_account_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount: Decimal,
    actor: User | None = None,
    description: str = "",
    idempotency_key: str | None = None,
    approval_gate: Callable[[Account], None] | None = None,
) -> JournalEntry:
    """Member to member, same or another branch: one entry, debit source, credit destination.

    The sender's branch authorises; the destination may be any branch's account.
    `approval_gate`: see `post_withdrawal` (runs on the locked paying account).
    """
    if as_uuid(from_account_id) == as_uuid(to_account_id):
        raise ValidationFailed("Choose two different accounts.", field="to_account")
    return between_two_accounts(
        kind=JournalEntry.Kind.TRANSFER,
        debit_id=from_account_id,
        credit_id=to_account_id,
        amount=amount,
        description=description,
        narration=description or "Transfer",
        actor=actor,
        idempotency_key=idempotency_key,
        guard=member_account_guard(
            from_account_id, to_account_id, actor=actor, perm="ledger.transfer_funds", gate=approval_gate
        ),
    )


@transaction.atomic
def close_now(
    *,
    account_id: uuid.UUID,
    reason: str,
    actor: User | None = None,
    sweep_to_account_id: uuid.UUID | None = None,
) -> Account:
    """Close an account. A remaining balance must be swept to another account first (one entry)."""
    account, reason = closable_account(account_id=account_id, reason=reason, actor=actor)
    target = closure_target(account, sweep_to_account_id)
    if target is not None:
        post_entry(
            kind=JournalEntry.Kind.SWEEP,
            lines=[
                Line(account.pk, Side.DEBIT, account.balance, "Closing sweep"),
                Line(target.pk, Side.CREDIT, account.balance, "Closing sweep"),
            ],
            narration=f"Closing sweep {account.account_number} → {target.account_number}",
            actor=actor,
            branch_id=account.branch_id,
        )
    account = accounts_for_update([account_id]).get()
    if account.balance != 0:  # a posting slipped in between: refuse rather than close with money
        raise AccountNotEmpty(f"Account {account.account_number} received money meanwhile; retry.")
    account.closed_at = timezone.now()
    return set_status(account, Account.Status.CLOSED, reason, ["closed_at"])


@transaction.atomic
def post_reversal(*, entry_id: uuid.UUID, reason: str, actor: User | None = None) -> JournalEntry:
    """Post the mirror of an entry (every leg on the other side). Reason required; once per entry."""
    entry, reason = reversible_entry(entry_id=entry_id, reason=reason, actor=actor)
    mirror = [
        Line(
            leg.account_id,
            Side.CREDIT if leg.type == Side.DEBIT else Side.DEBIT,
            leg.amount,
            f"Reversal of {entry.reference}",
        )
        for leg in entry.legs.order_by("pk")
    ]
    return post_entry(
        kind=JournalEntry.Kind.REVERSAL,
        lines=mirror,
        narration=f"Reversal of {entry.reference}: {reason}",
        actor=actor,
        branch_id=entry.branch_id,
        reverses=entry,
        reversal_reason=reason,
    )


# --- the checks the safe functions make too, before they ask for approval -------------------------


def closable_account(*, account_id: uuid.UUID, reason: str, actor: User | None) -> tuple[Account, str]:
    """The account to close (with its member) and the stripped reason; the actor may close it."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason for closing the account.", field="reason")
    account = Account.objects.select_related("member").filter(pk=as_uuid(account_id)).first()
    if account is None:
        raise AccountNotFound("No such account.")
    require(actor, "ledger.close_account", account.branch_id)
    return account, reason


def closure_target(account: Account, sweep_to_account_id: uuid.UUID | None) -> Account | None:
    """The account that takes the closing sweep (None when nothing remains to sweep), or why the
    account cannot be closed: already closed, money on hold, overdrawn, no (valid) sweep account."""
    if account.status == Account.Status.CLOSED:
        raise Conflict(f"Account {account.account_number} is already closed.")
    if account.held_amount:
        raise AccountNotEmpty(
            f"Account {account.account_number} has {account.held_amount} on hold; release the holds first."
        )
    if account.balance < 0:
        raise AccountNotEmpty(f"Account {account.account_number} is overdrawn ({account.balance}).")
    if account.balance == 0:
        return None
    if sweep_to_account_id is None:
        raise AccountNotEmpty(
            f"Account {account.account_number} still holds {account.balance}; choose an account "
            "to sweep it to.",
            field="sweep_to_account",
        )
    target = member_deposit_account(as_uuid(sweep_to_account_id))
    if target.pk == account.pk:
        raise ValidationFailed("Sweep to a different account.", field="sweep_to_account")
    return target


def reversible_entry(*, entry_id: uuid.UUID, reason: str, actor: User | None) -> tuple[JournalEntry, str]:
    """The entry to reverse and the stripped reason: a reason is given, the actor may reverse in the
    entry's branch, the entry is not itself a reversal and was not reversed before."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason for the reversal.", field="reason")
    entry = JournalEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise AccountNotFound("No such journal entry.")
    require(actor, "ledger.reverse_transaction", entry.branch_id)
    if entry.reverses_id is not None:
        raise Conflict(f"Entry {entry.reference} is itself a reversal; post a new entry instead.")
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise AlreadyReversed(f"Entry {entry.reference} has already been reversed.")
    return entry, reason
