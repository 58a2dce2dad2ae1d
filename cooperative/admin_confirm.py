"""The loop every admin page that changes something repeats, written once.

    form -> service -> a DomainError shown on the form -> message + redirect            (submit_form)
    ... and where money moves, a confirmation page between the form and the service:
    form -> confirmation page with a one-time token kept in the session -> post once   (Confirmation)

The token is also the service call's idempotency key (``admin:<token>``): a double click, a
resubmitted page or the back button finds the token used and asks ``replayed`` what the first post
did, so nothing is posted twice. The views keep their own forms, pages and messages; this module
knows no domain app (the services and the lookups of a replay are passed in).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect

from .exceptions import DomainError

EXPIRED = "This confirmation has expired or was already used. Please start again."


def add_domain_error(
    form, exc: DomainError, *, fields: Mapping[str, str] | None = None, on_field: bool = True
) -> None:
    """Put a refusal on the form: on the field it names when the form has it (``fields`` renames a
    service's field to the form's), else (or always, with ``on_field=False``) above the form."""
    field = (fields or {}).get(exc.field or "", exc.field)
    form.add_error(field if on_field and field in form.fields else None, exc.message)


@dataclass(frozen=True)
class Outcome:
    """What ``submit_form`` did: ``response`` (the redirect) when the service ran, else None with
    ``error`` set when the service refused (the form carries it) and None when the form is invalid."""

    response: HttpResponse | None = None
    error: DomainError | None = None


def submit_form(
    form,
    service: Callable[[dict], Any],
    *,
    done: Callable[[Any], HttpResponse],
    fields: Mapping[str, str] | None = None,
    on_field: bool = True,
) -> Outcome:
    """Validate the bound form, call ``service(cleaned_data)``, and answer ``done(result)``; a
    DomainError goes on the form instead (the caller renders the form again)."""
    if not form.is_valid():
        return Outcome()
    try:
        result = service(form.cleaned_data)
    except DomainError as exc:
        add_domain_error(form, exc, fields=fields, on_field=on_field)
        return Outcome(error=exc)
    return Outcome(response=done(result))


class Confirmation:
    """The one-time tokens of one kind of confirmation page, kept in the session under ``key``
    (token -> the payload the person confirmed; at most ``limit``, the oldest dropped first)."""

    def __init__(self, request, key: str, *, limit: int = 20) -> None:
        self.request = request
        self.key = key
        self.limit = limit

    @staticmethod
    def idempotency_key(token: str) -> str:
        return f"admin:{token}"

    def _pending(self) -> dict:
        return dict(self.request.session.get(self.key, {}))

    def issue(self, payload: dict) -> str:
        """Keep ``payload`` and return the token the confirmation page posts back."""
        token = secrets.token_urlsafe(24)
        pending = self._pending()
        while len(pending) >= self.limit:
            pending.pop(next(iter(pending)))
        pending[token] = payload
        self.request.session[self.key] = pending
        return token

    def discard(self, token: str) -> None:
        pending = self._pending()
        pending.pop(token, None)
        self.request.session[self.key] = pending

    def post(
        self,
        token: str,
        *,
        belongs: Callable[[dict], bool],
        service: Callable[[dict, str], Any],
        done: Callable[[dict, Any], HttpResponse],
        refused: Callable[[dict, DomainError], HttpResponse],
        replayed: Callable[[str], HttpResponse | None],
        start_again_url: str,
    ) -> HttpResponse:
        """Post a confirmed payload once.

        A token that is unknown, used, or issued for another page (``belongs`` says no) is a replay:
        ``replayed(idempotency_key)`` answers when the first post did something, else the person is
        sent back to start again. Otherwise ``service(payload, idempotency_key)`` runs; the token is
        spent either way, and ``done(payload, result)`` or ``refused(payload, error)`` answers."""
        payload = self._pending().get(token)
        key = self.idempotency_key(token)
        if payload is None or not belongs(payload):
            answer = replayed(key)
            if answer is not None:
                return answer
            messages.error(self.request, EXPIRED)
            return HttpResponseRedirect(start_again_url)
        try:
            result = service(payload, key)
        except DomainError as exc:
            self.discard(token)
            return refused(payload, exc)
        self.discard(token)
        return done(payload, result)
