"""The posting hot path (docs/performance.md): the plain input check and reply agree with the DRF
serializers they stand in for, the one-statement PostgreSQL writer writes exactly what the ORM
writer does, and a deposit costs the round trips it should."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from cooperative.models import IdempotencyRecord, User
from ledger import services
from ledger.api.serializers import (
    AccountPostingInputSerializer,
    AccountPostingSerializer,
    plain_posting_input,
    posting_data,
)
from ledger.exceptions import AlreadyReversed, InsufficientFunds
from ledger.models import Account, JournalEntry, Transaction
from ledger.selectors import ledger_discrepancies
from ledger.services import posting
from ledger.services._direct import post_reversal
from tests.ledger.factories import fund_till, make_account, make_member

pytestmark = pytest.mark.django_db
D = Decimal
CLEAN = {"balances": [], "unbalanced_entries": [], "entries_without_legs": [], "system_total": []}

PLAIN = [  # well-formed bodies: the plain check answers itself
    {"amount": "100.00"},
    {"amount": "100", "description": "  Salary  ", "channel": "bank"},
    {"amount": 250, "description": ""},
    {"amount": D("12.5")},
    {"amount": "1e2"},
    {"amount": "999999999999999.99"},
    {"amount": "100.00", "unknown": "ignored"},
    {"amount": "100.00", "description": "x" * 255},
    {"amount": "100.00", "description": "   " + "x" * 255 + "  "},
    {"amount": "100.00", "description": "tab\there"},
]
REFUSED = [  # the plain check steps aside and the serializer names the problem
    {},
    {"amount": ""},
    {"amount": None},
    {"amount": True},
    {"amount": 1.5},
    {"amount": "0"},
    {"amount": "-5"},
    {"amount": "10.001"},
    {"amount": "1e400"},
    {"amount": "NaN"},
    {"amount": "10^15"},
    {"amount": "1000000000000000"},
    {"amount": ["1"]},
    {"amount": "100.00", "description": None},
    {"amount": "100.00", "description": "x" * 256},
    {"amount": "100.00", "description": "nul\x00"},
    {"amount": "100.00", "description": "surrogate \ud800"},
    {"amount": "100.00", "channel": "cheque"},
    {"amount": "100.00", "channel": ""},
    {"amount": "100.00", "channel": None},
    ["not", "a", "dict"],
]


@pytest.mark.parametrize("body", PLAIN)
def test_plain_input_check_gives_what_the_serializer_gives(body):
    serializer = AccountPostingInputSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    assert plain_posting_input(body) == dict(serializer.validated_data)


@pytest.mark.parametrize("body", REFUSED)
def test_plain_input_check_leaves_bad_input_to_the_serializer(body):
    assert plain_posting_input(body) is None
    assert not AccountPostingInputSerializer(data=body).is_valid()


def test_an_unusual_but_valid_body_falls_back_to_the_serializer():
    body = {"amount": "100.00", "description": 42}  # DRF turns the number into "42"
    assert plain_posting_input(body) is None
    assert AccountPostingInputSerializer(data=body).is_valid()


def _as_json(data: dict) -> dict:
    """What the client receives, legs in id order."""
    data = json.loads(JSONRenderer().render(data))
    return {**data, "legs": sorted(data["legs"], key=lambda leg: leg["id"])}


@pytest.mark.parametrize("service", ["deposit", "withdraw"])
def test_plain_reply_equals_the_serializer(teller, branch, service):
    account = make_account(branch, balance="1000.00", minimum_balance=D("100.00"))
    fund_till(branch, teller, "1000.00")
    services.place_hold(account_id=account.pk, amount=D("50.00"), reason="pledge")
    entry = getattr(services, service)(account_id=account.pk, amount=D("200.50"), actor=teller)
    member_leg = next(leg for leg in entry.legs.all() if leg.account_id == account.pk)
    # the reply built from the posted objects ...
    plain = posting_data(entry, member_leg.account)
    # ... equals the documented serializer on the same entry read back from the database
    stored = JournalEntry.objects.prefetch_related("legs__account").get(pk=entry.pk)
    stored.account = Account.objects.get(pk=account.pk)
    assert _as_json(plain) == _as_json(AccountPostingSerializer(stored).data)
    assert json.loads(json.dumps(plain)) == plain  # plain JSON values, stored as they are
    assert [leg["type"] for leg in plain["legs"]] == ["DEBIT", "CREDIT"]
    assert plain["account"]["available_balance"] == ("1050.50" if service == "deposit" else "649.50")


def _rows(entry_id) -> dict:
    """What a posting wrote, without the values that differ between two postings."""
    entry = JournalEntry.objects.get(pk=entry_id)
    legs = list(Transaction.objects.filter(entry=entry).order_by("type"))
    skip_entry = {"id", "reference", "posted_at", "idempotency_key", "_state"}
    skip_leg = {"id", "entry_id", "reference", "created_at", "_state"}
    return {
        "entry": {k: v for k, v in vars(entry).items() if k not in skip_entry},
        "legs": [{k: v for k, v in vars(leg).items() if k not in skip_leg} for leg in legs],
        "same_reference": {leg.reference for leg in legs} == {entry.reference},
        "same_time": {leg.created_at for leg in legs} == {entry.posted_at},
    }


@pytest.mark.postgres
def test_the_one_statement_writer_writes_what_the_orm_writer_writes(teller, branch, monkeypatch):
    # given two identical accounts, each with a first deposit (so the GL accounts exist)
    one = make_account(branch, balance="500.00")
    two = make_account(branch, balance="500.00")
    fund_till(branch, teller, "240.00")
    # when the same withdrawal is posted by each writer
    by_sql = services.withdraw(account_id=one.pk, amount=D("120.00"), actor=teller, description="cash")
    monkeypatch.setattr(posting, "SQL_WRITER_ENABLED", False)
    by_orm = services.withdraw(account_id=two.pk, amount=D("120.00"), actor=teller, description="cash")
    # then the rows agree field by field (apart from the accounts and the running cash balance)
    sql_rows, orm_rows = _rows(by_sql.pk), _rows(by_orm.pk)
    for rows in (sql_rows, orm_rows):
        assert rows["same_reference"]
        assert rows["same_time"]
        for leg in rows["legs"]:
            leg.pop("account_id")
        rows["legs"][0].pop("balance_after")  # teller cash: the second withdrawal saw the first
    assert sql_rows == orm_rows
    assert Account.objects.get(pk=one.pk).balance == Account.objects.get(pk=two.pk).balance == D("380.00")
    assert ledger_discrepancies() == CLEAN


def test_a_repeated_key_writes_nothing_and_leaves_the_transaction_usable(teller, branch):
    account = make_account(branch)
    first = services.deposit(account_id=account.pk, amount=D("10.00"), actor=teller, idempotency_key="k-1")
    with transaction.atomic():
        again = services.deposit(
            account_id=account.pk, amount=D("99.00"), actor=teller, idempotency_key="k-1"
        )
        assert again.pk == first.pk
        # the transaction goes on
        assert Account.objects.get(pk=account.pk).balance == D("10.00")
    assert JournalEntry.objects.filter(idempotency_key="k-1").count() == 1


def test_a_second_reversal_is_refused_without_breaking_the_transaction(accountant, branch):
    account = make_account(branch, balance="300.00")
    entry = services.withdraw(account_id=account.pk, amount=D("100.00"))
    post_reversal(entry_id=entry.pk, reason="wrong member", actor=accountant)
    with transaction.atomic():
        with pytest.raises(AlreadyReversed):
            services.post_entry(
                kind=JournalEntry.Kind.REVERSAL,
                lines=[
                    services.Line(leg.account_id, "CREDIT" if leg.type == "DEBIT" else "DEBIT", leg.amount)
                    for leg in entry.legs.all()
                ],
                narration="again",
                reverses=entry,
                reversal_reason="again",
            )
        assert JournalEntry.objects.filter(reverses=entry).count() == 1  # still usable
    assert ledger_discrepancies() == CLEAN


def test_a_refusal_inside_a_callers_transaction_leaves_it_usable(teller, branch):
    account = make_account(branch, balance="10.00")
    with transaction.atomic():
        with pytest.raises(InsufficientFunds):
            services.withdraw(account_id=account.pk, amount=D("50.00"), actor=teller)
        IdempotencyRecord.objects.create(user=teller, key="after-refusal", scope="x", request_hash="y")
    assert IdempotencyRecord.objects.filter(key="after-refusal").exists()
    assert Account.objects.get(pk=account.pk).balance == D("10.00")


def test_the_first_posting_of_a_teller_in_a_new_branch_opens_their_till(teller, branch):
    account = services.open_account(member=make_member(branch), account_type="SAVINGS")
    assert not Account.objects.filter(branch=branch, gl_code="TELLER_CASH").exists()
    services.deposit(account_id=account.pk, amount=D("40.00"), actor=teller)
    assert Account.objects.get(branch=branch, gl_code="TELLER_CASH", till_teller=teller).balance == D("40.00")


@pytest.mark.postgres
def test_a_deposit_through_the_api_costs_two_statements(teller, branch):
    # given a teller whose roles are cached and an account whose branch has its GL accounts
    account = make_account(branch, balance="100.00")
    client = APIClient()
    client.force_authenticate(teller)

    def post():
        return client.post(
            f"/api/v1/accounts/{account.pk}/deposit/",
            {"amount": "10.00"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    assert post().status_code == 201
    # when it deposits again
    with CaptureQueriesContext(connection) as queries:
        assert post().status_code == 201
    # then: the roles come from the cache; inside its transaction (a savepoint in this test) one
    # locking read and one statement writing the entry, legs, balances and idempotency record; after
    # it, once the locks are gone, the audit trail's row with the client's IP (issue 12 §6)
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if "coopdesk_cache" not in q["sql"] and "SAVEPOINT" not in q["sql"]
    ]
    assert len(statements) == 3, statements
    locking_read, posting, audit = statements
    assert "FOR UPDATE" in locking_read
    assert posting.lstrip().startswith("WITH e AS")
    assert "cooperative_idempotencyrecord" in posting
    assert audit.startswith('INSERT INTO "cooperative_auditlog"')
    assert IdempotencyRecord.objects.filter(response_status=201).count() == 2


# --- Idempotency with the record written after the posting (`record_after=True`) -----------------


def _deposit(client, account, body, key):
    return client.post(
        f"/api/v1/accounts/{account.pk}/deposit/", body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_a_used_key_with_a_malformed_body_is_still_a_409(api_as, teller, branch):
    account = make_account(branch)
    client = api_as(teller)
    assert _deposit(client, account, {"amount": "10.00"}, "used").status_code == 201
    response = _deposit(client, account, {"amount": "10.001"}, "used")
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_stored_answer_is_replayed_even_when_the_account_is_now_out_of_reach(
    api_as, make_staff, branch, other_branch
):
    # given a deposit by a teller who then moves to another branch
    teller = make_staff("TELLER", branch)
    account = make_account(branch)
    first = _deposit(api_as(teller), account, {"amount": "10.00"}, "moved")
    teller.branches.set([other_branch])
    # when the client retries the same request
    again = _deposit(api_as(User.objects.get(pk=teller.pk)), account, {"amount": "10.00"}, "moved")
    # then it gets the first answer, and nothing more is posted
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Account.objects.get(pk=account.pk).balance == D("10.00")


def test_a_replay_rolls_back_whatever_the_repeat_did(api_as, teller, branch):
    # given a refused withdrawal (stored), then money arrives
    account = make_account(branch, balance="5.00")
    client = api_as(teller)
    url = f"/api/v1/accounts/{account.pk}/withdraw/"
    refused = client.post(url, {"amount": "50.00"}, format="json", HTTP_IDEMPOTENCY_KEY="again")
    assert refused.status_code == 409
    services.deposit(account_id=account.pk, amount=D("100.00"))
    entries = JournalEntry.objects.count()
    # when the same request is repeated (the repeat itself could now post)
    again = client.post(url, {"amount": "50.00"}, format="json", HTTP_IDEMPOTENCY_KEY="again")
    # then the stored refusal is the answer and the repeat's posting was rolled back
    assert again.status_code == 409
    assert again.json() == refused.json()
    assert JournalEntry.objects.count() == entries
    assert Account.objects.get(pk=account.pk).balance == D("105.00")
    assert IdempotencyRecord.objects.filter(key="again").count() == 1


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgres
@pytest.mark.parametrize("prepared", [True, False])
def test_the_two_posting_statements_are_planned_once_per_connection(settings, teller, branch, prepared):
    # given the setting (DATABASE_PREPARED_STATEMENTS) on or off
    settings.LEDGER_PREPARED_STATEMENTS = prepared
    account = make_account(branch)
    # when a teller deposits three times
    for _ in range(3):
        services.deposit(account_id=account.pk, amount=D("10.00"), actor=teller)
    # then PostgreSQL holds the locking read and the write as prepared statements (or none at all),
    # and the postings are the same either way
    statements = _prepared_statements()
    if prepared:
        assert any("FOR UPDATE" in s for s in statements)
        assert any(s.lstrip().startswith("WITH e AS") for s in statements)
        assert len(statements) == 2, statements
    else:
        assert statements == []
    assert Account.objects.get(pk=account.pk).balance == D("30.00")
    assert ledger_discrepancies() == CLEAN
