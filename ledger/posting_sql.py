"""The write half of `post_entry` on PostgreSQL: the entry, its legs and the new balances in one
statement (a data-modifying CTE), instead of three ORM statements.

Only `ledger.services.post_entry` calls this, after it has locked the accounts, checked every rule
and computed each leg's balance. The entry is inserted with `ON CONFLICT DO NOTHING`: when the
idempotency key (or the reversed entry, or the reference) exists already, nothing at all is written
(the legs and the balance updates hang on the inserted entry), the transaction stays usable and
the caller decides what that means. The database's own guards still apply: the leg CHECK
constraints, the append-only triggers and the deferred balance trigger (migrations 0003).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from django.db import connection
from django.db.models import Field, Model

_ENTRY = """
INSERT INTO ledger_journalentry (id, reference, kind, narration, value_date, posted_at,
    posted_by_id, branch_id, idempotency_key, reverses_id, reversal_reason, metadata)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)
ON CONFLICT DO NOTHING
RETURNING id
"""
_LEG_ROW = "(%s::uuid, %s::uuid, %s::uuid, %s, %s::numeric, %s::numeric, %s)"
_LEGS = """
INSERT INTO ledger_transaction (id, entry_id, account_id, branch_id, type, amount, balance_after,
    description, reference, status, value_date, created_at, created_by_id, metadata,
    reconciliation_status)
SELECT v.id, e.id, v.account_id, v.branch_id, v.type, v.amount, v.balance_after, v.description,
    %s, %s, %s::date, %s::timestamptz, %s::uuid, '{{}}'::jsonb, %s
FROM e, (VALUES {rows}) AS v (id, account_id, branch_id, type, amount, balance_after, description)
RETURNING 1
"""
_BALANCE_ROW = "(%s::uuid, %s::numeric)"
_BALANCES = """
UPDATE ledger_account AS a SET balance = v.balance, updated_at = %s::timestamptz
FROM (VALUES {rows}) AS v (id, balance)
WHERE a.id = v.id AND EXISTS (SELECT 1 FROM e)
RETURNING 1
"""


def hot_cursor():
    """A cursor for the posting hot path's statements (the locking read and the write).

    PostgreSQL with `LEDGER_PREPARED_STATEMENTS`: server-side parameter binding, each statement
    prepared on its first use on the connection, so the server parses and plans it once rather
    than at every posting (the planner cost more server CPU per deposit than executing the
    statements did). Its statements still pass Django's cursor wrapper: query logging, execute
    wrappers and the test suite's query counts see them. Otherwise: Django's own cursor."""
    if connection.vendor != "postgresql" or not settings.LEDGER_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        # Django's private cursor set-up, on purpose (it wraps our cursor class like its own).
        return connection._prepare_cursor(_prepared_cursor_class()(connection.connection))  # type: ignore[attr-defined]


@functools.cache
def _prepared_cursor_class():
    # lazy: the PostgreSQL backend imports psycopg, which a SQLite-only install need not have
    from django.db.backends.postgresql.base import (  # type: ignore[attr-defined]  # noqa: PLC0415
        ServerBindingCursor,
    )

    class PreparedCursor(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            result = super().execute(query, params, prepare=True, binary=binary)
            # psycopg keeps no query text for a prepared execution; Django's query log (and the
            # tests' query counts) read it from `_query.query`.
            self._query = _LoggedQuery(query.encode() if isinstance(query, str) else b"")
            return result

    return PreparedCursor


@dataclass(frozen=True)
class _LoggedQuery:
    query: bytes
    params: None = None


@dataclass
class CompanionRow:
    """A row of the caller's written by the same statement as the entry, e.g. the API's
    idempotency record holding the response (built from the entry about to be written), so that
    no further round trip is made while the accounts are locked.

    `build(entry)` returns {field name: value} for `model`. The row is inserted only when the entry
    is, with `ON CONFLICT DO NOTHING`; afterwards `written` is True (inserted), False (a unique
    clash: e.g. the idempotency key is taken) or None (not attempted: the entry existed already, or
    the portable ORM writer ran — the owner then writes the row itself)."""

    model: type[Model]
    build: Callable[[object], dict]
    written: bool | None = None


def _companion_cte(companion: CompanionRow, entry_object) -> tuple[str, list]:
    values = companion.build(entry_object)
    sql, fields = _companion_insert(companion.model, tuple(values))
    return sql, [field.get_db_prep_save(values[field.name], connection) for field in fields]


@functools.cache
def _companion_insert(model: type[Model], names: tuple[str, ...]) -> tuple[str, list]:
    """The companion's INSERT for these fields of `model` (built once per model and field list)."""
    # A companion's values are concrete columns (no reverse relations or generic foreign keys).
    fields = cast(list[Field], [model._meta.get_field(name) for name in names])
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - model names
        f"SELECT {placeholders} WHERE EXISTS (SELECT 1 FROM e) ON CONFLICT DO NOTHING RETURNING 1"
    )
    return sql, fields


def write_entry(
    *,
    entry: dict,
    legs: list[dict],
    balances: dict,
    leg_defaults: dict,
    now,
    companion: CompanionRow | None = None,
    entry_object=None,
) -> bool:
    """Insert `entry` with `legs` and set `balances` ({account id: new balance}). Returns False,
    having written nothing, when the entry clashes with an existing one (unique columns).
    `companion` (built from `entry_object`) is inserted by the same statement."""
    params: list = [
        entry["id"],
        entry["reference"],
        entry["kind"],
        entry["narration"],
        entry["value_date"],
        entry["posted_at"],
        entry["posted_by_id"],
        entry["branch_id"],
        entry["idempotency_key"],
        entry["reverses_id"],
        entry["reversal_reason"],
        json.dumps(entry["metadata"]),
        leg_defaults["reference"],
        leg_defaults["status"],
        leg_defaults["value_date"],
        leg_defaults["created_at"],
        leg_defaults["created_by_id"],
        leg_defaults["reconciliation_status"],
    ]
    for leg in legs:
        params += [
            leg["id"],
            leg["account_id"],
            leg["branch_id"],
            leg["type"],
            leg["amount"],
            leg["balance_after"],
            leg["description"],
        ]
    params.append(now)
    for account_id, balance in balances.items():
        params += [account_id, balance]
    companion_sql, companion_count = "", "0"
    if companion is not None:
        extra, extra_params = _companion_cte(companion, entry_object)
        companion_sql, companion_count = f", companion AS ({extra})", "(SELECT count(*) FROM companion)"
        params += extra_params
    # Constant fragments, one placeholder row per leg and account; every value is a parameter.
    sql = (
        f"WITH e AS ({_ENTRY}), "  # noqa: S608
        f"legs AS ({_LEGS.format(rows=', '.join([_LEG_ROW] * len(legs)))}), "
        f"balances AS ({_BALANCES.format(rows=', '.join([_BALANCE_ROW] * len(balances)))})"
        f"{companion_sql} "
        "SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM legs), (SELECT count(*) FROM balances), "
        f"{companion_count}"
    )
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        entries, written_legs, updated, companions = cursor.fetchone()
    if not entries:
        return False
    if companion is not None:
        companion.written = bool(companions)
    if written_legs != len(legs) or updated != len(balances):  # cannot happen: the rows are locked
        raise RuntimeError(f"posting wrote {written_legs} legs and {updated} balances")
    return True
