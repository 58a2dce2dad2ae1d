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

import json

from django.db import connection

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


def write_entry(*, entry: dict, legs: list[dict], balances: dict, leg_defaults: dict, now) -> bool:
    """Insert `entry` with `legs` and set `balances` ({account id: new balance}). Returns False,
    having written nothing, when the entry clashes with an existing one (unique columns)."""
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
    # Constant fragments, one placeholder row per leg and account; every value is a parameter.
    sql = (
        f"WITH e AS ({_ENTRY}), "  # noqa: S608
        f"legs AS ({_LEGS.format(rows=', '.join([_LEG_ROW] * len(legs)))}), "
        f"balances AS ({_BALANCES.format(rows=', '.join([_BALANCE_ROW] * len(balances)))}) "
        "SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM legs), (SELECT count(*) FROM balances)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        entries, written_legs, updated = cursor.fetchone()
    if not entries:
        return False
    if written_legs != len(legs) or updated != len(balances):  # cannot happen: the rows are locked
        raise RuntimeError(f"posting wrote {written_legs} legs and {updated} balances")
    return True
