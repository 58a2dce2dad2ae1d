"""Demo ledger for `seed_demo`: GL accounts per branch, and for each Main Branch member a savings and a
shares account with a few months of believable history (deposits, withdrawals, a transfer and a
reversal), all posted through the real services so `verify_ledger` passes.

Idempotent: members who already have accounts are left alone, so a second run posts nothing.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from . import kyc, services
from .models import Account, AccountType, JournalEntry

HISTORY_DAYS = 120
SALARY_DESCRIPTIONS = ("Monthly savings", "Salary savings", "Cash deposit", "Ajo contribution")
WITHDRAWAL_DESCRIPTIONS = ("School fees", "Cash withdrawal", "Rent", "Market stock", "Medical bill")


def _kobo_round(value: int) -> Decimal:
    """Round to a believable figure (whole hundreds of naira)."""
    return Decimal(max(value // 100, 1) * 100).quantize(Decimal("0.01"))


def _history_for(
    member, rng: random.Random, start: date
) -> list[tuple[date, AccountType, str, Decimal, str]]:
    """(value date, account type, operation, amount, description), in date order."""
    events = [
        (start, AccountType.SHARES, "deposit", _kobo_round(rng.randrange(10_000, 50_001)), "Share capital")
    ]
    monthly = rng.randrange(15_000, 120_001)
    day = start + timedelta(days=rng.randrange(1, 6))
    today = timezone.localdate()
    while day < today:
        events.append(
            (
                day,
                AccountType.SAVINGS,
                "deposit",
                _kobo_round(monthly + rng.randrange(-5_000, 5_001)),
                rng.choice(SALARY_DESCRIPTIONS),
            )
        )
        if rng.random() < 0.6:
            later = day + timedelta(days=rng.randrange(3, 20))
            if later < today:
                events.append(
                    (
                        later,
                        AccountType.SAVINGS,
                        "withdraw",
                        _kobo_round(monthly * rng.randrange(20, 70) // 100),
                        rng.choice(WITHDRAWAL_DESCRIPTIONS),
                    )
                )
        day += timedelta(days=rng.randrange(26, 35))
    if rng.random() < 0.5:
        events.append(
            (
                start + timedelta(days=45),
                AccountType.SHARES,
                "deposit",
                _kobo_round(rng.randrange(5_000, 20_001)),
                "Additional shares",
            )
        )
    return sorted(events, key=lambda event: event[0])


DEMO_TILL_FLOAT = Decimal("50000.00")


def seed(*, branch, other_branch, staff, stdout, **_ignored) -> None:
    # The demo's history is not about KYC: most demo members are still tier I (KYC pending), and
    # their savings built up over months would cross the tier limits.
    with kyc.limits_suspended():
        _seed(branch=branch, other_branch=other_branch, staff=staff, stdout=stdout)


def _seed(*, branch, other_branch, staff, stdout) -> None:
    for each in (branch, other_branch):
        services.bootstrap_branch_ledger(branch_id=each.pk)

    member_model = Account._meta.get_field("member").remote_field.model
    teller = staff.get("TELLER")
    members: list[Any] = list(  # members.Member, which the ledger does not import
        member_model._default_manager.filter(branch=branch)
        .exclude(status="EXITED")
        .exclude(accounts__isnull=False)  # already seeded (or opened by a person): leave alone
        .order_by("member_number")
    )
    if not members:
        stdout.write("Ledger demo: nothing to add.")
        return

    start = timezone.localdate() - timedelta(days=HISTORY_DAYS)
    savings: list[Account] = []
    entries = 0
    for member in members:
        rng = random.Random(member.member_number)  # noqa: S311 - demo data, the same on every machine
        accounts = {
            kind: services.open_account(member=member, account_type=kind, actor=teller)
            for kind in (AccountType.SAVINGS, AccountType.SHARES)
        }
        for number, (value_date, kind, operation, amount, description) in enumerate(
            _history_for(member, rng, start)
        ):
            post = services.deposit if operation == "deposit" else services.withdraw
            account = accounts[kind]
            account.refresh_from_db(fields=["balance", "held_amount"])
            if operation == "withdraw":
                if account.daily_withdrawal_limit is not None:
                    amount = min(amount, account.daily_withdrawal_limit)
                if amount > account.available_balance:
                    continue  # a member never asks for more than they have
            post(
                account_id=account.pk,
                amount=amount,
                actor=teller,
                description=description,
                value_date=value_date,
                idempotency_key=f"demo:{member.member_number}:{number}",
            )
            entries += 1
        savings.append(accounts[AccountType.SAVINGS])

    # One member pays another, and one mistaken deposit is reversed (both dated today).
    if len(savings) >= 2:
        payer, payee = savings[0], savings[1]
        payer.refresh_from_db(fields=["balance"])
        amount = min(Decimal("5000.00"), payer.available_balance)
        if amount > 0:
            services.transfer(
                from_account_id=payer.pk,
                to_account_id=payee.pk,
                amount=amount,
                actor=teller,
                description="Contribution to burial levy",
                idempotency_key=f"demo:transfer:{payer.account_number}",
            )
            entries += 1
    mistaken = services.deposit(
        account_id=savings[-1].pk,
        amount=Decimal("25000.00"),
        actor=teller,
        description="Cash deposit (wrong account)",
        idempotency_key=f"demo:mistake:{savings[-1].account_number}",
    )
    if not isinstance(mistaken, JournalEntry):  # ₦25,000 is far below the cash deposit band
        raise TypeError("The demo's mistaken deposit was sent for approval.")
    # Reversed by the system: an accountant's reversal waits for a manager's approval (the default
    # policy), and the demo's history is meant to be posted.
    services.reverse_entry(entry_id=mistaken.pk, reason="Posted to the wrong member's account")
    entries += 2
    # At close the branch manager takes the teller's cash into the vault, leaving a float.
    manager = staff.get("MANAGER")
    if teller is not None and manager is not None:
        till = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
        vault = services.ensure_gl_account(branch_id=branch.pk, gl_code="TELLER_CASH")
        if till.balance > DEMO_TILL_FLOAT:
            services.move_till_cash(
                from_account_id=till.pk,
                to_account_id=vault.pk,
                amount=till.balance - DEMO_TILL_FLOAT,
                actor=manager,
                description="End of day: cash to the vault",
                idempotency_key=f"demo:till-close:{branch.code}",
            )
            entries += 1
    stdout.write(
        f"Ledger demo: {len(members)} member(s) given savings and shares accounts, {entries} entries."
    )
