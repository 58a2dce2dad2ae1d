"""Idempotent POSTs: the `Idempotency-Key` header makes a retried money-moving request safe.

Decorate an APIView's `post` with `@idempotent`:

    class DepositApi(APIView):
        @extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER], ...)
        @idempotent
        def post(self, request, pk):
            entry = deposit(..., idempotency_key=service_idempotency_key(request))
            return Response(..., status=201)

What the decorator guarantees (see docs/idempotency.md for the contract partners read):

- The header is required: a POST without it (or with a malformed one) is a 400 problem and nothing
  runs.
- The first request with a (user, key) pair stores its response; a replay with the same method, path
  and body gets that stored status and body back (header `Idempotent-Replayed: true`) and runs
  nothing. The same key with another body or on another endpoint is a 409.
- The `IdempotencyRecord` row is inserted in the same `transaction.atomic` as the handler's work,
  before the handler runs. A racing duplicate's INSERT waits on the (user, key) unique index until
  the first transaction commits, then fails with IntegrityError and replays the stored response;
  if the first rolled back, the duplicate's INSERT succeeds and it runs as the first. So two
  requests with one key never both post (on PostgreSQL; SQLite serialises writers anyway).
- `@idempotent(record_after=True)` (the ledger's deposit and withdrawal endpoints) writes the row
  once, after the handler, with its response (`INSERT … ON CONFLICT DO NOTHING`). The handler
  hands the key to `post_entry`, whose unique key makes a racing duplicate wait for the first
  posting and then post nothing; when the record cannot be written because the key is taken,
  everything the request did is rolled back and the stored response is replayed. The guarantees
  are the same, at one write instead of an insert and an update.
- What is stored: 2xx responses and the domain's refusals (`DomainError`, e.g. 409 insufficient
  funds, 409 account frozen, 400 currency mismatch), because those are the outcome of the request.
  Not stored (the row is rolled back with everything else, the key stays free for a corrected
  retry): malformed input (400 from the serializer), unknown ids (404), authentication and
  permission failures (401/403, checked before the handler runs) and server errors (5xx).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any, cast

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from cooperative.api.errors import PROBLEM_CONTENT_TYPE
from cooperative.exceptions import Conflict, DomainError, ValidationFailed
from cooperative.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200  # leaves room for the "<user id>:" namespace in JournalEntry.idempotency_key
_KEY_PATTERN = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")  # visible ASCII, no spaces

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description=(
        "A unique key per intended operation (e.g. a UUID), at most 200 visible ASCII characters. "
        "Retrying with the same key and body returns the first response and moves no money twice; "
        "the same key with a different body is a 409."
    ),
)


class IdempotencyKeyMissing(ValidationFailed):
    title = "Idempotency-Key required"


class IdempotencyKeyReused(Conflict):
    title = "Idempotency-Key reused"


class _Discard(Exception):
    """Internal: roll the record back and answer `response` (a non-2xx reply that is not stored)."""

    def __init__(self, response):
        super().__init__("discarded")
        self.response = response


def request_key(request) -> str:
    """The caller's Idempotency-Key, validated (400 problem naming the header otherwise)."""
    key = (request.headers.get(HEADER) or "").strip()
    if not key:
        raise IdempotencyKeyMissing(
            f"Money-moving requests need an {HEADER} header (e.g. a fresh UUID per operation).",
            field=HEADER,
        )
    if not _KEY_PATTERN.fullmatch(key):
        raise IdempotencyKeyMissing(
            f"The {HEADER} is 1 to {MAX_KEY_LENGTH} visible ASCII characters without spaces.",
            field=HEADER,
        )
    return key


def service_idempotency_key(request) -> str:
    """The key to hand to a service (e.g. `post_entry(idempotency_key=...)`), namespaced by user so
    two users' keys never collide in the ledger."""
    return f"{request.user.pk}:{request_key(request)}"


