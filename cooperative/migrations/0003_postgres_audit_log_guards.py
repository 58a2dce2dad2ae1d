"""PostgreSQL: the audit log is append-only in the database too.

- no TRUNCATE (a statement trigger; the function is shared with the ledger's guard, ledger 0008);
- no DELETE;
- UPDATE only to clear the user or branch link (what ON DELETE SET NULL does when a user or branch
  row is deleted); every recorded fact (event, name typed, IP, time, detail) stays as written.
`coopdesk.allow_truncate = on` (test settings only) lets the test runner empty the table.
On SQLite the model's save()/delete() guards are the only ones.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION coopdesk_forbid_truncate() RETURNS trigger AS $$
BEGIN
  IF coalesce(current_setting('coopdesk.allow_truncate', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION '% is append-only: TRUNCATE is refused', TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION cooperative_auditlog_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'audit log rows are append-only (DELETE)'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF (NEW.id, NEW.created_at, NEW.event, NEW.username, NEW.ip_address, NEW.user_agent, NEW.request_id,
      NEW.path, NEW.detail::text)
     IS DISTINCT FROM
     (OLD.id, OLD.created_at, OLD.event, OLD.username, OLD.ip_address, OLD.user_agent, OLD.request_id,
      OLD.path, OLD.detail::text)
     OR (NEW.user_id IS DISTINCT FROM OLD.user_id AND NEW.user_id IS NOT NULL)
     OR (NEW.branch_id IS DISTINCT FROM OLD.branch_id AND NEW.branch_id IS NOT NULL) THEN
    RAISE EXCEPTION 'audit log rows are append-only: only a deleted user or branch link may be cleared'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cooperative_auditlog_append_only BEFORE UPDATE OR DELETE ON cooperative_auditlog
  FOR EACH ROW EXECUTE FUNCTION cooperative_auditlog_guard();
CREATE TRIGGER cooperative_auditlog_no_truncate BEFORE TRUNCATE ON cooperative_auditlog
  FOR EACH STATEMENT EXECUTE FUNCTION coopdesk_forbid_truncate();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS cooperative_auditlog_no_truncate ON cooperative_auditlog;
DROP TRIGGER IF EXISTS cooperative_auditlog_append_only ON cooperative_auditlog;
DROP FUNCTION IF EXISTS cooperative_auditlog_guard();
DROP FUNCTION IF EXISTS coopdesk_forbid_truncate();
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
    dependencies = [("cooperative", "0002_fewer_write_indexes")]

    operations = [migrations.RunPython(forward, backward)]
