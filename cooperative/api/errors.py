"""RFC 9457 problem details for every API error.

Shape: {"type", "title", "status", "detail", "instance", "request_id", "errors": [{"field", "message"}]}
with Content-Type application/problem+json. `field` is a dotted path ("lines.0.amount").
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions
from rest_framework.views import exception_handler

from cooperative.audit import record_event
from cooperative.cache import RETRY_AFTER_SECONDS, UNAVAILABLE_ERRORS
from cooperative.exceptions import DomainError
from cooperative.models import AuditLog

log = logging.getLogger(__name__)
PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://coopdesk.example/problems/"


def _flatten(detail, path: str = "") -> list[dict]:
    """Turn DRF's nested error detail into [{"field": "a.0.b", "message": ...}]."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            out.extend(_flatten(value, f"{path}.{name}" if path and name else (name or path)))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [{"field": path or None, "message": str(item)} for item in detail]
        out = []
        for index, item in enumerate(detail):
            out.extend(_flatten(item, f"{path}.{index}" if path else str(index)))
        return out
    return [{"field": path or None, "message": str(detail)}]


def problem_response(
    *,
    status: int,
    title: str,
    detail: str = "",
    instance: str = "",
    errors=None,
    type_=None,
    request_id: str = "",
    headers: dict | None = None,
) -> JsonResponse:
    body = {
        "type": type_ or "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def unavailable_problem(*, instance: str, request_id: str) -> JsonResponse:
    """503 + Retry-After: a service we depend on (Redis) is down; the request may be repeated."""
    log.error("Service unavailable: Redis (cache or broker) is unreachable", exc_info=True)
    return problem_response(
        status=503,
        title="Service unavailable",
        detail="A service Coopdesk depends on is unreachable for a moment. Try again shortly "
        "(a money request with the same Idempotency-Key never posts twice).",
        instance=instance,
        request_id=request_id,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def problem_exception_handler(exc, context):
    request = context.get("request")
    instance = request.get_full_path() if request is not None else ""
    request_id = getattr(getattr(request, "_request", request), "request_id", "")

    if isinstance(exc, DomainError):
        errors = [{"field": exc.field, "message": exc.message}] if exc.field else None
        return problem_response(
            status=exc.status,
            title=exc.title,
            detail=exc.message,
            instance=instance,
            errors=errors,
            type_=PROBLEM_TYPE_BASE + exc.code,
            request_id=request_id,
        )
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return unavailable_problem(instance=instance, request_id=request_id)
    if isinstance(exc, Ratelimited):  # a PermissionDenied subclass, but it means "slow down"
        return problem_response(
            status=429,
            title="Too many requests",
            detail="Too many attempts from your address. Wait a minute and try again.",
            instance=instance,
            request_id=request_id,
            headers={"Retry-After": "60"},
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        log.exception("Unhandled API error", exc_info=exc)
        return problem_response(
            status=500,
            title="Internal server error",
            detail="Something went wrong on our side; the request id identifies it in our logs.",
            instance=instance,
            request_id=request_id,
        )

    if isinstance(exc, exceptions.PermissionDenied) and request is not None:
        record_event(
            AuditLog.Event.PERMISSION_DENIED,
            request=request,
            detail={"method": request.method, "path": instance},
        )

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        title, detail = (
            "Invalid input",
            "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors),
        )
    else:
        errors = None
        raw = getattr(exc, "detail", "")
        if isinstance(raw, dict):  # simplejwt: {"detail": ..., "code": ..., "messages": [...]}
            raw = raw.get("detail", "")
        detail = "" if isinstance(raw, (dict, list)) else str(raw)
        title = getattr(exc, "problem_title", None) or {
            400: "Bad request",
            401: "Authentication required",
            403: "Permission denied",
            404: "Not found",
            405: "Method not allowed",
            406: "Not acceptable",
            409: "Conflict",
            413: "Request body too large",
            415: "Unsupported media type",
            429: "Too many requests",
        }.get(response.status_code, "Error")
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
    problem_type = getattr(exc, "problem_type", None)
    return problem_response(
        status=response.status_code,
        title=title,
        detail=detail,
        instance=instance,
        errors=errors,
        type_=PROBLEM_TYPE_BASE + problem_type if problem_type else None,
        request_id=request_id,
        headers=headers,
    )
