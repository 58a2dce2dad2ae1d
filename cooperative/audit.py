"""AuditLog writer and the receivers for authentication events.

Model changes are audited by django-simple-history; this covers what is not a model change.
"""

from __future__ import annotations

import logging

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .authz import user_authz
from .models import AuditLog, User
from .security import client_ip

log = logging.getLogger(__name__)


def record_event(
    event: str,
    *,
    request=None,
    user=None,
    username: str = "",
    detail: dict | None = None,
) -> AuditLog:
    """Append one AuditLog row with who, where from and which request."""
    http_request = getattr(request, "_request", request)
    if user is None and http_request is not None:
        candidate = getattr(http_request, "user", None)
        if candidate is not None and candidate.is_authenticated:
            user = candidate
    branch_id = _first_branch_id(user) if user is not None and user.pk else None
    meta = getattr(http_request, "META", {}) if http_request is not None else {}
    return AuditLog.objects.create(
        event=event,
        user=user if user is not None and user.pk else None,
        username=(username or (user.email if user is not None and user.pk else ""))[:254],
        branch_id=branch_id,
        ip_address=client_ip(http_request) if http_request is not None else None,
        user_agent=meta.get("HTTP_USER_AGENT", "")[:400],
        request_id=getattr(http_request, "request_id", "")[:64] if http_request is not None else "",
        path=(getattr(http_request, "path", "") or "")[:400],
        detail=detail or {},
    )


def _first_branch_id(user):
    """The user's first branch by code; from the permission cache, without a query, for the usual
    one-branch member of staff (a change request audited on every posting must cost nothing)."""
    authz = user_authz(user)
    if authz is not None and len(authz.branch_ids) <= 1:
        return authz.branch_ids[0] if authz.branch_ids else None
    return user.branches.order_by("code").values_list("pk", flat=True).first()


@receiver(user_logged_in)
def _on_login(sender, request, user, **kwargs) -> None:
    if request is not None:
        record_event(AuditLog.Event.LOGIN_SUCCESS, request=request, user=user)


@receiver(user_logged_out)
def _on_logout(sender, request, user, **kwargs) -> None:
    if request is not None and user is not None:
        record_event(AuditLog.Event.LOGOUT, request=request, user=user)


@receiver(user_login_failed)
def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str((credentials or {}).get("username") or (credentials or {}).get("email") or "")
    username = username.strip().lower()
    # Link the row to the account that was tried (if it exists), so its branch can see it.
    user = User.objects.filter(email__iexact=username).first() if username else None
    record_event(
        AuditLog.Event.LOGIN_FAILURE,
        request=request,
        user=user,
        username=username,
        detail={"reason": "bad credentials or locked out"},
    )


@receiver(user_locked_out)
def _on_locked_out(sender, request, username=None, ip_address=None, **kwargs) -> None:
    username = str(username or "").strip().lower()
    record_event(
        AuditLog.Event.LOCKOUT,
        request=request,
        user=User.objects.filter(email__iexact=username).first() if username else None,
        username=username,
        detail={"ip_address": ip_address},
    )
