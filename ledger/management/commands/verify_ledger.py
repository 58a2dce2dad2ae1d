"""Recompute every balance from its legs and check every entry balances. Exit 1 on any mismatch."""

import sys
import time

from django.core.management.base import BaseCommand

from ledger.selectors import ledger_discrepancies


class Command(BaseCommand):
    help = "Verify the ledger: cached balances equal their legs, every entry balances, legs sum to zero."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=20, help="Offenders to print per check.")

    def handle(self, *args, **options):
        started = time.monotonic()
        problems = ledger_discrepancies(limit=options["limit"])
        elapsed = time.monotonic() - started
        failed = False
        labels = {
            "balances": "Accounts whose cached balance differs from their legs",
            "unbalanced_entries": "Journal entries whose debits differ from credits",
            "entries_without_legs": "Journal entries without legs",
            "system_total": "All legs do not sum to zero",
        }
        for key, rows in problems.items():
            if rows:
                failed = True
                self.stderr.write(self.style.ERROR(f"{labels[key]}:"))
                for row in rows:
                    self.stderr.write(f"  {row}")
        if failed:
            self.stderr.write(self.style.ERROR(f"Ledger verification FAILED ({elapsed:.1f}s)."))
            sys.exit(1)
        self.stdout.write(
            self.style.SUCCESS(f"Ledger OK: balances, entries and totals agree ({elapsed:.1f}s).")
        )