def fingerprint(data) -> str:
    """A stable hash of a parsed request body (key order and whitespace do not matter)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _body_of(response) -> object:
    data = getattr(response, "data", None)
    if data is not None:
        return json.loads(JSONRenderer().render(data))
    content = getattr(response, "content", b"")
    return json.loads(content) if content else None


def _replay(record: IdempotencyRecord, *, scope: str, request_hash: str) -> Response:
    if record.scope != scope or record.request_hash != request_hash:
        raise IdempotencyKeyReused(
            f"This {HEADER} was already used for a different request ({record.scope}); "
            "use a new key for a new operation.",
            field=HEADER,
        )
    if record.response_status is None:  # defensive: rows are only committed with their response
        raise Conflict("The first request with this key is still being processed; retry shortly.")
    status = record.response_status
    return Response(
        record.response_body,
        status=status,
        headers={REPLAYED_HEADER: "true"},
        content_type=PROBLEM_CONTENT_TYPE if status >= 400 else None,
    )


class JsonReadyResponse(Response):
    """A Response whose `data` is stored as is by the idempotency record (see json_response)."""

    json_ready = True


def json_response(data, status: int) -> Response:
    """A Response whose `data` is already plain JSON (str, int, None, lists, dicts): the
    idempotency record stores it as is, without rendering and re-parsing it."""
    return JsonReadyResponse(data, status=status)


def _stored_body(response) -> object:
    if getattr(response, "json_ready", False):
        return response.data
    return _body_of(response)


def _insert_record(*, user, key, scope, request_hash, status, body) -> bool:
    """INSERT … ON CONFLICT DO NOTHING (PostgreSQL and SQLite): True when this request's record
    was written; False when the (user, key) pair is taken. On PostgreSQL a racing insert of the
    same pair waits for the other transaction, then writes (it rolled back) or not (it committed)."""
    meta = IdempotencyRecord._meta
    names = ("user", "key", "scope", "request_hash", "response_status", "response_body", "created_at")
    fields = [cast("Field[Any, Any]", meta.get_field(name)) for name in names]  # concrete columns
    assert meta.pk is not None
    pk_column = meta.pk.column
    values = (user.pk, key, scope, request_hash, status, body, timezone.now())
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True)]
    quote = connection.ops.quote_name
    # Table and column names from the model; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING RETURNING {quote(pk_column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


class PendingRecord:
    """The record a `record_after` request is going to store, on `request.idempotency_record`.

    A handler may have it written by its own last statement (`row()`, then `written`: True
    when inserted, False when the key turned out to be taken, None when it did not get to it);
    the decorator writes it otherwise. The ledger's posting views hand it to `post_entry` as a
    companion row, so no extra round trip is made while the accounts are locked."""

    model = IdempotencyRecord

    def __init__(self, *, user, key: str, scope: str, request_hash: str):
        self.user, self.key, self.scope, self.request_hash = user, key, scope, request_hash
        self.status: int | None = None
        self.body = None
        self.written: bool | None = None

    def row(self, status: int, body) -> dict:
        """The record's fields with this response (plain JSON `body`), remembered for the check
        that the handler answers exactly what was stored."""
        self.status, self.body = status, body
        return {
            "user": self.user.pk,
            "key": self.key,
            "scope": self.scope,
            "request_hash": self.request_hash,
            "response_status": status,
            "response_body": body,
            "created_at": timezone.now(),
        }


class _KeyTaken(Exception):
    """Internal: another request holds this (user, key); roll back and replay it."""


def _earlier(user, key) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(user=user, key=key).first()


def idempotent(handler=None, *, handler_savepoint: bool = True, record_after: bool = False):
    """Make an APIView `post` (or any unsafe method handler) idempotent per (user, Idempotency-Key).

    `handler_savepoint=False` skips the savepoint around the handler, two round trips on a hot path.
    Only for handlers whose every write happens inside an atomic service (e.g. the ledger's), so a
    refusal raised there has written nothing.

    `record_after=True` (the posting hot path) writes the record once, after the handler, instead
    of inserting it first and updating it with the response. For handlers whose every effect is a
    write in this transaction and which pass the key down to a service that refuses to post it twice
    (`post_entry(idempotency_key=...)`). A repeated key is then found when the record is written
    (`_insert_record`: a racer waits there, or on the ledger's own unique key, for the first
    transaction to finish); everything the repeat did is rolled back and the stored response is
    replayed. Same guarantees as above: one posting per key, the first outcome (refusals too)
    replayed, another body or endpoint a 409, and a request that answers 4xx without storing
    (malformed input, unknown id) leaves the key free — unless the key is already taken, which
    is a replay or a 409 as before.
    """
    if handler is None:
        return functools.partial(idempotent, handler_savepoint=handler_savepoint, record_after=record_after)
    if record_after:
        return _idempotent_record_after(handler)

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request_key(request)
        user = request.user
        scope = f"{request.method} {request.path}"[:255]
        request_hash = fingerprint(request.data)

        inserted = False
        try:
            with transaction.atomic():
                # Insert first: a racing duplicate waits here on the (user, key) unique index until
                # this transaction commits (then it replays) or rolls back (then it runs).
                record = IdempotencyRecord.objects.create(
                    user=user, key=key, scope=scope, request_hash=request_hash
                )
                inserted = True
                try:
                    if handler_savepoint:
                        with transaction.atomic():
                            response = handler(view, request, *args, **kwargs)
                    else:
                        response = handler(view, request, *args, **kwargs)
                except DomainError as exc:
                    response = view.handle_exception(exc)
                    stored = True
                else:
                    stored = 200 <= response.status_code < 300
                if not stored:
                    raise _Discard(response)
                record.response_status = response.status_code
                record.response_body = _stored_body(response)
                record.save(update_fields=["response_status", "response_body"])
                return response
        except _Discard as discard:
            return discard.response
        except IntegrityError:
            if inserted:
                raise
        # The key was used before (or by a request that committed while we waited): replay it.
        earlier = _earlier(user, key)
        if earlier is None:
            raise Conflict("A request with this key is being processed; retry shortly.")
        return _replay(earlier, scope=scope, request_hash=request_hash)

    wrapper.idempotent = True  # type: ignore[attr-defined]  # the mark the schema and tests look for
    return wrapper


def _idempotent_record_after(handler):
    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request_key(request)
        user = request.user
        scope = f"{request.method} {request.path}"[:255]
        request_hash = fingerprint(request.data)
        pending = PendingRecord(user=user, key=key, scope=scope, request_hash=request_hash)
        request.idempotency_record = pending
        try:
            with transaction.atomic():
                try:
                    response = handler(view, request, *args, **kwargs)
                except DomainError as exc:  # a refusal: raised before the service wrote anything
                    response = view.handle_exception(exc)
                    stored = True
                else:
                    stored = 200 <= response.status_code < 300
                if not stored:
                    raise _Discard(response)
                if pending.written is None:
                    pending.written = _insert_record(
                        user=user,
                        key=key,
                        scope=scope,
                        request_hash=request_hash,
                        status=response.status_code,
                        body=_stored_body(response),
                    )
                elif pending.written and (pending.status, pending.body) != (
                    response.status_code,
                    response.data,
                ):
                    # The handler stored one answer and returned another: refuse to commit that.
                    raise RuntimeError("the idempotency record differs from the response")
                if not pending.written:
                    raise _KeyTaken
                return response
        except _Discard as discard:
            earlier = _earlier(user, key)
            if earlier is None:
                return discard.response
        except _KeyTaken:
            earlier = _earlier(user, key)
            if earlier is None:  # pruned in between
                raise Conflict("A request with this key is being processed; retry shortly.") from None
        except (Http404, DjangoPermissionDenied, APIException):
            earlier = _earlier(user, key)
            if earlier is None:
                raise
        return _replay(earlier, scope=scope, request_hash=request_hash)

    wrapper.idempotent = True  # type: ignore[attr-defined]  # the mark the schema and tests look for
    return wrapper


__all__ = [
    "HEADER",
    "IDEMPOTENCY_KEY_PARAMETER",
    "IdempotencyKeyMissing",
    "IdempotencyKeyReused",
    "PendingRecord",
    "fingerprint",
    "idempotent",
    "json_response",
    "request_key",
    "service_idempotency_key",
]
