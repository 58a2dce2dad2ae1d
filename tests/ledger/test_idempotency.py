"""Idempotency-Key on money-moving POSTs (sequential cases; the racing ones are PostgreSQL tests in
test_api_concurrency.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cooperative.models import IdempotencyRecord
from ledger import services
from ledger.models import Account, JournalEntry
from tests.ledger.factories import make_account

pytestmark = pytest.mark.django_db
D = Decimal
PROBLEM = "application/problem+json"


def deposit(client, account, body, key):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(f"/api/v1/accounts/{account.pk}/deposit/", body, format="json", **headers)


def balance(account) -> Decimal:
    return Account.objects.get(pk=account.pk).balance


def test_replay_returns_the_first_response_and_posts_nothing(api_as, teller, branch):
    # given a deposit that went through
    account = make_account(branch)
    client = api_as(teller)
    first = deposit(client, account, {"amount": "1000.00", "description": "Salary"}, "key-001")
    entries = JournalEntry.objects.count()
    # when the client retries with the same key and body (keys in another order)
    second = deposit(client, account, {"description": "Salary", "amount": "1000.00"}, "key-001")
    # then it gets the very same answer, marked as a replay, and nothing else is posted
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert JournalEntry.objects.count() == entries
    assert balance(account) == D("1000.00")


def test_same_key_with_a_different_body_is_409(api_as, teller, branch):
    account = make_account(branch)
    client = api_as(teller)
    deposit(client, account, {"amount": "1000.00"}, "key-002")
    response = deposit(client, account, {"amount": "2000.00"}, "key-002")
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert balance(account) == D("1000.00")


def test_same_key_on_another_endpoint_is_409(api_as, teller, branch):
    account = make_account(branch, balance="5000.00")
    client = api_as(teller)
    deposit(client, account, {"amount": "100.00"}, "key-003")
    response = client.post(
        f"/api/v1/accounts/{account.pk}/withdraw/",
        {"amount": "100.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="key-003",
    )
    assert response.status_code == 409
    assert balance(account) == D("5100.00")


@pytest.mark.parametrize("key", [None, "", "   ", "has space", "x" * 201, "naïve"])
def test_missing_or_malformed_key_is_400_and_posts_nothing(api_as, teller, branch, key):
    account = make_account(branch)
    response = deposit(api_as(teller), account, {"amount": "10.00"}, key)
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert balance(account) == D("0.00")
    assert not IdempotencyRecord.objects.exists()


def test_keys_are_per_user(api_as, teller, make_staff, branch):
    # two tellers may happen to pick the same key: each gets their own posting
    other_teller = make_staff("TELLER", branch)
    account = make_account(branch)
    assert deposit(api_as(teller), account, {"amount": "10.00"}, "shared").status_code == 201
    assert deposit(api_as(other_teller), account, {"amount": "10.00"}, "shared").status_code == 201
    assert balance(account) == D("20.00")


def test_a_refusal_by_the_ledger_is_stored_and_replayed(api_as, teller, branch):
    # given a withdrawal refused for lack of funds
    account = make_account(branch, balance="100.00")
    client = api_as(teller)
    url = f"/api/v1/accounts/{account.pk}/withdraw/"
    first = client.post(url, {"amount": "500.00"}, format="json", HTTP_IDEMPOTENCY_KEY="refused")
    assert first.status_code == 409
    # when money arrives and the client retries the same request with the same key
    services.deposit(account_id=account.pk, amount=D("1000.00"))
    again = client.post(url, {"amount": "500.00"}, format="json", HTTP_IDEMPOTENCY_KEY="refused")
    # then the outcome of that key stays the refusal: no late withdrawal
    assert again.status_code == 409
    assert again.json() == first.json()
    assert again["Content-Type"] == PROBLEM
    assert again["Idempotent-Replayed"] == "true"
    assert balance(account) == D("1100.00")


def test_invalid_input_is_not_stored_so_the_key_can_be_reused_after_fixing_it(api_as, teller, branch):
    account = make_account(branch)
    client = api_as(teller)
    assert deposit(client, account, {"amount": "10.001"}, "typo").status_code == 400
    assert not IdempotencyRecord.objects.filter(key="typo").exists()
    fixed = deposit(client, account, {"amount": "10.00"}, "typo")
    assert fixed.status_code == 201
    assert balance(account) == D("10.00")


def test_not_found_and_forbidden_are_not_stored(api_as, teller, auditor, other_branch):
    theirs = make_account(other_branch)
    assert deposit(api_as(teller), theirs, {"amount": "10.00"}, "k404").status_code == 404
    assert deposit(api_as(auditor), theirs, {"amount": "10.00"}, "k403").status_code == 403
    assert not IdempotencyRecord.objects.exists()


def test_the_key_reaches_the_ledger_so_it_cannot_post_twice_even_without_the_record(api_as, teller, branch):
    # given a deposit posted through the API, whose stored response is later pruned
    account = make_account(branch)
    client = api_as(teller)
    first = deposit(client, account, {"amount": "75.00"}, "pruned")
    IdempotencyRecord.objects.all().delete()
    # when the same request comes again
    second = deposit(client, account, {"amount": "75.00"}, "pruned")
    # then the ledger recognises the key and returns the same entry instead of posting again
    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert balance(account) == D("75.00")


def test_transfer_and_reversal_replays_post_once(api_as, teller, accountant, manager, branch):
    source = make_account(branch, balance="1000.00")
    target = make_account(branch)
    body = {"from_account": str(source.pk), "to_account": str(target.pk), "amount": "250.00"}
    client = api_as(teller)
    one = client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    two = client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    assert one.json() == two.json()
    assert balance(target) == D("250.00")
    url = f"/api/v1/journal-entries/{one.json()['id']}/reverse/"
    acc = api_as(accountant)
    first = acc.post(url, {"reason": "Wrong member"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    second = acc.post(url, {"reason": "Wrong member"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    # the reversal waits for approval: the replay returns the same 202 and asks nothing again
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert balance(target) == D("250.00")
    decide = f"/api/v1/approvals/{first.json()['approval_request']}/decide/"
    for _ in range(2):  # a replayed decision posts nothing twice either
        api_as(manager).post(decide, {"decision": "APPROVED"}, format="json", HTTP_IDEMPOTENCY_KEY="a-1")
    assert balance(target) == D("0.00")
    assert JournalEntry.objects.filter(kind="REVERSAL").count() == 1
