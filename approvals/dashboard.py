"""The approvals' part of the admin dashboard: "My approvals", notices, and the header badge."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from cooperative import dashboard

from .formatting import naira
from .notices import unread_notices
from .selectors import awaiting_count, requests_awaiting

QUEUE_LIMIT = 50


def my_approvals(request) -> dict:
    user = request.user
    queryset = requests_awaiting(user).select_related("branch", "requested_by")
    rows = list(queryset[:QUEUE_LIMIT])
    now = timezone.now()
    return {
        "rows": [
            {
                "request": row,
                "url": reverse("admin:approvals_approvalrequest_decide", args=[row.pk]),
                "amount": naira(row.amount),
                "age": timesince(row.created_at, now).split(",")[0],
                "overdue": bool(row.timeout_at and row.timeout_at <= now),
            }
            for row in rows
        ],
        "more": max(0, awaiting_count(user) - len(rows)) if len(rows) == QUEUE_LIMIT else 0,
        "queue_url": reverse("admin:approvals_approvalrequest_changelist") + "?status__exact=PENDING",
    }


def my_notices(request) -> dict:
    return {"notices": unread_notices(request.user), "mark_read_url": reverse("admin:approvals_notices_read")}


def register_dashboard() -> None:
    dashboard.register(
        title="My approvals",
        template="approvals/widget_my_approvals.html",
        context=my_approvals,
        order=5,
        permission="approvals.view_approvalrequest",
    )
    dashboard.register(title="Notices", template="approvals/widget_notices.html", context=my_notices, order=6)
    dashboard.register_badge(
        label="My approvals",
        url=lambda: reverse("admin:approvals_approvalrequest_changelist") + "?mine=1",
        count=lambda request: awaiting_count(request.user),
        order=10,
        permission="approvals.view_approvalrequest",
    )
