"""Step 2 of end of day: auto-debit what is due from the member's savings."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum

from cooperative.exceptions import DomainError
from cooperative.money import money
from ledger.models import Account, AccountType

from .. import services
from ..models import LoanSchedule
from ._common import ZERO, active_on, later_legs

logger = logging.getLogger(__name__)


def auto_debit(day: date) -> dict:
    """Collect what is due up to `day` from the member's savings, for products with auto-debit on.

    What the account could pay on `day` is read by value date (`available_as_of`), so a catch-up of a
    missed date never takes money that arrived after it.
    A loop over the few loans with something due and auto-debit enabled; each repayment goes through
    `record_repayment` (allocation, ledger entry, schedule) with an idempotency key per date and loan,
    inside a savepoint, so one failure (a frozen account, say) is counted and does not stop the rest.
    """
    result = {"count": 0, "amount": ZERO, "failures": 0}
    due = (
        LoanSchedule.objects.filter(
            active_on(day, "loan__"),
            loan__product__auto_debit_savings=True,
            is_paid=False,
            due_date__lte=day,
        )
        .values("loan_id", "loan__member_id")
        .annotate(due=Sum(F("total_amount") - F("paid_amount")))
        .order_by("loan_id")
    )
    rows = [row for row in due if row["due"] and row["due"] > 0]
    if not rows:
        return result
    savings: dict = {}
    # The account the repayment would debit (`savings_account_of`: the member's first one not closed).
    for account in Account.objects.filter(
        member_id__in={row["loan__member_id"] for row in rows}, type=AccountType.SAVINGS
    ).exclude(status=Account.Status.CLOSED):
        savings.setdefault(account.member_id, account)
    for row in rows:
        account = savings.get(row["loan__member_id"])
        if account is None:
            continue
        if account.status != Account.Status.ACTIVE:
            # Skipped, and counted as a failure: something was due and the account cannot pay it.
            logger.warning(
                "auto-debit of loan %s on %s skipped: savings %s is %s",
                row["loan_id"],
                day,
                account.account_number,
                account.get_status_display().lower(),
            )
            result["failures"] += 1
            continue
        account.refresh_from_db(fields=["balance", "held_amount", "minimum_balance"])
        amount = money(min(row["due"], available_as_of(account, day)))
        if amount <= 0:
            continue
        try:
            with transaction.atomic():
                services.record_repayment(
                    actor=None,
                    loan_id=row["loan_id"],
                    amount=amount,
                    source="AUTO_DEBIT",
                    payment_date=day,
                    idempotency_key=f"eod:{day.isoformat()}:{row['loan_id']}",
                )
        except DomainError as exc:
            logger.warning("auto-debit of loan %s on %s refused: %s", row["loan_id"], day, exc)
            result["failures"] += 1
            continue
        result["count"] += 1
        result["amount"] += amount
    return result


def available_as_of(account, day: date) -> Decimal:
    """What a savings account could pay with value date `day` without its balance by value date going
    below the holds and minimum on `day` or any later date: the lowest balance by value date from
    `day` on, less holds and minimum (and never more than its available balance now)."""
    later = later_legs(day).filter(account=account).order_by("value_date")
    balance = account.balance
    steps: dict[date, Decimal] = defaultdict(lambda: ZERO)
    for value_date, side, amount in later.values_list("value_date", "type", "amount"):
        signed = amount if side == account.normal_balance else -amount
        balance -= signed
        steps[value_date] += signed
    lowest = balance
    for value_date in sorted(steps):
        balance += steps[value_date]
        lowest = min(lowest, balance)
    return min(account.available_balance, lowest - account.held_amount - account.minimum_balance)
