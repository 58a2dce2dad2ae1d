"""PostgreSQL-only: row locks, lock order and the database's own guards on the ledger."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from cooperative.exceptions import DomainError
from ledger import services
from ledger.models import Account, JournalEntry, Side, Transaction
from ledger.selectors import ledger_discrepancies
from tests.ledger.factories import make_account
from tests.postgres_harness import closing_connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
D = Decimal
CLEAN = {"balances": [], "unbalanced_entries": [], "entries_without_legs": [], "system_total": []}


def test_opposite_transfers_never_deadlock_and_leave_balances_unchanged(branch):
    # given two members with money
    a = make_account(branch, balance="100000.00")
    b = make_account(branch, balance="100000.00")

    @closing_connection
    def move(i):
        src, dst = (a, b) if i % 2 else (b, a)
        services.transfer(from_account_id=src.pk, to_account_id=dst.pk, amount=D("10.00"))
        return "ok"

    # when 200 transfers each way run at the same time
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(move, range(400)))

    # then every one succeeded and both balances are where they started
    assert results == ["ok"] * 400
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.balance, b.balance) == (D("100000.00"), D("100000.00"))
    assert ledger_discrepancies() == CLEAN


def test_concurrent_withdrawals_stop_exactly_at_zero(branch):
    savings = make_account(branch, balance="10000.00")
    barrier = threading.Barrier(30)

    @closing_connection
    def take(_):
        barrier.wait()
        try:
            services.withdraw(account_id=savings.pk, amount=D("1000.00"))
            return "ok"
        except DomainError as exc:
            return exc.__class__.__name__

    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(take, range(30)))

    assert results.count("ok") == 10
    assert results.count("InsufficientFunds") == 20
    savings.refresh_from_db()
    assert savings.balance == D("0.00")
    assert ledger_discrepancies() == CLEAN


def test_concurrent_holds_never_overcommit_a_guarantor(branch):
    savings = make_account(branch, balance="5000.00")
    barrier = threading.Barrier(10)

    @closing_connection
    def pledge(_):
        barrier.wait()
        try:
            services.place_hold(account_id=savings.pk, amount=D("1000.00"), reason="pledge")
            return "ok"
        except DomainError:
            return "refused"

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(pledge, range(10)))
    savings.refresh_from_db()
    assert results.count("ok") == 5
    assert savings.held_amount == D("5000.00")


def test_database_refuses_to_update_or_delete_posted_rows(branch):
    entry = services.deposit(account_id=make_account(branch).pk, amount=D("10.00"))
    leg = entry.legs.first()
    for statement in (
        ("UPDATE ledger_transaction SET amount = 99 WHERE id = %s", [leg.pk]),
        ("DELETE FROM ledger_transaction WHERE id = %s", [leg.pk]),
        ("UPDATE ledger_journalentry SET narration = 'x' WHERE id = %s", [entry.pk]),
        ("DELETE FROM ledger_journalentry WHERE id = %s", [entry.pk]),
    ):
        with pytest.raises(DatabaseError, match="append-only|immutable"):
            _execute_in_savepoint(*statement)
    # reconciliation columns remain writable
    Transaction.objects.filter(pk=leg.pk).update(reconciliation_status="RECONCILED")
    assert Transaction.objects.get(pk=leg.pk).reconciliation_status == "RECONCILED"


def _execute_in_savepoint(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _write_one_sided_entry(branch, account):
    with transaction.atomic():
        entry = JournalEntry.objects.create(
            reference="JEBAD1", kind="ADJUSTMENT", narration="bad", branch=branch
        )
        Transaction.objects.create(
            entry=entry,
            account=account,
            branch=branch,
            type=Side.CREDIT,
            amount=D("5.00"),
            balance_after=D("5.00"),
            reference="JEBAD1",
        )
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_database_refuses_an_unbalanced_entry_at_commit(branch):
    account = make_account(branch)
    with pytest.raises(DatabaseError, match="does not balance"):
        _write_one_sided_entry(branch, account)
    assert not JournalEntry.objects.filter(reference="JEBAD1").exists()
    assert Account.objects.get(pk=account.pk).balance == D("0.00")
