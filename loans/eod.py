"""End of day: overdue marking, days past due, penalties, auto-debit, classification, snapshots.

`run_end_of_day(as_of=D)` processes the business date D (and first every unprocessed date since the
last run, at most `CATCH_UP_DAYS` back), each date in its own transaction with an `EndOfDayRun` row,
so a date is never processed twice. Each date is computed with the data of that date: loans disbursed
on or before it, ledger balances by value date (outstanding, and what savings could pay). What cannot
be replayed as of a missed date (a repayment or a write-off recorded since, on a loan the missed dates
would have charged, collected or classified) makes the catch-up refuse (`CatchUpRefused`) with the
dates, the loans and the way out, rather than give other figures than daily runs would have.
The steps are set-based SQL over every active (DISBURSED) loan; only auto-debit goes loan by loan,
through `loans.services.record_repayment`, for the few loans with something due and auto-debit
enabled. Order of the steps for date D:

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
from django.db.models import Count, DecimalField, F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from cooperative.exceptions import Conflict, DomainError
from cooperative.money import money

from .models import (
    ArrearsBucket,
    EndOfDayRun,
    Loan,
    LoanPayment,
    LoanProduct,
    LoanSchedule,
    PortfolioSnapshot,
)
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


class CatchUpRefused(Conflict):
    """Missed dates cannot be replayed with their own figures; the message says what to do."""

    title = "End of day cannot catch up exactly"


def run_end_of_day(*, as_of: date, skip_missed: bool = False) -> dict:
    """Process business date `as_of` (catching up missed dates first). Idempotent per date.

    Returns the stats of `as_of` plus `processed` (the dates this call processed, oldest first) and
    `already_processed` (True when `as_of` had been processed before: nothing was done). Raises
    `CatchUpRefused` when a missed date cannot be computed as daily runs would have; with
    `skip_missed=True` the missed dates are left unprocessed and only `as_of` is processed.
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
    gap_start = as_of if last is None or skip_missed else last + timedelta(days=1)
    _refuse_what_cannot_be_replayed(gap_start, as_of, last=last)
    first = max(gap_start, as_of - timedelta(days=CATCH_UP_DAYS - 1))
    missed_from = as_of if last is None else last + timedelta(days=1)
    not_replayed = (
        {"from": missed_from.isoformat(), "to": (first - timedelta(days=1)).isoformat()}
        if missed_from < first
        else None
    )
    processed = []
    day = first
    while day <= as_of:
        if _process_day(day, not_replayed=not_replayed if day == as_of else None) is not None:
            processed.append(day.isoformat())
        day += timedelta(days=1)
    stats = EndOfDayRun.objects.get(date=as_of).stats
    return {**stats, "processed": processed, "already_processed": not processed}


# --- what a catch-up cannot replay ------------------------------------------------------------------


def replay_conflicts(since: date) -> list[str]:
    """Why the dates from `since` cannot be computed now with the figures they had (empty: they can).

    Processing a date D reads the data as of D: loans disbursed by D, balances by value date. Two
    things recorded since cannot be undone that way:
    - a repayment dated after `since` on a loan that had an installment due before it and unpaid at
      the last run: daily runs would have charged that installment's penalties (or auto-debited it)
      before the repayment, and the repayment would have been allocated differently;
    - a loan written off after `since`: daily runs would have charged and classified it until then.
    A repayment on a loan with nothing due before it is replayed exactly (the loan is performing on
    the earlier dates, with its outstanding by value date).
    """
    reasons = []
    later = (
        LoanPayment.objects.filter(reversed_at__isnull=True, payment_date__gt=since)
        .values("loan_id", "loan__loan_number")
        .annotate(latest=Max("payment_date"))
        .order_by("loan__loan_number")
    )
    for row in later:
        unpaid_before = (
            LoanSchedule.objects.filter(loan_id=row["loan_id"], due_date__lt=row["latest"])
            .filter(Q(is_paid=False) | Q(paid_on__gt=since))
            .exists()
        )
        if not unpaid_before:
            continue
        payments = LoanPayment.objects.filter(
            loan_id=row["loan_id"], reversed_at__isnull=True, payment_date__gt=since
        ).order_by("payment_date", "created_at")
        listed = ", ".join(f"{p.amount} dated {p.payment_date:%Y-%m-%d}" for p in payments)
        reasons.append(
            f"loan {row['loan__loan_number']} has repayments recorded since ({listed}) while an installment "
            "due before them was unpaid"
        )
    written_off = Loan.objects.filter(status=Loan.Status.WRITTEN_OFF, written_off_at__date__gt=since)
    for loan in written_off.order_by("loan_number"):
        on = timezone.localdate(loan.written_off_at)
        reasons.append(f"loan {loan.loan_number} was written off on {on:%Y-%m-%d}")
    return reasons


