"""End of day: overdue marking, days past due, penalties, auto-debit, classification, snapshots.

`run_end_of_day(as_of=D)` processes the business date D (and first every unprocessed date since the
last run, at most `CATCH_UP_DAYS` back), each date in its own transaction with an `EndOfDayRun` row,
so a date is never processed twice. The steps are set-based SQL over every active (DISBURSED) loan;
only auto-debit goes loan by loan, through `loans.services.record_repayment`, for the few loans with
something due and auto-debit enabled. Order of the steps for date D:

1. lock the active loan rows (`FOR UPDATE`, primary-key order: the lock order of every loan service,
   so a repayment racing end of day waits for it, or end of day waits for the repayment);
2. auto-debit what is due up to D from the member's savings (available balance only);
3. mark installments overdue: due before D and not paid (and clear the flag on paid ones);
4. charge penalties once per period on overdue installments past the product's grace days;
5. days past due and arrears amount per loan (arrears at or below the product's tolerance: none),
6. and, in the same UPDATE, the loan's `ArrearsBucket` by days past due;
7. store a `PortfolioSnapshot` per branch × bucket.

Steps 3–6 write schedule and loan rows with `UPDATE` statements, which django-simple-history does
not see: on purpose, these are system-maintained figures, and the `EndOfDayRun.stats` and the
snapshots are their record. See docs/end-of-day.md.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from cooperative.exceptions import Conflict, DomainError
from cooperative.money import money

from .models import ArrearsBucket, EndOfDayRun, Loan, LoanProduct, LoanSchedule, PortfolioSnapshot
from .schedule import add_months

logger = logging.getLogger(__name__)

# A missed day catches up: processing D first processes the unprocessed dates before it, at most
# this many days in all (D included). Older gaps are not replayed (see docs/end-of-day.md).
CATCH_UP_DAYS = 31
ZERO = Decimal("0.00")
ACTIVE = Loan.Status.DISBURSED

_LOAN = Loan._meta.db_table
_SCHEDULE = LoanSchedule._meta.db_table
_PRODUCT = LoanProduct._meta.db_table


def business_date() -> date:
    """Today's date in the cooperative's time zone (settings.TIME_ZONE, Africa/Lagos)."""
    return timezone.localdate()


def run_end_of_day(*, as_of: date) -> dict:
    """Process business date `as_of` (catching up missed dates first). Idempotent per date.

    Returns the stats of `as_of` plus `processed` (the dates this call processed, oldest first) and
    `already_processed` (True when `as_of` had been processed before: nothing was done).
    """
    done = EndOfDayRun.objects.filter(date=as_of, finished_at__isnull=False).first()
    if done is not None:
        return {**done.stats, "processed": [], "already_processed": True}
    last = (
        EndOfDayRun.objects.filter(finished_at__isnull=False).order_by("-date").values_list("date", flat=True)
    ).first()
    if last is not None and as_of < last:
        raise Conflict(
            f"End of day has already run for {last:%Y-%m-%d}; an earlier date ({as_of:%Y-%m-%d}) "
            "cannot be processed after it."
        )
    first = (
        as_of if last is None else max(last + timedelta(days=1), as_of - timedelta(days=CATCH_UP_DAYS - 1))
    )
    processed = []
    day = first
    while day <= as_of:
        if _process_day(day) is not None:
            processed.append(day.isoformat())
        day += timedelta(days=1)
    stats = EndOfDayRun.objects.get(date=as_of).stats
    return {**stats, "processed": processed, "already_processed": not processed}


def _process_day(day: date) -> dict | None:
    """One business date in one transaction; None if another runner has processed it."""
    started = time.perf_counter()
    with transaction.atomic():
        try:
            with transaction.atomic():
                # The unique date makes a concurrent runner wait here, then fail: it skips the day.
                run = EndOfDayRun.objects.create(date=day)
        except IntegrityError:
            return None
        steps: dict[str, float] = {}

        def step(name, fn, *args):
            began = time.perf_counter()
            result = fn(*args)
            steps[name] = round(time.perf_counter() - began, 3)
            return result

        loans = step("lock", _lock_active_loans)
        auto = step("auto_debit", _auto_debit, day)
        overdue = step("overdue", _mark_overdue, day)
        penalties = step("penalties", _charge_penalties, day)
        in_arrears = step("arrears_and_classify", _update_arrears, day)
        snapshots = step("snapshot", _snapshot, day)
        stats = {
            "date": day.isoformat(),
            "active_loans": loans,
            "installments_newly_overdue": overdue,
            "penalties_charged": penalties["count"],
            "penalty_amount": str(penalties["amount"]),
            "auto_debits": auto["count"],
            "auto_debit_amount": str(auto["amount"]),
            "auto_debit_failures": auto["failures"],
            "loans_in_arrears": in_arrears,
            "by_bucket": snapshots["by_bucket"],
            "snapshots": snapshots["rows"],
            "seconds": round(time.perf_counter() - started, 3),
            "step_seconds": steps,
        }
        run.stats = stats
        run.finished_at = timezone.now()
        run.save(update_fields=["stats", "finished_at"])
    logger.info("end of day %s: %s", day, stats)
    return stats


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _lock_active_loans() -> int:
    """Lock every active loan row in primary-key order (the loan services' lock order)."""
    if not _is_postgres():  # SQLite locks the whole database for the writing transaction
        return Loan.objects.filter(status=ACTIVE).count()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {_LOAN} WHERE status = %s ORDER BY id FOR UPDATE) locked",  # noqa: S608
            [ACTIVE],
        )
        return cursor.fetchone()[0]


