"""Member accounts: open, freeze, unfreeze, close (a remaining balance is swept first; a closure of
an account that holds money waits for approval above its policy band)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from approvals.services import ensure_not_pending, request_approval
from cooperative.exceptions import Conflict, ValidationFailed
from cooperative.history import set_change_reason
from cooperative.models import User
from cooperative.money import money

from ..exceptions import AccountNotActive, AccountNotFound
from ..lock_objects import accounts_for_update
from ..models import DEBIT_NORMAL_TYPES, MEMBER_ACCOUNT_TYPES, Account, AccountType, Side
from ..numbering import next_account_number
from ..selectors import member_display
from . import _direct
from ._common import require, set_status
from .posting_requests import ACCOUNT_CLOSURE, Pending, needs_approval


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
    # A closure waiting for approval keeps the account as the approver saw it (409 otherwise).
    ensure_not_pending(subject=account, action_type=ACCOUNT_CLOSURE)
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


def close_account(
    *,
    account_id: uuid.UUID,
    reason: str,
    actor: User | None = None,
    sweep_to_account_id: uuid.UUID | None = None,
) -> Account | Pending:
    """Close an account; a remaining balance is swept to another member account in the same entry.

    At once when the account is empty, when no policy band applies or when the system closes it
    (`actor=None`, e.g. a member's exit); otherwise the closure with its sweep waits for approval
    (`Pending`) and the approver's decision sweeps and closes. A pending closure blocks another
    closure of the account (and a freeze)."""
    account, reason = _direct.closable_account(account_id=account_id, reason=reason, actor=actor)
    ensure_not_pending(subject=account, action_type=ACCOUNT_CLOSURE)
    if (
        actor is None
        or account.balance <= 0
        or not needs_approval(ACCOUNT_CLOSURE, account.balance, account.branch_id)
    ):
        return _direct.close_now(
            account_id=account.pk, reason=reason, actor=actor, sweep_to_account_id=sweep_to_account_id
        )
    target = _direct.closure_target(account, sweep_to_account_id)
    if target is None:  # nothing to sweep after all (not reached: the balance is positive here)
        return _direct.close_now(account_id=account.pk, reason=reason, actor=actor)
    approval = request_approval(
        action_type=ACCOUNT_CLOSURE,
        subject=account,
        amount=account.balance,
        branch_id=account.branch_id,
        requested_by=actor,
        title=f"Closure of {account.account_number}, sweep to {target.account_number}",
        member_display=member_display(account),
        reason=reason,
        metadata={
            "reason": reason,
            "sweep_to_account_id": str(target.pk),
            "sweep_to_account": target.account_number,
        },
    )
    if approval is None:  # the policy changed meanwhile
        return _direct.close_now(
            account_id=account.pk, reason=reason, actor=actor, sweep_to_account_id=target.pk
        )
    return Pending(approval_request=approval)


ACCOUNT_SETTINGS = ("name", "minimum_balance", "daily_withdrawal_limit")


@transaction.atomic
def update_account_settings(*, account_id: uuid.UUID, changes: dict, actor: User | None = None) -> Account:
    """Change an account's name, minimum balance or daily withdrawal limit (nothing else: balances
    move only through postings). Permission `ledger.change_account` in the account's branch; the
    account's history records who changed what, and the request's audit row the client IP."""
    unknown = sorted(set(changes) - set(ACCOUNT_SETTINGS))
    if unknown:
        raise ValidationFailed(f"These are not account settings: {', '.join(unknown)}.")
    account = accounts_for_update([account_id]).first()
    if account is None:
        raise AccountNotFound("No such account.")
    require(actor, "ledger.change_account", account.branch_id)
    minimum, limit = changes.get("minimum_balance"), changes.get("daily_withdrawal_limit")
    if minimum is not None and minimum < 0:
        raise ValidationFailed("The minimum balance cannot be below zero.", field="minimum_balance")
    if limit is not None and limit <= 0:
        raise ValidationFailed(
            "The daily limit must be above zero, or empty.", field="daily_withdrawal_limit"
        )
    changed = [name for name, value in changes.items() if getattr(account, name) != value]
    if not changed:
        return account
    for name in changed:
        setattr(
            account,
            name,
            money(changes[name]) if name != "name" and changes[name] is not None else changes[name],
        )
    set_change_reason(account, "Account settings changed: " + ", ".join(changed))
    account.save(update_fields=[*changed, "updated_at"])
    return account
