"""Member accounts: open, freeze, unfreeze, close (a remaining balance is swept first)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from cooperative.exceptions import Conflict, ValidationFailed
from cooperative.models import User
from cooperative.money import money

from ..exceptions import AccountNotActive, AccountNotEmpty, AccountNotFound
from ..lock_objects import accounts_for_update
from ..models import DEBIT_NORMAL_TYPES, MEMBER_ACCOUNT_TYPES, Account, AccountType, JournalEntry, Side
from ..numbering import next_account_number
from ._common import member_deposit_account, require, set_status
from .posting import Line, post_entry


@transaction.atomic
def open_account(
    *,
    member,
    account_type: str,
    actor: User | None = None,
    minimum_balance: Decimal | None = None,
    daily_withdrawal_limit: Decimal | None = None,
    currency: str | None = None,
    name: str = "",
) -> Account:
    """Open a member account (SAVINGS, SHARES, CASH or LOAN) in the member's branch."""
    require(actor, "ledger.add_account", member.branch_id)
    if account_type not in MEMBER_ACCOUNT_TYPES:
        raise ValidationFailed(f"{account_type!r} is not a member account type.", field="type")
    if member.status == "EXITED":
        raise Conflict(f"Member {member.member_number} has exited; accounts cannot be opened.")
    defaults = settings.LEDGER_ACCOUNT_DEFAULTS.get(account_type, {})
    if minimum_balance is None:
        minimum_balance = Decimal(defaults.get("minimum_balance", "0.00"))
    if daily_withdrawal_limit is None and defaults.get("daily_withdrawal_limit"):
        daily_withdrawal_limit = Decimal(defaults["daily_withdrawal_limit"])
    if minimum_balance < 0:
        raise ValidationFailed("The minimum balance cannot be negative.", field="minimum_balance")
    if daily_withdrawal_limit is not None and daily_withdrawal_limit <= 0:
        raise ValidationFailed("The daily limit must be positive.", field="daily_withdrawal_limit")
    label = AccountType(account_type).label
    try:
        with transaction.atomic():
            return Account.objects.create(
                account_number=next_account_number(),
                name=name or f"{member.first_name} {member.last_name} – {label}",
                member=member,
                type=account_type,
                normal_balance=Side.DEBIT if account_type in DEBIT_NORMAL_TYPES else Side.CREDIT,
                currency=currency or settings.COOP_CURRENCY,
                branch_id=member.branch_id,
                minimum_balance=money(minimum_balance),
                daily_withdrawal_limit=daily_withdrawal_limit,
                created_by=actor,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"Member {member.member_number} already has an open {label.lower()} account.", field="type"
        ) from exc


@transaction.atomic
def freeze_account(*, account_id: uuid.UUID, reason: str, actor: User | None = None) -> Account:
    if not (reason or "").strip():
        raise ValidationFailed("Give a reason for freezing the account.", field="reason")
    account = accounts_for_update([account_id]).first()
    if account is None:
        raise AccountNotFound("No such account.")
    require(actor, "ledger.freeze_account", account.branch_id)
    if account.status != Account.Status.ACTIVE:
        raise AccountNotActive(f"Account {account.account_number} is {account.status.lower()}.")
    from approvals.services import ensure_not_pending  # lazy: approvals' models point at the ledger's

    # A closure waiting for approval keeps the account as the approver saw it (409 otherwise).
    ensure_not_pending(subject=account, action_type="account_closure")
    return set_status(account, Account.Status.FROZEN, reason.strip(), [])


@transaction.atomic
def unfreeze_account(*, account_id: uuid.UUID, reason: str, actor: User | None = None) -> Account:
    account = accounts_for_update([account_id]).first()
    if account is None:
        raise AccountNotFound("No such account.")
    require(actor, "ledger.freeze_account", account.branch_id)
    if account.status != Account.Status.FROZEN:
        raise Conflict(f"Account {account.account_number} is not frozen.")
    return set_status(account, Account.Status.ACTIVE, (reason or "Unfrozen").strip(), [])


@transaction.atomic
def close_account(
    *,
    account_id: uuid.UUID,
    reason: str,
    actor: User | None = None,
    sweep_to_account_id: uuid.UUID | None = None,
) -> Account:
    """Close an account. A remaining balance must be swept to another account first (one entry)."""
    if not (reason or "").strip():
        raise ValidationFailed("Give a reason for closing the account.", field="reason")
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise AccountNotFound("No such account.")
    require(actor, "ledger.close_account", account.branch_id)
    if account.status == Account.Status.CLOSED:
        raise Conflict(f"Account {account.account_number} is already closed.")
    if account.held_amount:
        raise AccountNotEmpty(
            f"Account {account.account_number} has {account.held_amount} on hold; release the holds first."
        )
    if account.balance < 0:
        raise AccountNotEmpty(f"Account {account.account_number} is overdrawn ({account.balance}).")
    if account.balance > 0:
        if sweep_to_account_id is None:
            raise AccountNotEmpty(
                f"Account {account.account_number} still holds {account.balance}; choose an account "
                "to sweep it to.",
                field="sweep_to_account",
            )
        target = member_deposit_account(sweep_to_account_id)
        if target.pk == account.pk:
            raise ValidationFailed("Sweep to a different account.", field="sweep_to_account")
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
    return set_status(account, Account.Status.CLOSED, reason.strip(), ["closed_at"])
