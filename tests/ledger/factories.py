"""Ledger test helpers: members with funded accounts, built through the real services."""

from __future__ import annotations

import itertools
from decimal import Decimal

from ledger import services
from ledger.models import Account, AccountType
from members.models import Member

_numbers = itertools.count(1)


def make_member(branch, **fields) -> Member:
    """A bare ACTIVE member row (the members app's own factory goes through register_member)."""
    n = next(_numbers)
    defaults = {
        "member_number": f"TST{n:06d}",
        "first_name": "Amaka",
        "last_name": f"Obi{n}",
        "phone": f"+234803{n:07d}",
        "branch": branch,
    }
    defaults.update(fields)
    return Member.objects.create(**defaults)


def make_account(
    branch,
    *,
    member: Member | None = None,
    account_type: str = AccountType.SAVINGS,
    balance: Decimal | str = "0.00",
    **options,
) -> Account:
    """An open member account, funded with `balance` by a real cash deposit (so the ledger balances)."""
    member = member or make_member(branch)
    account = services.open_account(member=member, account_type=account_type, **options)
    if Decimal(balance) > 0:
        services.deposit(account_id=account.pk, amount=Decimal(balance), description="Opening deposit")
        account.refresh_from_db()
    return account


def fund_till(branch, teller, amount: Decimal | str) -> Account:
    """Give a teller's till a float of `amount` from the branch's vault (which must hold it, e.g.
    from `make_account`'s opening deposits), as a manager does in the morning."""
    vault = services.ensure_gl_account(branch_id=branch.pk, gl_code="TELLER_CASH")
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    services.move_till_cash(
        from_account_id=vault.pk, to_account_id=drawer.pk, amount=Decimal(amount), description="Morning float"
    )
    return drawer
