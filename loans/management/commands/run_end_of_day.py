"""`python manage.py run_end_of_day [--date YYYY-MM-DD]`: run end of day for a business date.

Without --date the business date is today in the cooperative's time zone (Africa/Lagos). Missed
dates since the last run are processed first (at most 31 days), each with its own figures; a catch-up
that cannot be replayed as daily runs would have is refused with the reason and the way out, and
`--skip-missed` then processes the date alone. A date already processed is left alone. Prints the
stats as JSON; exits non-zero on bad input or a refusal.
"""

from __future__ import annotations

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cooperative.exceptions import DomainError
from loans.eod import business_date, run_end_of_day


class Command(BaseCommand):
    help = "Run end of day (overdue, penalties, auto-debit, classification, snapshot) for a business date."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", dest="as_of", help="Business date YYYY-MM-DD (default: today in Africa/Lagos)."
        )
        parser.add_argument(
            "--skip-missed",
            action="store_true",
            help="Do not replay the dates missed since the last run: process --date alone with today's "
            "figures (the missed dates get no snapshot and no auto-debit; recorded in the stats).",
        )

    def handle(self, *args, **options) -> None:
        raw = options.get("as_of")
        if raw:
            try:
                as_of = date.fromisoformat(raw)
            except ValueError as exc:
                raise CommandError(f"--date must be a date YYYY-MM-DD, not {raw!r}.") from exc
        else:
            as_of = business_date()
        if as_of > business_date():
            raise CommandError(f"{as_of:%Y-%m-%d} is in the future; end of day runs for past dates or today.")
        try:
            stats = run_end_of_day(as_of=as_of, skip_missed=options.get("skip_missed", False))
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(stats, indent=2, sort_keys=True))
