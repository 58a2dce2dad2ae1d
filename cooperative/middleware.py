"""Cross-cutting request handling: request ids, body size, staff idle timeout, staff MFA."""

from __future__ import annotations

import re
import time
import uuid
from http import HTTPStatus

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import devices_for_user

from .api.errors import PROBLEM_CONTENT_TYPE, problem_response, unavailable_problem
from .audit import record_event
from .authz import user_authz
from .cache import RETRY_AFTER_SECONDS, UNAVAILABLE_ERRORS
from .models import AuditLog

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Every request gets an id (the caller's X-Request-ID when sane), echoed in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("x-request-id", "")
        request.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class ApiProblemFallbackMiddleware:
    """Last line of defence for the RFC 9457 contract: any 4xx/5xx on /api/ that is not already a
    problem document (Django's debug 404/500 pages, errors raised outside DRF) becomes one."""

    _KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)
        ):
            try:
                title = HTTPStatus(response.status_code).phrase
            except ValueError:
                title = "Error"
            return problem_response(
                status=response.status_code,
                title=title,
                instance=request.get_full_path(),
                request_id=getattr(request, "request_id", ""),
                headers={k: response[k] for k in self._KEPT_HEADERS if response.has_header(k)},
            )
        return response


class ServiceUnavailableMiddleware:
    """A view that fails because Redis (cache or Celery broker) is unreachable answers 503 with
    Retry-After, never 500: a problem document on the API, a short page elsewhere. (Errors raised
    outside a view reach `cooperative.views.handler500`, which does the same.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, UNAVAILABLE_ERRORS):
            return unavailable_response(request)
        return None


def unavailable_response(request):
    if request.path.startswith(("/api/", "/health/")):
        return unavailable_problem(instance=request.path, request_id=getattr(request, "request_id", ""))
    response = HttpResponse(
        "<h1>Coopdesk is briefly unavailable</h1><p>A service it depends on is unreachable. "
        "Try again in a minute; nothing you submitted was lost or posted twice.</p>",
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class BodySizeLimitMiddleware:
    """Refuse oversized API bodies up front. DRF's parsers read the stream directly, which skips
    Django's DATA_UPLOAD_MAX_MEMORY_SIZE check, so the limit is enforced here on Content-Length."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.headers.get("content-length") or 0)
        except ValueError:
            length = 0
        if limit and length > limit and request.path.startswith("/api/"):
            return problem_response(
                status=413,
                title="Request body too large",
                detail=f"The body is {length} bytes; the limit is {limit} bytes.",
                instance=request.path,
                request_id=getattr(request, "request_id", ""),
            )
        return self.get_response(request)


class StaffSessionIdleTimeoutMiddleware:
    """Log a staff session out after STAFF_SESSION_IDLE_TIMEOUT seconds without a request.

    The last-seen time is rewritten at most every TOUCH_SECONDS, and never less often than a tenth of
    the timeout, so a busy teller's pages do not each end with a session UPDATE while someone active
    is never logged out early, whatever the setting (a timeout under 10 s rewrites it every request). It also
    loads the signed-in person's permissions, groups and branches from the shared cache
    (`cooperative.authz`, one round trip) before any view asks `has_perm`, instead of Django's
    ModelBackend querying them on every admin page."""

    SESSION_KEY = "_coopdesk_last_seen"
    TOUCH_SECONDS = 30

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            last_seen = request.session.get(self.SESSION_KEY)
            if last_seen is not None and now - int(last_seen) > settings.STAFF_SESSION_IDLE_TIMEOUT:
                logout(request)
                if request.path.startswith("/admin/"):
                    return redirect(f"{reverse('admin:login')}?next={request.path}&idle=1")
            else:
                touch = min(self.TOUCH_SECONDS, settings.STAFF_SESSION_IDLE_TIMEOUT // 10)
                if last_seen is None or now - int(last_seen) >= touch:
                    request.session[self.SESSION_KEY] = now
                user_authz(user)
        return self.get_response(request)


_UNAUDITED_WRITES = ("/admin/login/", "/admin/logout/", "/admin/jsi18n/", "/api/v1/auth/")


class ChangeRequestAuditMiddleware:
    """Every change that succeeds on the admin or the API (POST, PUT, PATCH, DELETE answered below
    400) leaves a CHANGE_REQUEST audit row: who, from which client IP, the path, the request id (the
    X-Request-ID echoed to the caller) and, for an admin bulk action, the action and the rows chosen.
    So each posting (`posted_by`, `posted_at`) and each bulk action has the address it came from,
    without the ledger's or the apps' own code knowing about requests. Sign-in is audited apart."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.method in ("POST", "PUT", "PATCH", "DELETE")
            and response.status_code < 400
            and request.path.startswith(("/admin/", "/api/"))
            and not request.path.startswith(_UNAUDITED_WRITES)
        ):
            user = getattr(request, "user", None)  # a JWT caller is set by DRF during the view
            if user is not None and user.is_authenticated:
                self._record(request, response)
        return response

    @staticmethod
    def _record(request, response) -> None:
        detail = {"method": request.method, "status": response.status_code}
        if request.path.startswith("/admin/") and request.POST.get("action"):
            selected = request.POST.getlist("_selected_action")
            detail.update(action=request.POST["action"][:100], selected=len(selected), ids=selected[:50])
        record_event(AuditLog.Event.CHANGE_REQUEST, request=request, detail=detail)


# Pages a password-authenticated but not yet OTP-verified staff member may reach.
_MFA_OPEN_PATHS = ("/admin/login/", "/admin/logout/", "/admin/mfa/", "/admin/jsi18n/", "/static/")


class StaffMFAMiddleware:
    """With REQUIRE_STAFF_MFA, the admin answers only to OTP-verified staff.

    Someone who logged in with a password but has no confirmed device is sent to the enrolment page
    (QR code); someone with a device but an unverified session goes back to the login page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.REQUIRE_STAFF_MFA and request.path.startswith("/admin/"):
            user = getattr(request, "user", None)
            if (
                user is not None
                and user.is_authenticated
                and not request.path.startswith(_MFA_OPEN_PATHS)
                and not user.is_verified()
            ):
                if any(True for _ in devices_for_user(user, confirmed=True)):
                    logout(request)
                    return redirect(f"{reverse('admin:login')}?next={request.path}")
                return redirect("admin:mfa-enrol")
        return self.get_response(request)
