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

The package: `run` (the run per date, catch-up and what it refuses), `auto_debit`, `penalties`
(overdue and penalties), `classification` (arrears, buckets, snapshots); `_common` holds what they share.
"""

from ._common import ACTIVE, ZERO
from .auto_debit import available_as_of
from .penalties import penalty_due, penalty_months
from .run import CATCH_UP_DAYS, CatchUpRefused, business_date, replay_conflicts, run_end_of_day

__all__ = [
    "ACTIVE",
    "CATCH_UP_DAYS",
    "ZERO",
    "CatchUpRefused",
    "available_as_of",
    "business_date",
    "penalty_due",
    "penalty_months",
    "replay_conflicts",
    "run_end_of_day",
]
