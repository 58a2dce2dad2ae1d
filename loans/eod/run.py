"""Running end of day: one date per transaction, catching up missed dates, refusing what cannot be
replayed as daily runs would have (see the package docstring and docs/end-of-day.md)."""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from cooperative.exceptions import Conflict

from ..models import EndOfDayRun, Loan, LoanPayment, LoanSchedule
from ._common import ACTIVE, LOAN_TABLE, active_on, is_postgres, repaid_after
from .auto_debit import auto_debit
from .classification import snapshot, update_arrears
from .penalties import charge_penalties, mark_overdue

logger = logging.getLogger(__name__)

# A missed day catches up: processing D first processes the unprocessed dates before it, at most
# this many days in all (D included). Older gaps are not replayed (see docs/end-of-day.md).
CATCH_UP_DAYS = 31


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
        auto = step("auto_debit", auto_debit, day)
        overdue = step("overdue", mark_overdue, day)
        penalties = step("penalties", charge_penalties, day)
        in_arrears = step("arrears_and_classify", update_arrears, day)
        snapshots = step("snapshot", snapshot, day)
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


def _lock_active_loans(day: date) -> int:
    """Lock every active loan row in primary-key order (the loan services' lock order); returns the
    number of loans active on `day`."""
    if is_postgres():  # SQLite locks the whole database for the writing transaction
        with connection.cursor() as cursor:
            locking = f"SELECT 1 FROM {LOAN_TABLE} WHERE status = %s ORDER BY id FOR UPDATE"  # noqa: S608
            cursor.execute(f"SELECT count(*) FROM ({locking}) l", [ACTIVE])  # noqa: S608
    return Loan.objects.filter(active_on(day)).count() + repaid_after(day).count()