# --- 2. auto-debit ---------------------------------------------------------------------------------


def _auto_debit(day: date) -> dict:
    """Collect what is due up to `day` from the member's savings, for products with auto-debit on.

    A loop over the few loans with something due and auto-debit enabled; each repayment goes through
    `record_repayment` (allocation, ledger entry, schedule) with an idempotency key per date and loan,
    inside a savepoint, so one failure (a frozen account, say) is counted and does not stop the rest.
    """
    from ledger.models import Account, AccountType

    result = {"count": 0, "amount": ZERO, "failures": 0}
    due = (
        LoanSchedule.objects.filter(
            loan__status=ACTIVE,
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
    from . import services

    savings = {
        account.member_id: account
        for account in Account.objects.filter(
            member_id__in={row["loan__member_id"] for row in rows},
            type=AccountType.SAVINGS,
            status=Account.Status.ACTIVE,
        )
    }
    for row in rows:
        account = savings.get(row["loan__member_id"])
        if account is None:
            continue
        account.refresh_from_db(fields=["balance", "held_amount", "minimum_balance"])
        amount = money(min(row["due"], account.available_balance))
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


# --- 3. overdue ------------------------------------------------------------------------------------


def _mark_overdue(day: date) -> int:
    """is_overdue = due before `day` and not paid, on every active loan's schedule."""
    rows = LoanSchedule.objects.filter(loan__status=ACTIVE)
    newly = rows.filter(is_paid=False, due_date__lt=day, is_overdue=False).update(is_overdue=True)
    rows.filter(is_overdue=True).filter(Q(is_paid=True) | Q(due_date__gte=day)).update(is_overdue=False)
    return newly


# --- 4. penalties ----------------------------------------------------------------------------------


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
    The PostgreSQL statement in `_charge_penalties` computes exactly this.
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
            FROM {_SCHEDULE} s
            JOIN {_LOAN} l ON l.id = s.loan_id
            JOIN {_PRODUCT} p ON p.id = l.product_id
            WHERE l.status = %(active)s AND s.is_overdue AND p.penalty_rate > 0
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
            UPDATE {_SCHEDULE} s
            SET penalty_amount = s.penalty_amount + a.amount,
                total_amount = s.total_amount + a.amount,
                penalty_charged_through = a.through
            FROM a WHERE s.id = a.id
            RETURNING a.amount
        )
        SELECT count(*) FILTER (WHERE amount > 0), COALESCE(sum(amount), 0) FROM u
    """  # noqa: S608 - table names from model metadata, values as parameters


def _charge_penalties(day: date) -> dict:
    """Add the penalties that became due by `day` and advance `penalty_charged_through`.

    Cash basis: a penalty is recorded on the installment (penalty_amount, total_amount) and becomes
    income in the ledger only when paid, so end of day posts no journal entry here.
    """
    if _is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(_penalties_sql(), {"day": day, "active": ACTIVE})
            count, amount = cursor.fetchone()
        return {"count": count, "amount": money(amount)}
    return _charge_penalties_portable(day)


def _charge_penalties_portable(day: date) -> dict:
    """Fallback for other databases (SQLite, small deployments): same rule, computed in Python."""
    rows = list(
        LoanSchedule.objects.filter(loan__status=ACTIVE, is_overdue=True, loan__product__penalty_rate__gt=0)
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


# --- 5 and 6. days past due, arrears, classification ----------------------------------------------


def _update_arrears(day: date) -> int:
    """One UPDATE per run for every active loan: days past due, arrears, bucket, last end of day.

    days_past_due = `day` − the oldest overdue unpaid due date; arrears = what is unpaid on the
    overdue installments (penalties included). At or below the product's arrears tolerance: not in
    arrears (both 0). arrears_bucket = the `ArrearsBucket` whose day range holds days_past_due.
    Returns the number of loans in arrears.
    """
    if _is_postgres():
        days, day_param = "(%(day)s::date - o.oldest)", "%(day)s::date"
    else:
        days, day_param = "CAST(julianday(%(day)s) - julianday(o.oldest) AS INTEGER)", "%(day)s"
    in_arrears = "(o.amount IS NOT NULL AND o.amount > p.arrears_tolerance)"
    bucket = ArrearsBucket._meta.db_table
    sql = f"""
        WITH o AS (
            SELECT s.loan_id, min(s.due_date) AS oldest,
                   round(sum(s.total_amount - s.paid_amount), 2) AS amount
            FROM {_SCHEDULE} s JOIN {_LOAN} l ON l.id = s.loan_id
            WHERE l.status = %(active)s AND s.is_overdue AND NOT s.is_paid
            GROUP BY s.loan_id
        ),
        f AS (
            SELECT l.id,
                   CASE WHEN {in_arrears} THEN {days} ELSE 0 END AS dpd,
                   CASE WHEN {in_arrears} THEN o.amount ELSE 0 END AS arrears
            FROM {_LOAN} l JOIN {_PRODUCT} p ON p.id = l.product_id LEFT JOIN o ON o.loan_id = l.id
            WHERE l.status = %(active)s
        ),
        b AS (
            SELECT f.id, f.dpd, f.arrears,
                   (SELECT k.id FROM {bucket} k
                    WHERE k.min_days <= f.dpd AND (k.max_days IS NULL OR k.max_days >= f.dpd)
                    ORDER BY k.min_days LIMIT 1) AS bucket_id
            FROM f
        )
        UPDATE {_LOAN}
        SET days_past_due = b.dpd, arrears_amount = b.arrears, arrears_bucket_id = b.bucket_id,
            last_end_of_day = {day_param}
        FROM b WHERE {_LOAN}.id = b.id
    """  # noqa: S608 - table names from model metadata, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, {"day": day, "active": ACTIVE})
    # A loan that is no longer active carries no arrears classification.
    Loan.objects.filter(status=Loan.Status.CLOSED).exclude(
        days_past_due=0, arrears_amount=0, arrears_bucket__isnull=True
    ).update(days_past_due=0, arrears_amount=0, arrears_bucket=None)
    return Loan.objects.filter(status=ACTIVE, arrears_amount__gt=0).count()


# --- 7. snapshot -----------------------------------------------------------------------------------


def _snapshot(day: date) -> dict:
    """One PortfolioSnapshot per branch (with active loans) × bucket for `day`.

    Principal outstanding is the loan's LOAN ledger account balance; provision = outstanding ×
    the bucket's provision percent, rounded half up to the kobo.
    """
    buckets = list(ArrearsBucket.objects.all())
    groups = (
        Loan.objects.filter(status=ACTIVE)
        .values("branch_id", "arrears_bucket_id")
        .annotate(
            count=Count("pk"),
            outstanding=Coalesce(
                Sum("account__balance"),
                Value(ZERO),
                output_field=DecimalField(max_digits=18, decimal_places=2),
            ),
            arrears=Coalesce(
                Sum("arrears_amount"), Value(ZERO), output_field=DecimalField(max_digits=18, decimal_places=2)
            ),
        )
        .order_by()
    )
    figures = {(g["branch_id"], g["arrears_bucket_id"]): g for g in groups}
    branches = sorted({branch_id for branch_id, _ in figures}, key=str)
    PortfolioSnapshot.objects.filter(date=day).delete()
    rows, by_bucket = [], defaultdict(int)
    for branch_id in branches:
        for bucket in buckets:
            g = figures.get((branch_id, bucket.pk), {})
            outstanding = money(g.get("outstanding") or ZERO)
            rows.append(
                PortfolioSnapshot(
                    date=day,
                    branch_id=branch_id,
                    bucket=bucket,
                    loan_count=g.get("count", 0),
                    principal_outstanding=outstanding,
                    arrears_amount=money(g.get("arrears") or ZERO),
                    provision_amount=money(outstanding * bucket.provision_percent / 100),
                )
            )
            by_bucket[bucket.code] += g.get("count", 0)
    PortfolioSnapshot.objects.bulk_create(rows)
    unclassified = sum(g["count"] for (_, bucket_id), g in figures.items() if bucket_id is None)
    if unclassified:
        by_bucket["UNCLASSIFIED"] = unclassified
    return {"rows": len(rows), "by_bucket": dict(by_bucket)}
