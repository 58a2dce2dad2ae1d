"""PostgreSQL: TRUNCATE of the ledger is refused too.

Row triggers (0003) refuse UPDATE and DELETE of entries and legs, but TRUNCATE fires no row trigger.
A statement-level BEFORE TRUNCATE trigger closes that door on journal entries and legs (the audit
log has its own, cooperative 0003). Only a session that sets `coopdesk.allow_truncate = on` may
truncate: the test settings do, because Django's test runner empties tables with TRUNCATE. The real
protection is running the application as a role that neither owns these tables nor holds TRUNCATE
(`manage.py grant_app_role`, docs/operations.md); an owner can always drop a trigger.
On SQLite this migration does nothing (SQLite has no TRUNCATE).
"""

from django.db import migrations

FORWARD = r"""
-- coopdesk_forbid_truncate() comes from cooperative 0003 (the audit log's guard).
CREATE TRIGGER ledger_journalentry_no_truncate BEFORE TRUNCATE ON ledger_journalentry
  FOR EACH STATEMENT EXECUTE FUNCTION coopdesk_forbid_truncate();
CREATE TRIGGER ledger_transaction_no_truncate BEFORE TRUNCATE ON ledger_transaction
  FOR EACH STATEMENT EXECUTE FUNCTION coopdesk_forbid_truncate();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS ledger_transaction_no_truncate ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_journalentry_no_truncate ON ledger_journalentry;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FORWARD)  # no params: the RAISE format's % must not be read as placeholders


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0007_fewer_write_indexes"),
        ("cooperative", "0003_postgres_audit_log_guards"),
    ]

    operations = [migrations.RunPython(forward, backward)]
