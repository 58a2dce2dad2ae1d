"""The rule of a cash drawer: a till or the vault never pays out more cash than it holds.

Checked by `post_entry` on the locked rows, for every entry that credits a teller-cash account
(withdrawal, closure sweep or refund paid in cash, a posting made when an approval completes, cash
moved between the vault and a till, a reversal taking a deposit back out of a till).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from cooperative.models import User
from cooperative.money import format_naira

from ..exceptions import TillShort
from ..models import Account, AccountType


def _drawer_name(account: Account, actor: User | None) -> str:
    if account.till_teller_id is None:
        return "The vault"
    if actor is not None and account.till_teller_id == actor.pk:
        return "Your till"
    return account.name


def check_till_cash(
    *, locked: dict[uuid.UUID, Account], opening: dict[uuid.UUID, Decimal], actor: User | None
) -> None:
    """Refuse (`TillShort`) an entry that takes a till or the vault below zero.

    `locked` holds the rows with their balances after the entry, `opening` the balances before.
    A movement into a drawer (or one that leaves it no lower) is always allowed, even when the
    drawer is below zero already (old data): only paying out is held to the cash in hand."""
    for pk, account in locked.items():
        if account.type != AccountType.TELLER_CASH or account.balance >= opening[pk] or account.balance >= 0:
            continue
        held, paying = opening[pk], opening[pk] - account.balance
        name = _drawer_name(account, actor)
        way_out = (
            "bring cash into the vault (Move cash from a till)"
            if account.till_teller_id is None
            else "ask the vault for a float (Move cash)"
        )
        raise TillShort(
            f"{name} holds {format_naira(max(held, Decimal('0.00')))}; {way_out} before paying "
            f"{format_naira(paying)}.",
            field="amount",
        )
