"""The request being served, for code that is handed no request: audit receivers (a group change,
a posting) and serializer fields that scope their choices to the caller.

`RequestContextMiddleware` sets it for the length of each request (a context variable, so threads
and async tasks each see their own); outside a request (jobs, commands, the shell) it is None.
The user is read from the request when asked, so an API caller authenticated by DRF inside the
view (JWT) is seen too: DRF puts the user it authenticated on the underlying HttpRequest.
"""

from __future__ import annotations

from contextvars import ContextVar

_current = ContextVar("coopdesk_request", default=None)


def current_request():
    """The HttpRequest being served, or None."""
    return _current.get()


def current_actor():
    """The authenticated user of the request being served, or None."""
    request = _current.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current.set(request)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
