"""What every step of end of day shares: the loans active on a date, balances by value date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import Q

from ledger.models import Transaction

from ..models import Loan, LoanProduct, LoanSchedule

ZERO = Decimal("0.00")
ACTIVE = Loan.Status.DISBURSED

LOAN_TABLE = Loan._meta.db_table
SCHEDULE_TABLE = LoanSchedule._meta.db_table
PRODUCT_TABLE = LoanProduct._meta.db_table


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def active_on(day: date, prefix: str = "") -> Q:
    """The loans active on `day`: disbursed (status) and disbursed on or before `day`, so a catch-up of
    a missed date leaves out the loans disbursed after it (a loan without a disbursement date, as a
    migration may load it, always takes part)."""
    disbursed = Q(**{f"{prefix}disbursement_date__lte": day}) | Q(
        **{f"{prefix}disbursement_date__isnull": True}
    )
    return Q(**{f"{prefix}status": ACTIVE}) & disbursed


def repaid_after(day: date):
    """Loans repaid in full by a repayment dated after `day`: active on `day` (a catch-up counts
    them, performing: `replay_conflicts` refuses the case where they had something due before)."""
    return Loan.objects.filter(
        status=Loan.Status.CLOSED,
        disbursement_date__lte=day,
        payments__payment_date__gt=day,
        payments__reversed_at__isnull=True,
    ).distinct()


def later_legs(day: date):
    """Ledger legs with a value date after `day`, undone to read a balance by value date `day`. A
    reversed entry and its reversal are left out: together they net to nothing, and they count as
    never posted (the way out of a refused catch-up reverses repayments and records them again)."""
    return Transaction.objects.filter(
        value_date__gt=day, entry__reverses__isnull=True, entry__reversed_by__isnull=True
    )


def disbursed_by(day: str) -> str:
    """SQL for `active_on`'s disbursement condition on the loan aliased `l`."""
    return f"(l.disbursement_date IS NULL OR l.disbursement_date <= {day})"
