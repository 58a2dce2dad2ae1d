"""PostgreSQL-only: the money endpoints under real concurrency, each thread with its own API client
and database connection, as separate HTTP requests would be."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from cooperative.models import IdempotencyRecord
from ledger.models import Account, JournalEntry
from ledger.selectors import ledger_discrepancies
from tests.ledger.factories import fund_till, make_account
from tests.postgres_harness import run_concurrently

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("transactional_roles"),
]
D = Decimal
CLEAN = {"balances": [], "unbalanced_entries": [], "entries_without_legs": [], "system_total": []}


def assert_ledger_verifies() -> None:
    """What the nightly `verify_ledger` checks: cached balances equal legs, entries balance."""
    assert ledger_discrepancies() == CLEAN
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()


def post(client, url, body, key) -> tuple[int, dict]:
    response = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    return response.status_code, response.json()


def test_50_concurrent_withdrawals_of_1000_from_10000_let_exactly_10_through(teller, branch):
    # given 10,000 in savings
    account = make_account(branch, balance="10000.00")
    fund_till(branch, teller, "10000.00")  # the member's balance, not the till, is what runs out
    url = f"/api/v1/accounts/{account.pk}/withdraw/"
    barrier = threading.Barrier(50)

    def take(client, i):
        barrier.wait()
        return post(client, url, {"amount": "1000.00"}, f"withdraw-{i}")

    # when 50 requests withdraw 1,000 each at the same moment
    results = run_concurrently(teller, take, range(50), workers=50)

    # then exactly 10 succeed, the rest are refused with 409 and the balance is exactly zero
    statuses = [status for status, _ in results]
    assert statuses.count(201) == 10
    assert statuses.count(409) == 40
    assert {body["title"] for status, body in results if status == 409} == {"Insufficient funds"}
    assert Account.objects.get(pk=account.pk).balance == D("0.00")
    assert JournalEntry.objects.filter(kind="WITHDRAWAL").count() == 10
    assert_ledger_verifies()


def test_500_transfers_each_way_leave_balances_unchanged_without_deadlock_errors(teller, branch):
    # given two members with money
    a = make_account(branch, balance="100000.00")
    b = make_account(branch, balance="100000.00")

    def move(client, i):
        src, dst = (a, b) if i % 2 else (b, a)
        body = {"from_account": str(src.pk), "to_account": str(dst.pk), "amount": "10.00"}
        return post(client, "/api/v1/transfers/", body, f"transfer-{i}")

    # when 500 A->B and 500 B->A transfers race through the API
    results = run_concurrently(teller, move, range(1000), workers=16)

    # then every request succeeded (no deadlock or serialisation error reached a client)
    assert [status for status, _ in results] == [201] * 1000
    assert Account.objects.get(pk=a.pk).balance == D("100000.00")
    assert Account.objects.get(pk=b.pk).balance == D("100000.00")
    assert JournalEntry.objects.filter(kind="TRANSFER").count() == 1000
    assert_ledger_verifies()


def test_concurrent_replays_of_one_key_post_once_and_all_get_the_same_answer(teller, branch):
    # given one deposit request sent 10 times at once with the same Idempotency-Key
    account = make_account(branch)
    url = f"/api/v1/accounts/{account.pk}/deposit/"
    key = str(uuid.uuid4())
    barrier = threading.Barrier(10)

    def send(client, _):
        barrier.wait()
        return post(client, url, {"amount": "2500.00", "description": "Salary"}, key)

    results = run_concurrently(teller, send, range(10), workers=10)

    # then the money arrived once, and every caller got the first response
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    assert all(body == results[0][1] for _, body in results)
    assert Account.objects.get(pk=account.pk).balance == D("2500.00")
    assert JournalEntry.objects.filter(kind="DEPOSIT", legs__account=account).count() == 1
    assert IdempotencyRecord.objects.filter(key=key).count() == 1
    assert_ledger_verifies()


def test_concurrent_same_key_different_bodies_post_once(teller, branch):
    # a buggy client reuses one key for two different amounts at the same moment
    account = make_account(branch)
    url = f"/api/v1/accounts/{account.pk}/deposit/"
    barrier = threading.Barrier(6)

    def send(client, i):
        barrier.wait()
        return post(client, url, {"amount": "100.00" if i % 2 else "200.00"}, "one-key")

    results = run_concurrently(teller, send, range(6), workers=6)

    statuses = sorted(status for status, _ in results)
    winner = Account.objects.get(pk=account.pk).balance
    assert winner in (D("100.00"), D("200.00"))
    # the winner's body replays (201); the other body is a conflict (409)
    assert statuses == [201, 201, 201, 409, 409, 409]
    assert_ledger_verifies()
