"""Holds: part of an account's available balance reserved (a guarantor's pledge, a withdrawal
waiting for approval) and released again."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from cooperative.exceptions import Conflict, ValidationFailed
from cooperative.history import set_change_reason
from cooperative.models import User
from cooperative.money import money

from ..exceptions import AccountNotActive, AccountNotFound, InsufficientFunds
from ..lock_objects import accounts_for_update, hold_for_update
from ..models import Account, Hold
from ._common import require


@transaction.atomic
def place_hold(
    *, account_id: uuid.UUID, amount: Decimal, reason: str, actor: User | None = None, reference: str = ""
) -> Hold:
    """Reserve part of the available balance (e.g. a guarantor's pledge)."""
    if not isinstance(amount, Decimal) or amount <= 0 or amount != money(amount):
        raise ValidationFailed("The hold amount must be a positive amount in kobo.", field="amount")
    account = accounts_for_update([account_id]).first()
    if account is None:
        raise AccountNotFound("No such account.")
    require(actor, "ledger.manage_holds", account.branch_id)
    if account.status != Account.Status.ACTIVE:
        raise AccountNotActive(f"Account {account.account_number} is {account.status.lower()}.")
    if amount > account.available_balance:
        raise InsufficientFunds(
            f"Account {account.account_number} has only {money(max(account.available_balance, 0))} free.",
            field="amount",
        )
    account.held_amount += amount
    set_change_reason(account, f"hold: {reason}")
    account.save(update_fields=["held_amount", "updated_at"])
    return Hold.objects.create(
        account=account,
        amount=amount,
        original_amount=amount,
        reason=reason,
        reference=reference,
        created_by=actor,
    )


@transaction.atomic
def release_hold(*, hold_id: uuid.UUID, actor: User | None = None, amount: Decimal | None = None) -> Hold:
    """Release all of a hold, or `amount` of it (guarantees shrink as a loan is repaid)."""
    hold = hold_for_update(hold_id).first()
    if hold is None:
        raise AccountNotFound("No such hold.")
    account = accounts_for_update([hold.account_id]).get()
    require(actor, "ledger.manage_holds", account.branch_id)
    if hold.status != Hold.Status.ACTIVE:
        raise Conflict("This hold was already released.")
    release = hold.amount if amount is None else min(money(amount), hold.amount)
    if release <= 0:
        raise ValidationFailed("Release a positive amount.", field="amount")
    hold.amount -= release
    if hold.amount == 0:
        hold.status, hold.released_at = Hold.Status.RELEASED, timezone.now()
    hold.save(update_fields=["amount", "status", "released_at", "updated_at"])
    account.held_amount -= release
    set_change_reason(account, f"hold released: {hold.reason}")
    account.save(update_fields=["held_amount", "updated_at"])
    return hold
