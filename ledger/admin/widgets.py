"""The ledger's dashboard widget (registered from LedgerConfig.ready())."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from ..selectors import counter_day_totals, ready_to_pay_withdrawals


def today_at_branch(request) -> dict:
    """Dashboard widget for tellers: today's deposits and withdrawals in the user's branches."""
    today = timezone.localdate()
    figures = counter_day_totals(user=request.user, day=today)
    return {**figures, "day": today, "currency": settings.COOP_CURRENCY}


def ready_to_pay(request) -> dict:
    """Dashboard widget for tellers: approved cash withdrawals waiting for cash, each paid out with
    one click from the teller's own till."""
    return {"requests": list(ready_to_pay_withdrawals(user=request.user)[:20])}