def _refuse_what_cannot_be_replayed(since: date, as_of: date, *, last: date | None) -> None:
    reasons = replay_conflicts(since)
    if not reasons:
        return
    missed = (
        f"{since:%Y-%m-%d} to {as_of - timedelta(days=1):%Y-%m-%d}" if since < as_of else f"{as_of:%Y-%m-%d}"
    )
    ran = f"End of day last ran for {last:%Y-%m-%d}" if last else "End of day has not run before"
    way_out = (
        "To catch up exactly, reverse those repayments, run `python manage.py run_end_of_day --date <date>` "
        "up to the day before each one and record it again with its date, then run end of day again"
    )
    if since < as_of:
        way_out += (
            f"; or run `python manage.py run_end_of_day --date {as_of:%Y-%m-%d} --skip-missed` to process "
            f"{as_of:%Y-%m-%d} alone with today's figures (the missed dates get no snapshot and no "
            "auto-debit, and their penalties are charged on the balances left after those repayments)"
        )
    else:
        way_out += "; or process a later date"
    raise CatchUpRefused(
        f"{ran}. End of day cannot process {missed} with the figures of those dates, as daily runs would "
        f"have: {'; '.join(reasons)}. {way_out}."
    )


def _process_day(day: date, *, not_replayed: dict | None = None) -> dict | None:
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

        loans = step("lock", _lock_active_loans, day)
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
        if not_replayed:
            stats["not_replayed"] = not_replayed
        run.stats = stats
        run.finished_at = timezone.now()
        run.save(update_fields=["stats", "finished_at"])
    logger.info("end of day %s: %s", day, stats)
    return stats


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _active_on(day: date, prefix: str = "") -> Q:
    """The loans active on `day`: disbursed (status) and disbursed on or before `day`, so a catch-up of
    a missed date leaves out the loans disbursed after it (a loan without a disbursement date, as a
    migration may load it, always takes part)."""
    disbursed = Q(**{f"{prefix}disbursement_date__lte": day}) | Q(
        **{f"{prefix}disbursement_date__isnull": True}
    )
    return Q(**{f"{prefix}status": ACTIVE}) & disbursed


def _repaid_after(day: date):
    """Loans repaid in full by a repayment dated after `day`: active on `day` (a catch-up counts
    them, performing: `replay_conflicts` refuses the case where they had something due before)."""
    return Loan.objects.filter(
        status=Loan.Status.CLOSED,
        disbursement_date__lte=day,
        payments__payment_date__gt=day,
        payments__reversed_at__isnull=True,
    ).distinct()


def _later_legs(day: date):
    """Ledger legs with a value date after `day`, undone to read a balance by value date `day`. A
    reversed entry and its reversal are left out: together they net to nothing, and they count as
    never posted (the way out of a refused catch-up reverses repayments and records them again)."""
    from ledger.models import Transaction

    return Transaction.objects.filter(
        value_date__gt=day, entry__reverses__isnull=True, entry__reversed_by__isnull=True
    )


def _lock_active_loans(day: date) -> int:
    """Lock every active loan row in primary-key order (the loan services' lock order); returns the
    number of loans active on `day`."""
    if _is_postgres():  # SQLite locks the whole database for the writing transaction
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {_LOAN} WHERE status = %s ORDER BY id FOR UPDATE) l",  # noqa: S608
                [ACTIVE],
            )
    return Loan.objects.filter(_active_on(day)).count() + _repaid_after(day).count()


# --- 2. auto-debit ---------------------------------------------------------------------------------


