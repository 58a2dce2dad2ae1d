"""PostgreSQL: the ledger and the audit log cannot be emptied, and the application's own role
(`grant_app_role`) can neither rewrite a leg nor TRUNCATE; the deploy check names a superuser."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from cooperative.audit import record_event
from cooperative.checks import check_database_role
from cooperative.models import AuditLog
from ledger import services
from ledger.models import Transaction
from tests.ledger.factories import make_account

pytestmark = pytest.mark.django_db


def _refused(sql: str) -> str:
    """Run `sql` in a savepoint; return the database's refusal (the test fails if it succeeds)."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return str(caught.value)


@pytest.fixture
def posted(branch):
    account = make_account(branch, balance="0.00")
    services.deposit(account_id=account.pk, amount=Decimal("2500.00"))
    record_event(AuditLog.Event.OTHER, username="probe@coop.ng")
    return account


@pytest.fixture
def guarded(posted):
    """The session as an application connection sees it: no test-runner truncate allowance."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL coopdesk.allow_truncate = off")
        # Run the deferred balance checks now: TRUNCATE refuses tables with pending trigger events,
        # which would hide what is tested here.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return posted


@pytest.fixture
def app_role(guarded):
    """A role granted by grant_app_role, the connection switched to it (rolled back with the test)."""
    role = f"coopdesk_test_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
    call_command("grant_app_role", "--role", role, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {role}")
    yield role
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["ledger_transaction", "ledger_journalentry", "cooperative_auditlog"])
def test_truncate_is_refused_even_for_the_owner(guarded, table):
    message = _refused(f"TRUNCATE {table} CASCADE")
    assert "TRUNCATE is refused" in message
    assert Transaction.objects.count() == 2
    assert AuditLog.objects.exists()


@pytest.mark.postgres
def test_audit_log_rows_cannot_be_rewritten_or_deleted(guarded):
    assert "append-only" in _refused("UPDATE cooperative_auditlog SET username = 'someone-else'")
    assert "append-only" in _refused("DELETE FROM cooperative_auditlog")


@pytest.mark.postgres
def test_the_app_role_cannot_rewrite_a_leg_or_truncate(app_role):
    assert "permission denied" in _refused("UPDATE ledger_transaction SET amount = amount * 2")
    assert "permission denied" in _refused("DELETE FROM ledger_journalentry")
    assert "permission denied" in _refused("TRUNCATE ledger_transaction CASCADE")
    assert "permission denied" in _refused("UPDATE cooperative_auditlog SET username = 'x'")
    assert "must be owner" in _refused("ALTER TABLE ledger_transaction DISABLE TRIGGER ALL")


@pytest.mark.postgres
def test_the_app_role_still_does_its_work(app_role, posted):
    # reads, postings, reconciliation and audit rows all work as the app role
    services.deposit(account_id=posted.pk, amount=Decimal("100.00"))
    leg = Transaction.objects.filter(account=posted).first()
    Transaction.objects.filter(pk=leg.pk).update(reconciliation_status=Transaction.Reconciliation.RECONCILED)
    record_event(AuditLog.Event.OTHER, username="app-role@coop.ng")
    posted.refresh_from_db()
    assert posted.balance == Decimal("2600.00")


@pytest.mark.postgres
def test_deploy_check_warns_for_a_superuser_and_not_for_the_app_role(guarded):
    # the test database connects as postgres, a superuser
    assert [w.id for w in check_database_role()] == ["cooperative.W001"]
    role = f"coopdesk_test_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute(f"SET LOCAL ROLE {role}")
    try:
        assert check_database_role() == []
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


@pytest.mark.postgres
def test_deploy_check_warns_for_the_tables_owner(guarded):
    role = f"coopdesk_test_owner_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'ledger_journalentry'")
        owner = cursor.fetchone()[0]
        cursor.execute(f"CREATE ROLE {role} NOLOGIN IN ROLE {connection.ops.quote_name(owner)}")
        cursor.execute(f"SET LOCAL ROLE {role}")
    try:
        assert [w.id for w in check_database_role()] == ["cooperative.W002"]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def test_grant_app_role_needs_postgresql():
    if connection.vendor == "postgresql":
        with pytest.raises(CommandError, match="No PostgreSQL role"):
            call_command("grant_app_role", "--role", "no_such_role_here")
    else:
        with pytest.raises(CommandError, match="needs PostgreSQL"):
            call_command("grant_app_role", "--role", "coopdesk_app")
        assert check_database_role() == []
