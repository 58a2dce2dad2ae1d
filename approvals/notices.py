"""In-app notices: every state change of a request tells the requester and the next approvers.

`notify(users, title, body, url)` records one `Notice` per person (shown on the admin dashboard) and
hands the message to every registered channel. The notifications app, when it exists, registers a
channel (email, SMS, push) with `register_channel(fn)`; approvals does not import it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction
from django.utils import timezone

from .models import Notice

log = logging.getLogger(__name__)
_channels: list[Callable] = []


def register_channel(channel: Callable) -> None:
    """`channel(users, title, body, url)` runs after the commit that produced the notices."""
    if channel not in _channels:
        _channels.append(channel)


def notify(users: Iterable, title: str, body: str = "", url: str = "") -> int:
    """Record a notice for each distinct active user; returns how many were recorded."""
    recipients = {user.pk: user for user in users if user is not None and user.is_active}
    if not recipients:
        return 0
    now = timezone.now()
    Notice.objects.bulk_create(
        Notice(recipient_id=pk, title=title[:200], body=body, url=url[:400], created_at=now)
        for pk in recipients
    )
    people = list(recipients.values())
    for channel in list(_channels):
        transaction.on_commit(lambda channel=channel: _deliver(channel, people, title, body, url))
    return len(recipients)


def _deliver(channel: Callable, users: list, title: str, body: str, url: str) -> None:
    try:
        channel(users, title, body, url)
    except Exception:  # a failing channel must not lose the others' messages
        log.exception("Notice channel %r failed", channel)


def unread_notices(user, *, limit: int = 20) -> list[Notice]:
    if not user or not user.is_authenticated:
        return []
    return list(Notice.objects.filter(recipient=user, read_at__isnull=True)[:limit])


def mark_notices_read(*, user, notice_ids: Iterable | None = None) -> int:
    """Mark the user's own unread notices read (all of them when `notice_ids` is None)."""
    notices = Notice.objects.filter(recipient=user, read_at__isnull=True)
    if notice_ids is not None:
        ids = [int(i) for i in notice_ids if str(i).isdigit()]
        notices = notices.filter(pk__in=ids)
    # Notices carry no history, so a queryset update is fine here.
    return notices.update(read_at=timezone.now())
