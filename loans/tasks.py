"""Celery tasks of the loans app: thin wrappers around services and the end-of-day engine."""

from __future__ import annotations

from datetime import date

from celery import shared_task


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3300)
def run_end_of_day_task(as_of: str | None = None) -> dict:
    """Nightly end of day (django-celery-beat, 23:30 Africa/Lagos). Idempotent per date, so a
    redelivered task finds the date processed and does nothing."""
    from .eod import business_date, run_end_of_day  # lazy: the engine imports the services

    return run_end_of_day(as_of=date.fromisoformat(as_of) if as_of else business_date())
