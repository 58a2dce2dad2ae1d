"""Steps 3 and 4 of end of day: installments overdue, and penalties once per period."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Q

from cooperative.money import money

from ..models import LoanProduct, LoanSchedule
from ..schedule import add_months
from ._common import (
    ACTIVE,
    LOAN_TABLE,
    PRODUCT_TABLE,
    SCHEDULE_TABLE,
    ZERO,
    active_on,
    disbursed_by,
    is_postgres,
)


def mark_overdue(day: date) -> int:
    """is_overdue = due before `day` and not paid, on every active loan's schedule."""
    rows = LoanSchedule.objects.filter(active_on(day, "loan__"))
    newly = rows.filter(is_paid=False, due_date__lt=day, is_overdue=False).update(is_overdue=True)
    rows.filter(is_overdue=True).filter(Q(is_paid=True) | Q(due_date__gte=day)).update(is_overdue=False)
    return newly


def penalty_months(start: date, through: date) -> int:
    """Monthly penalty periods that have begun by `through`: periods run (start + k months, start +
    k + 1 months], and each is charged on its first day."""
    if through <= start:
        return 0
    months = (through.year - start.year) * 12 + through.month - start.month
    return months if add_months(start, months) >= through else months + 1


def penalty_due(
    *, frequency: str, start: date, covered: date, day: date, basis: Decimal, rate: Decimal, rounding: str
) -> tuple[Decimal, date, int]:
    """The penalty to add on `day` for one installment: (amount, new charged-through date, periods).

    `start` = due date + grace days; `covered` = the charged-through date (or `start`). Per day: one
    period per day after `covered`, charged through `day`. Per month: calendar months anchored on
    `start`, each charged in advance on its first day, charged through the end of the last one begun.
    The PostgreSQL statement in `charge_penalties` computes exactly this.
    """
    if frequency == LoanProduct.PenaltyFrequency.PER_DAY:
        periods, through = (day - covered).days, day
    else:
        begun = penalty_months(start, day)
        periods, through = begun - penalty_months(start, covered), add_months(start, begun)
    return money(basis * rate / 100 * periods, rounding=rounding), through, periods


def _round_sql(expr: str, mode: str) -> str:
    """Kobo rounding per product.rounding_mode in SQL (exact numeric arithmetic, positive amounts)."""
    cents = f"floor(({expr}) * 100)"
    half_even = (
        f"CASE WHEN ({expr}) * 100 - {cents} = 0.5 THEN ({cents} + mod({cents}, 2)) / 100"
        f" ELSE round({expr}, 2) END"
    )
    return f"(CASE WHEN {mode} = 'half_up' THEN round({expr}, 2) ELSE {half_even} END)::numeric(18, 2)"


_BASIS_SQL = (
    "CASE WHEN p.penalty_basis = 'OVERDUE_PRINCIPAL' THEN s.principal_amount - s.principal_paid "
    "ELSE (s.principal_amount + s.interest_amount + s.fee_amount) "
    "- (s.principal_paid + s.interest_paid + s.fee_paid) END"
)


def _months_sql(start: str, through: str) -> str:
    months = (
        f"((extract(year from {through}) - extract(year from {start})) * 12"
        f" + extract(month from {through}) - extract(month from {start}))::integer"
    )
    return (
        f"(CASE WHEN {through} <= {start} THEN 0 "
        f"WHEN ({start} + make_interval(months => {months}))::date >= {through} THEN {months} "
        f"ELSE {months} + 1 END)"
    )


def _penalties_sql() -> str:
    start = "(s.due_date + p.penalty_grace_days::integer)"
    covered = f"COALESCE(s.penalty_charged_through, {start})"
    day = "%(day)s::date"
    begun = _months_sql("c.start", day)
    amount = _round_sql("n.basis * n.rate / 100 * n.periods", "n.rounding_mode")
    return f"""
        WITH c AS (
            SELECT s.id, p.penalty_frequency AS frequency, p.penalty_rate AS rate, p.rounding_mode,
                   {_BASIS_SQL} AS basis, {start} AS start, {covered} AS covered
            FROM {SCHEDULE_TABLE} s
            JOIN {LOAN_TABLE} l ON l.id = s.loan_id
            JOIN {PRODUCT_TABLE} p ON p.id = l.product_id
            WHERE l.status = %(active)s AND {disbursed_by(day)} AND s.is_overdue AND p.penalty_rate > 0
              AND {covered} < {day}
        ),
        n AS (
            SELECT c.id, c.basis, c.rate, c.rounding_mode,
                   CASE WHEN c.frequency = 'PER_DAY' THEN {day} - c.covered
                        ELSE {begun} - {_months_sql("c.start", "c.covered")} END AS periods,
                   CASE WHEN c.frequency = 'PER_DAY' THEN {day}
                        ELSE (c.start + make_interval(months => {begun}))::date END AS through
            FROM c WHERE c.basis > 0
        ),
        a AS (
            SELECT n.id, n.through, {amount} AS amount
            FROM n
        ),
        u AS (
            UPDATE {SCHEDULE_TABLE} s
            SET penalty_amount = s.penalty_amount + a.amount,
                total_amount = s.total_amount + a.amount,
                penalty_charged_through = a.through
            FROM a WHERE s.id = a.id
            RETURNING a.amount
        )
        SELECT count(*) FILTER (WHERE amount > 0), COALESCE(sum(amount), 0) FROM u
    """  # noqa: S608 - table names from model metadata, values as parameters


def charge_penalties(day: date) -> dict:
    """Add the penalties that became due by `day` and advance `penalty_charged_through`.

    Cash basis: a penalty is recorded on the installment (penalty_amount, total_amount) and becomes
    income in the ledger only when paid, so end of day posts no journal entry here.
    """
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(_penalties_sql(), {"day": day, "active": ACTIVE})
            count, amount = cursor.fetchone()
        return {"count": count, "amount": money(amount)}
    return _charge_penalties_portable(day)


def _charge_penalties_portable(day: date) -> dict:
    """Fallback for other databases (SQLite, small deployments): same rule, computed in Python."""
    rows = list(
        LoanSchedule.objects.filter(
            active_on(day, "loan__"), is_overdue=True, loan__product__penalty_rate__gt=0
        )
        .select_related("loan__product")
        .order_by("pk")
    )
    changed, count, total = [], 0, ZERO
    for row in rows:
        product = row.loan.product
        start = row.due_date + timedelta(days=product.penalty_grace_days)
        covered = row.penalty_charged_through or start
        if covered >= day:
            continue
        if product.penalty_basis == LoanProduct.PenaltyBasis.OVERDUE_PRINCIPAL:
            basis = row.principal_amount - row.principal_paid
        else:
            basis = (row.principal_amount + row.interest_amount + row.fee_amount) - (
                row.principal_paid + row.interest_paid + row.fee_paid
            )
        if basis <= 0:
            continue
        amount, through, _periods = penalty_due(
            frequency=product.penalty_frequency,
            start=start,
            covered=covered,
            day=day,
            basis=basis,
            rate=product.penalty_rate,
            rounding=product.rounding_mode,
        )
        row.penalty_amount += amount
        row.total_amount += amount
        row.penalty_charged_through = through
        changed.append(row)
        if amount > 0:
            count += 1
            total += amount
    LoanSchedule.objects.bulk_update(
        changed, ["penalty_amount", "total_amount", "penalty_charged_through"], batch_size=500
    )
    return {"count": count, "amount": total}
