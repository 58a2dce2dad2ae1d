"""Money between member accounts, the counter and the branch's cash: deposit, withdraw, transfer,
and cash between a branch's vault and its tills."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from cooperative.exceptions import ValidationFailed
from cooperative.models import User
from cooperative.money import money
from cooperative.permissions import can_see_row

from ..exceptions import AccountNotVisible, InsufficientFunds
from ..lock_objects import BranchGL
from ..models import Account, AccountType, JournalEntry, Side
from ..posting_sql import CompanionRow
from ._common import DEPOSIT_ACCOUNT_TYPES, as_uuid, counter_gl_code, require
from .gl_accounts import till_teller_of
from .posting import Line, post_entry


def _member_account_guard(
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
        if gate is not None:  # e.g. "does this need approval?" (ledger.approval_actions), last
            gate(authorising)

    return guard


def _counter_movement(
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
        guard=_member_account_guard(
            account_id,
            actor=actor,
            perm="ledger.post_transaction",
            expected_branch_id=branch_id,
            visible_to=visible_to,
            gate=gate,
        ),
    )


def deposit(
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
) -> JournalEntry:
    """Member pays in: debit teller cash (or bank), credit the member's account.

    `branch_id`, when given, must be the account's branch (checked on the locked row).
    `visible_to`: see `_member_account_guard` (the API passes the caller). `companion`: see
    `post_entry`."""
    return _counter_movement(
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
    )


def withdraw(
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

    The one entry point for a withdrawal (API and admin): a rule that applies to every
    withdrawal belongs here, before `post_entry` takes its locks. `approval_gate(account)` runs
    last on the locked member account and may refuse (ledger.approval_actions routes withdrawals
    above the policy band to an approval that way, at the cost of one cache look-up)."""
    return _counter_movement(
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


def transfer(
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
    `approval_gate`: see `withdraw` (runs on the locked paying account).
    """
    if as_uuid(from_account_id) == as_uuid(to_account_id):
        raise ValidationFailed("Choose two different accounts.", field="to_account")
    return _between_two_accounts(
        kind=JournalEntry.Kind.TRANSFER,
        debit_id=from_account_id,
        credit_id=to_account_id,
        amount=amount,
        description=description,
        narration=description or "Transfer",
        actor=actor,
        idempotency_key=idempotency_key,
        guard=_member_account_guard(
            from_account_id, to_account_id, actor=actor, perm="ledger.transfer_funds", gate=approval_gate
        ),
    )


def _between_two_accounts(
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


def move_till_cash(
    *,
    from_account_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount: Decimal,
    actor: User | None = None,
    description: str = "",
    idempotency_key: str | None = None,
) -> JournalEntry:
    """Cash between a branch's vault and its tellers' tills (a float issued in the morning, cash
    returned at close, a hand-over between tellers): debit the receiving teller-cash account,
    credit the giving one. Both must be teller cash of the same branch; the giving one must hold
    the amount (cash that is not in a drawer cannot leave it). Permission `ledger.manage_tills`."""
    if as_uuid(from_account_id) == as_uuid(to_account_id):
        raise ValidationFailed("Choose two different teller-cash accounts.", field="to_account")
    source_id = as_uuid(from_account_id)

    def guard(locked: dict) -> None:
        source, target = locked[source_id], locked[as_uuid(to_account_id)]
        for account in (source, target):
            if account.type != AccountType.TELLER_CASH:
                raise ValidationFailed(
                    f"Account {account.account_number} is not a vault or till.", field="to_account"
                )
        if source.branch_id != target.branch_id:
            raise ValidationFailed("Cash moves between a vault and tills of one branch.", field="to_account")
        require(actor, "ledger.manage_tills", source.branch_id)
        if source.balance < amount:
            raise InsufficientFunds(
                f"Account {source.account_number} holds only {money(max(source.balance, 0))} in cash.",
                field="amount",
            )

    return _between_two_accounts(
        kind=JournalEntry.Kind.TILL_TRANSFER,
        debit_id=to_account_id,
        credit_id=from_account_id,
        amount=amount,
        description=description,
        narration=description or "Cash between vault and till",
        actor=actor,
        idempotency_key=idempotency_key,
        guard=guard,
    )
