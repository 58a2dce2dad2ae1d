"""Celery tasks of the loans app: thin wrappers around services and the end-of-day engine."""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task

from .eod import CatchUpRefused, business_date, run_end_of_day

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3300)
def run_end_of_day_task(as_of: str | None = None) -> dict:
    """Nightly end of day (django-celery-beat, 23:30 Africa/Lagos). Idempotent per date, so a
    redelivered task finds the date processed and does nothing. A catch-up that cannot be replayed
    as daily runs would have fails the task with the reason and the way out (`CatchUpRefused`), logged
    as an error: it fails again every night until someone follows it."""
    try:
        return run_end_of_day(as_of=date.fromisoformat(as_of) if as_of else business_date())
    except CatchUpRefused as exc:
        logger.error("end of day refused: %s", exc)  # the message is the whole story (no traceback)
        raise
