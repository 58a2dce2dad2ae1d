"""Dashboard widget registry. Apps add widgets in `AppConfig.ready()`:

    dashboard.register(title="My pending approvals", template="approvals/widget.html",
                       context=lambda request: {...}, order=10, permission="approvals.view_...")

`cooperative` renders them on /admin/ without importing the apps. A widget whose context is a
list of links can use the generic template "cooperative/widgets/list.html" with
`{"items": [{"label": ..., "url": ..., "count": ...}], "empty": "Nothing waiting."}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Widget:
    title: str
    template: str
    context: Callable
    order: int = 100
    permission: str | None = None


_widgets: list[Widget] = []


def register(
    *, title: str, template: str, context: Callable, order: int = 100, permission: str | None = None
) -> None:
    if any(w.title == title for w in _widgets):
        return  # ready() can run twice in tests
    _widgets.append(Widget(title, template, context, order, permission))


def widgets_for(request) -> list[dict]:
    shown = []
    for widget in sorted(_widgets, key=lambda w: w.order):
        if widget.permission and not request.user.has_perm(widget.permission):
            continue
        shown.append({"title": widget.title, "template": widget.template, **widget.context(request)})
    return shown


# --- Header badges --------------------------------------------------------------------------------
# A badge is a small count shown in the admin header on every page ("My approvals 3"). Apps
# register them in AppConfig.ready(); `count(request)` must be cheap (one indexed COUNT).


@dataclass(frozen=True)
class Badge:
    label: str
    url: Callable
    count: Callable
    order: int = 100
    permission: str | None = None


_badges: list[Badge] = []


def register_badge(
    *, label: str, url: Callable, count: Callable, order: int = 100, permission: str | None = None
) -> None:
    """`url()` -> link target; `count(request)` -> int (0 hides the number, not the link); shown only
    to holders of `permission` when one is given."""
    if any(b.label == label for b in _badges):
        return
    _badges.append(Badge(label, url, count, order, permission))


def badges_for(request) -> list[dict]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return []
    return [
        {"label": badge.label, "url": badge.url(), "count": badge.count(request)}
        for badge in sorted(_badges, key=lambda b: b.order)
        if not badge.permission or user.has_perm(badge.permission)
    ]
