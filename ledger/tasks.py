"""Thin Celery tasks of the ledger."""

from __future__ import annotations

import logging

from celery import shared_task

from cooperative.audit import record_event
from cooperative.models import AuditLog

from .selectors import ledger_discrepancies

log = logging.getLogger(__name__)


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3300)
def verify_ledger_task(limit: int = 20) -> dict:
    """Nightly (django-celery-beat): the checks of `manage.py verify_ledger`. Read-only, so a
    redelivery is harmless. Offenders are logged as errors and written to the audit log."""
    problems = ledger_discrepancies(limit=limit)
    offenders = {check: rows for check, rows in problems.items() if rows}
    if offenders:
        log.error("Ledger verification FAILED: %s", offenders)
        record_event(
            AuditLog.Event.OTHER,
            username="verify_ledger",
            detail={"check": "verify_ledger", "offenders": offenders},
        )
    else:
        log.info("Ledger OK: balances, entries and totals agree.")
    return {"ok": not offenders, **{check: len(rows) for check, rows in problems.items()}}
