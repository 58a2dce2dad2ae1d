"""Health probes and the error pages shared by admin and API."""

from __future__ import annotations

import sys
import time

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error

from .api.errors import problem_response
from .audit import record_event
from .cache import UNAVAILABLE_ERRORS
from .middleware import unavailable_response
from .models import AuditLog


@never_cache
@require_GET
def health_live(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = "coopdesk:health"
    cache.set(key, "ok", 10)  # with Redis down the degrading cache (cache.py) drops it: an error
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return the value just written")


def _check_broker() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    client.ping()


@never_cache
@require_GET
def health_ready(request):
    """Database, cache and (when configured) the Celery broker. 200 when all pass, else 503."""
    checks = {"database": _check_database, "cache": _check_cache}
    if settings.REDIS_URL:
        checks["broker"] = _check_broker
    results = {}
    for name, check in checks.items():
        started = time.monotonic()
        try:
            check()
            results[name] = {"status": "ok", "ms": round((time.monotonic() - started) * 1000, 1)}
        except Exception as exc:  # a probe reports every failure, whatever its kind
            results[name] = {"status": "error", "error": exc.__class__.__name__}
    failed = {name for name, result in results.items() if result["status"] != "ok"}
    if not failed:
        return JsonResponse({"status": "ok", "checks": results})
    # Database down: nothing works ("error"). Only Redis (cache, broker) down: staff and the API
    # keep working from the database, background jobs and notifications wait ("degraded").
    body = {"status": "error" if "database" in failed else "degraded", "checks": results}
    response = JsonResponse(body, status=503)
    response["Retry-After"] = "30"
    return response


def ratelimited(request, exception=None):
    """django-ratelimit's RATELIMIT_VIEW (via its middleware): a 429 problem (API) or page (admin)."""
    if _wants_problem(request):
        return problem_response(
            status=429,
            title="Too many requests",
            detail="Too many attempts from your address. Wait a minute and try again.",
            instance=request.path,
            request_id=getattr(request, "request_id", ""),
            headers={"Retry-After": "60"},
        )
    response = render(request, "cooperative/ratelimited.html", status=429)
    response["Retry-After"] = "60"
    return response


def _wants_problem(request) -> bool:
    return request.path.startswith(("/api/", "/health/"))


def handler404(request, exception=None):
    if _wants_problem(request):
        return problem_response(
            status=404,
            title="Not found",
            instance=request.path,
            request_id=getattr(request, "request_id", ""),
        )
    return page_not_found(request, exception)


def handler403(request, exception=None):

    record_event(
        AuditLog.Event.PERMISSION_DENIED,
        request=request,
        detail={"method": request.method, "path": request.path},
    )
    if _wants_problem(request):
        return problem_response(
            status=403,
            title="Permission denied",
            instance=request.path,
            request_id=getattr(request, "request_id", ""),
        )
    return permission_denied(request, exception)


def handler400(request, exception=None):
    if _wants_problem(request):
        return problem_response(
            status=400,
            title="Bad request",
            instance=request.path,
            request_id=getattr(request, "request_id", ""),
        )
    return bad_request(request, exception)


def handler500(request):
    if isinstance(sys.exc_info()[1], UNAVAILABLE_ERRORS):  # Redis down outside a view: 503, not 500
        return unavailable_response(request)
    if _wants_problem(request):
        return problem_response(
            status=500,
            title="Internal server error",
            instance=request.path,
            request_id=getattr(request, "request_id", ""),
        )
    return server_error(request)
