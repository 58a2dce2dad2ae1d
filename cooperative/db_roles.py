"""Running the application as a PostgreSQL role that does not own the tables.

Migrations run as the owner (the role that created the schema); the application connects as a
separate login role holding only what it needs, so neither a bug nor an injected statement can
rewrite history, empty a table or switch a guard off:

- every table: SELECT, INSERT, UPDATE, DELETE, except
- journal entries: SELECT, INSERT (append-only);
- legs: SELECT, INSERT and UPDATE of the reconciliation columns only;
- the audit log: SELECT, INSERT and UPDATE of the user/branch links only (ON DELETE SET NULL);
- django_migrations: SELECT;
- never TRUNCATE, TRIGGER, REFERENCES, and no ownership (so no ALTER TABLE ... DISABLE TRIGGER).

`grant_app_role` applies this (idempotent: it revokes first); `database_role_problems` is what
the deploy check reports.
"""

from __future__ import annotations

from django.db import connection

ALL_DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
# table -> (table privileges, columns the role may UPDATE)
RESTRICTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ledger_journalentry": (("SELECT", "INSERT"), ()),
    "ledger_transaction": (
        ("SELECT", "INSERT"),
        ("reconciliation_status", "reconciled_at", "reconciled_by_id"),
    ),
    "cooperative_auditlog": (("SELECT", "INSERT"), ("user_id", "branch_id")),
    "django_migrations": (("SELECT",), ()),
}
# The table whose owner is "the owner" for the deploy check.
OWNER_PROBE_TABLE = "ledger_journalentry"


def grant_statements(role: str, tables: list[str], database: str) -> list[str]:
    q = connection.ops.quote_name
    role_q = q(role)
    statements = [
        f"GRANT CONNECT ON DATABASE {q(database)} TO {role_q}",
        f"GRANT USAGE ON SCHEMA public TO {role_q}",
        f"REVOKE CREATE ON SCHEMA public FROM {role_q}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role_q}",
    ]
    for table in sorted(tables):
        privileges, update_columns = RESTRICTED.get(table, (ALL_DML, ()))
        statements.append(f"REVOKE ALL ON TABLE {q(table)} FROM {role_q}")
        statements.append(f"GRANT {', '.join(privileges)} ON TABLE {q(table)} TO {role_q}")
        if update_columns:
            columns = ", ".join(q(column) for column in update_columns)
            statements.append(f"GRANT UPDATE ({columns}) ON TABLE {q(table)} TO {role_q}")
    return statements


def database_role_problems() -> tuple[str, str] | None:
    """("superuser" | "owner", role name) when the connection can bypass the guards, else None."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT current_user, r.rolsuper,
                   t.tableowner IS NOT NULL AND pg_has_role(current_user, t.tableowner, 'MEMBER')
            FROM pg_roles r
            LEFT JOIN pg_tables t ON t.schemaname = current_schema() AND t.tablename = %s
            WHERE r.rolname = current_user
            """,
            [OWNER_PROBE_TABLE],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    user, is_superuser, owns = row
    if is_superuser:
        return "superuser", user
    if owns:
        return "owner", user
    return None
