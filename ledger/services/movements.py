"""Money between member accounts, the counter and the branch's cash: deposit, withdraw, transfer,
and cash between a branch's vault and its tills. Each is the one entry point for its use case (the
API, the admin and other apps call these): deposit (in cash), withdraw and transfer route through the
approval policy (`posting_requests`) and answer the posted entry or the `Pending` request."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from cooperative.exceptions import ValidationFailed
from cooperative.models import User
from cooperative.money import money

from ..exceptions import TillShort
from ..models import Account, AccountType, JournalEntry, PostingRequest
from ..posting_sql import CompanionRow
from . import _direct
from ._common import as_uuid, refuse_partner_outflow, require
from .posting_requests import DEPOSIT, TRANSFER, WITHDRAWAL, Pending, post_or_request


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
) -> JournalEntry | Pending:
    """Member pays in: debit teller cash (or bank), credit the member's account.

    Posted at once (a JournalEntry) when no policy band applies; a cash deposit above the deposit
    band posts nothing: a PostingRequest waits for approval (`Pending`; nothing is held, a deposit
    takes no money from the account). Bank-channel deposits (money already received on the
    cooperative's bank account, matched on its statement) are not under the deposit band; the
    ceiling per posting and the KYC tier limits hold for both channels.
    `branch_id`, when given, must be the account's branch (checked on the locked row).
    `visible_to`: see `_member_account_guard` (the API passes the caller). `companion`: see
    `post_entry` (written only when the deposit is posted). `value_date` applies to a deposit
    posted at once."""

    def post(gate: Callable[[Account], None] | None) -> JournalEntry:
        return _direct.post_deposit(
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
            approval_gate=gate,
        )

    if channel != "cash":
        return post(None)
    return post_or_request(
        DEPOSIT,
        post,
        kind=PostingRequest.Kind.DEPOSIT,
        account_id=account_id,
        to_account_id=None,
        amount=amount,
        actor=actor,
        description=description,
        channel=channel,
        idempotency_key=idempotency_key,
        visible_to=visible_to,
    )


def withdraw(
    *,
    account_id: uuid.UUID,
    amount: Decimal,
    actor: User | None = None,
    description: str = "",
    channel: str = "cash",
    idempotency_key: str | None = None,
    visible_to: User | None = None,
    companion: CompanionRow | None = None,
    value_date: date | None = None,
) -> JournalEntry | Pending:
    """Member takes out: debit the member's account, credit teller cash (or bank).

    Posted at once (a JournalEntry) when no policy band applies; above the withdrawal band nothing
    is posted: the amount is held and a PostingRequest waits for approval (`Pending`).
    `companion`: see `post_entry` (written only when the withdrawal is posted). `value_date` (the
    demo's back-dated history) applies to a withdrawal posted at once."""
    refuse_partner_outflow(actor)
    return post_or_request(
        WITHDRAWAL,
        lambda gate: _direct.post_withdrawal(
            account_id=account_id,
            amount=amount,
            actor=actor,
            description=description,
            channel=channel,
            idempotency_key=idempotency_key,
            value_date=value_date,
            visible_to=visible_to,
            companion=companion,
            approval_gate=gate,
        ),
        kind=PostingRequest.Kind.WITHDRAWAL,
        account_id=account_id,
        to_account_id=None,
        amount=amount,
        actor=actor,
        description=description,
        channel=channel,
        idempotency_key=idempotency_key,
        visible_to=visible_to,
    )


def transfer(
    *,
    from_account_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount: Decimal,
    actor: User | None = None,
    description: str = "",
    idempotency_key: str | None = None,
) -> JournalEntry | Pending:
    """Member to member, same or another branch: one entry, debit source, credit destination. The
    sender's branch authorises; the destination may be any branch's account. Posted at once, or
    above the transfer band held and waiting for approval (`Pending`)."""
    refuse_partner_outflow(actor)
    return post_or_request(
        TRANSFER,
        lambda gate: _direct.post_transfer(
            from_account_id=from_account_id,
            to_account_id=to_account_id,
            amount=amount,
            actor=actor,
            description=description,
            idempotency_key=idempotency_key,
            approval_gate=gate,
        ),
        kind=PostingRequest.Kind.TRANSFER,
        account_id=from_account_id,
        to_account_id=to_account_id,
        amount=amount,
        actor=actor,
        description=description,
        channel="",
        idempotency_key=idempotency_key,
        visible_to=None,
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
    refuse_partner_outflow(actor)
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
            raise TillShort(
                f"Account {source.account_number} holds only {money(max(source.balance, 0))} in cash.",
                field="amount",
            )

    return _direct.between_two_accounts(
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
