"""The ledger's dashboard widget (registered from LedgerConfig.ready())."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from cooperative.permissions import scope_queryset

from ..models import JournalEntry, Side, Transaction


def today_at_branch(request) -> dict:
    """Dashboard widget for tellers: today's deposits and withdrawals in the user's branches."""
    from datetime import datetime, time, timedelta

    from django.conf import settings
    from django.db.models import Count
    from django.utils import timezone

    from cooperative.permissions import sees_all_branches

    today = timezone.localdate()
    start = datetime.combine(today, time.min, tzinfo=timezone.get_current_timezone())
    legs = scope_queryset(Transaction.objects.all(), request.user).filter(
        created_at__gte=start, created_at__lt=start + timedelta(days=1), type=Side.DEBIT
    )
    figures = {}
    for name, kind in (
        ("deposits", JournalEntry.Kind.DEPOSIT),
        ("withdrawals", JournalEntry.Kind.WITHDRAWAL),
    ):
        # One debit leg per deposit (teller cash / bank) and per withdrawal (the member account).
        row = legs.filter(entry__kind=kind).aggregate(count=Count("id"), total=Sum("amount"))
        figures[f"{name}_count"] = row["count"]
        figures[f"{name}_total"] = row["total"] or Decimal("0.00")
    if sees_all_branches(request.user):
        branches = "All branches"
    else:
        branches = ", ".join(request.user.branches.order_by("code").values_list("name", flat=True))
    return {**figures, "day": today, "branches": branches, "currency": settings.COOP_CURRENCY}
