"""Delete stored Idempotency-Key replies older than the retention period.

Safe at any age: after a record is gone, a retried request reaches the ledger again, which finds the
entry already posted under the same key and posts nothing (see docs/idempotency.md)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cooperative.models import IdempotencyRecord

BATCH = 5000


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key replies older than --days (default 30)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30, help="Keep records younger than this.")

    def handle(self, *args, **options):
        days = options["days"]
        if days < 1:
            raise CommandError("--days must be at least 1: a client may still be retrying today.")
        cutoff = timezone.now() - timedelta(days=days)
        deleted = 0
        while True:  # in batches, so a large backlog never holds one long transaction
            ids = list(
                IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            deleted += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
        self.stdout.write(f"Deleted {deleted} idempotency record(s) older than {days} day(s).")
