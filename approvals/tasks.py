"""Thin Celery tasks: the rules live in approvals.services."""

from __future__ import annotations

from celery import shared_task

from .services import process_deadlines


@shared_task(acks_late=True)
def process_approval_deadlines_task() -> dict:
    """Hourly (django-celery-beat): remind, escalate, expire. Idempotent, so a redelivery is harmless."""
    return process_deadlines()
