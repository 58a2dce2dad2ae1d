"""PostgreSQL guards for the ledger, so even raw SQL cannot rewrite history:

- journal entries: no UPDATE, no DELETE;
- legs: no DELETE, and UPDATE only of the reconciliation columns;
- a deferred constraint trigger: at commit, every entry that received legs must balance.
On SQLite these are enforced in code and the admin only.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION ledger_forbid_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ledger rows are append-only (% on %): post a reversal instead', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ledger_leg_update_guard() RETURNS trigger AS $$
BEGIN
  IF (NEW.id, NEW.entry_id, NEW.account_id, NEW.branch_id, NEW.type, NEW.amount, NEW.balance_after,
      NEW.description, NEW.reference, NEW.status, NEW.value_date, NEW.created_at, NEW.created_by_id,
      NEW.metadata::text)
     IS DISTINCT FROM
     (OLD.id, OLD.entry_id, OLD.account_id, OLD.branch_id, OLD.type, OLD.amount, OLD.balance_after,
      OLD.description, OLD.reference, OLD.status, OLD.value_date, OLD.created_at, OLD.created_by_id,
      OLD.metadata::text) THEN
    RAISE EXCEPTION 'posted transactions are immutable: only reconciliation fields may change'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ledger_entry_balance_check() RETURNS trigger AS $$
DECLARE
  debits numeric; credits numeric;
BEGIN
  SELECT COALESCE(SUM(amount) FILTER (WHERE type = 'DEBIT'), 0),
         COALESCE(SUM(amount) FILTER (WHERE type = 'CREDIT'), 0)
    INTO debits, credits
    FROM ledger_transaction WHERE entry_id = NEW.entry_id;
  IF debits <> credits THEN
    RAISE EXCEPTION 'journal entry % does not balance: debits % credits %', NEW.entry_id, debits, credits
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_journalentry_immutable BEFORE UPDATE OR DELETE ON ledger_journalentry
  FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER ledger_transaction_no_delete BEFORE DELETE ON ledger_transaction
  FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER ledger_transaction_update_guard BEFORE UPDATE ON ledger_transaction
  FOR EACH ROW EXECUTE FUNCTION ledger_leg_update_guard();
CREATE CONSTRAINT TRIGGER ledger_transaction_balanced AFTER INSERT ON ledger_transaction
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balance_check();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_transaction_update_guard ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_transaction_no_delete ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_journalentry_immutable ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_entry_balance_check();
DROP FUNCTION IF EXISTS ledger_leg_update_guard();
DROP FUNCTION IF EXISTS ledger_forbid_change();
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
    dependencies = [("ledger", "0002_holds_and_constraints")]

    operations = [migrations.RunPython(forward, backward)]
