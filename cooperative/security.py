"""Who is calling: the client IP rule shared by axes, ratelimit and the audit log."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """REMOTE_ADDR, unless a trusted proxy header is configured.

    With TRUSTED_PROXY_HEADER (e.g. "X-Forwarded-For") the proxy appends the address it saw, so the
    right-most entry is the one our proxy vouches for; anything to its left is client-supplied and
    never trusted. Without the setting, X-Forwarded-For is ignored entirely, so spoofing it cannot
    dodge a lockout.
    """
    request = getattr(request, "_request", request)  # DRF Request wraps HttpRequest
    meta = request.META
    header = settings.TRUSTED_PROXY_HEADER
    if header:
        meta_key = "HTTP_" + header.upper().replace("-", "_")
        raw = meta.get(meta_key, "")
        if raw:
            candidate = _valid_ip(raw.split(",")[-1])
            if candidate:
                return candidate
    return _valid_ip(meta.get("REMOTE_ADDR", "") or "") or "0.0.0.0"  # noqa: S104 - unknown client


def axes_username(request, credentials) -> str:
    """Axes looks for 'username'; the API sends 'email'. Normalise both to the lower-case email."""
    value = ""
    if credentials:
        value = credentials.get("username") or credentials.get("email") or ""
    if not value and request is not None:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        try:
            value = data.get("username") or data.get("email") or ""
        except AttributeError:
            value = ""
    return str(value).strip().lower()


class ActiveUserModelBackend(ModelBackend):
    """Django's ModelBackend, but a suspended or departed user can neither sign in nor keep a
    session, however the flags were set (a QuerySet.update of `status` leaves is_active True)."""

    def user_can_authenticate(self, user) -> bool:
        return getattr(user, "can_sign_in", super().user_can_authenticate(user))