def _auto_debit(day: date) -> dict:
    """Collect what is due up to `day` from the member's savings, for products with auto-debit on.

    What the account could pay on `day` is read by value date (`available_as_of`), so a catch-up of a
    missed date never takes money that arrived after it.
    A loop over the few loans with something due and auto-debit enabled; each repayment goes through
    `record_repayment` (allocation, ledger entry, schedule) with an idempotency key per date and loan,
    inside a savepoint, so one failure (a frozen account, say) is counted and does not stop the rest.
    """
    from ledger.models import Account, AccountType

    result = {"count": 0, "amount": ZERO, "failures": 0}
    due = (
        LoanSchedule.objects.filter(
            _active_on(day, "loan__"),
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
    later = _later_legs(day).filter(account=account).order_by("value_date")
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


# --- 3. overdue ------------------------------------------------------------------------------------


def _mark_overdue(day: date) -> int:
    """is_overdue = due before `day` and not paid, on every active loan's schedule."""
    rows = LoanSchedule.objects.filter(_active_on(day, "loan__"))
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


def _disbursed_by(day: str) -> str:
    """SQL for `_active_on`'s disbursement condition on the loan aliased `l`."""
    return f"(l.disbursement_date IS NULL OR l.disbursement_date <= {day})"


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
            WHERE l.status = %(active)s AND {_disbursed_by(day)} AND s.is_overdue AND p.penalty_rate > 0
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
        LoanSchedule.objects.filter(
            _active_on(day, "loan__"), is_overdue=True, loan__product__penalty_rate__gt=0
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
            WHERE l.status = %(active)s AND {_disbursed_by(day_param)} AND s.is_overdue AND NOT s.is_paid
            GROUP BY s.loan_id
        ),
        f AS (
            SELECT l.id,
                   CASE WHEN {in_arrears} THEN {days} ELSE 0 END AS dpd,
                   CASE WHEN {in_arrears} THEN o.amount ELSE 0 END AS arrears
            FROM {_LOAN} l JOIN {_PRODUCT} p ON p.id = l.product_id LEFT JOIN o ON o.loan_id = l.id
            WHERE l.status = %(active)s AND {_disbursed_by(day_param)}
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
    # A loan repaid after `day` (a catch-up) was active and performing on `day`.
    Loan.objects.filter(pk__in=_repaid_after(day).values("pk")).update(last_end_of_day=day)
    # A loan that is no longer active (closed, written off) carries no arrears classification: it is
    # shown as its status ("Written off"), not as the CBN bucket it last had.
    Loan.objects.filter(status__in=(Loan.Status.CLOSED, Loan.Status.WRITTEN_OFF)).exclude(
        days_past_due=0, arrears_amount=0, arrears_bucket__isnull=True
    ).update(days_past_due=0, arrears_amount=0, arrears_bucket=None)
    return Loan.objects.filter(_active_on(day), arrears_amount__gt=0).count()


# --- 7. snapshot -----------------------------------------------------------------------------------


def _snapshot(day: date) -> dict:
    """One PortfolioSnapshot per branch (with loans active on `day`) × bucket for `day`.

    Principal outstanding is the loan's LOAN ledger account balance by value date `day` (the balance
    less what was posted with a later value date, so a catch-up shows the date's own figure); a loan
    repaid in full after `day` still counts on `day`, performing (see `replay_conflicts`). Provision =
    outstanding × the bucket's provision percent, rounded half up to the kobo.
    """
    from ledger.models import AccountType, Side

    buckets = list(ArrearsBucket.objects.all())
    amount = DecimalField(max_digits=18, decimal_places=2)
    groups = (
        Loan.objects.filter(_active_on(day))
        .values("branch_id", "arrears_bucket_id")
        .annotate(
            count=Count("pk"),
            outstanding=Coalesce(Sum("account__balance"), Value(ZERO), output_field=amount),
            arrears=Coalesce(Sum("arrears_amount"), Value(ZERO), output_field=amount),
        )
        .order_by()
    )
    figures = {(g["branch_id"], g["arrears_bucket_id"]): dict(g) for g in groups}
    # Back to the balance by value date: undo what LOAN accounts received with a later value date.
    later = (
        _later_legs(day)
        .filter(entry__value_date__gt=day, account__type=AccountType.LOAN)
        .values("account_id")
        .annotate(
            debits=Coalesce(Sum("amount", filter=Q(type=Side.DEBIT)), Value(ZERO), output_field=amount),
            credits=Coalesce(Sum("amount", filter=Q(type=Side.CREDIT)), Value(ZERO), output_field=amount),
        )
        .order_by()
    )
    after = {row["account_id"]: row["debits"] - row["credits"] for row in later}
    if after:
        performing = next(
            (b.pk for b in buckets if b.min_days <= 0 and (b.max_days is None or b.max_days >= 0)), None
        )
        repaid_later = _repaid_after(day).values_list("pk", flat=True)
        loans = (
            Loan.objects.filter(Q(_active_on(day)) | Q(pk__in=repaid_later), account_id__in=list(after))
            .values("branch_id", "arrears_bucket_id", "account_id", "status")
            .distinct()
        )
        for loan in loans:
            key = (loan["branch_id"], loan["arrears_bucket_id"] if loan["status"] == ACTIVE else performing)
            g = figures.setdefault(key, {"count": 0, "outstanding": ZERO, "arrears": ZERO})
            if loan["status"] != ACTIVE:
                g["count"] += 1
            g["outstanding"] -= after[loan["account_id"]]
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
