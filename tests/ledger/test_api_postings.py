"""Money-moving endpoints: deposit, withdraw, transfer, reverse. Happy paths, every bad input, roles
and branch scoping. Each refused request leaves the ledger untouched."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from guardian.shortcuts import assign_perm

from ledger import services
from ledger.exceptions import NotPermitted
from ledger.models import Account, JournalEntry
from ledger.selectors import ledger_discrepancies
from tests.ledger.factories import fund_till, make_account

pytestmark = pytest.mark.django_db
D = Decimal
PROBLEM = "application/problem+json"
CLEAN = {"balances": [], "unbalanced_entries": [], "entries_without_legs": [], "system_total": []}


def post(client, url, body, key: str | None = "auto"):
    headers = {}
    if key == "auto":
        key = str(uuid.uuid4())
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(url, body, format="json", **headers)


def deposit_url(account) -> str:
    return f"/api/v1/accounts/{account.pk}/deposit/"


def withdraw_url(account) -> str:
    return f"/api/v1/accounts/{account.pk}/withdraw/"


def balance(account) -> Decimal:
    return Account.objects.get(pk=account.pk).balance


def fields(response) -> set:
    return {e["field"] for e in response.json().get("errors", [])}


# --- Deposits and withdrawals ---------------------------------------------------------------------


def test_deposit_returns_the_entry_with_legs_and_new_balance(api_as, teller, branch):
    # given an account holding 1,000
    account = make_account(branch, balance="1000.00")
    # when the teller deposits 1,500.50 in cash
    response = post(api_as(teller), deposit_url(account), {"amount": "1500.50", "description": "Cash in"})
    # then the entry comes back with both legs and the account's new balance
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "DEPOSIT"
    assert body["reference"].startswith("JE")
    assert {(leg["type"], leg["amount"]) for leg in body["legs"]} == {
        ("DEBIT", "1500.50"),
        ("CREDIT", "1500.50"),
    }
    assert body["account"]["balance"] == "2500.50"
    assert body["account"]["available_balance"] == "2500.50"
    assert balance(account) == D("2500.50")
    entry = JournalEntry.objects.get(pk=body["id"])
    assert entry.posted_by == teller
    assert entry.idempotency_key.startswith(f"{teller.pk}:")
    assert ledger_discrepancies() == CLEAN


def test_deposit_by_bank_debits_the_bank_account(api_as, teller, branch):
    account = make_account(branch)
    body = post(api_as(teller), deposit_url(account), {"amount": "200", "channel": "bank"}).json()
    bank = services.ensure_gl_account(branch_id=branch.pk, gl_code="BANK")
    assert bank.balance == D("200.00")
    assert str(bank.pk) in {leg["account"] for leg in body["legs"]}


def test_withdraw_moves_money_out(api_as, teller, branch):
    account = make_account(branch, balance="5000.00")
    fund_till(branch, teller, "5000.00")
    response = post(
        api_as(teller), withdraw_url(account), {"amount": "1200.00", "description": "School fees"}
    )
    assert response.status_code == 201
    assert response.json()["kind"] == "WITHDRAWAL"
    assert response.json()["account"]["balance"] == "3800.00"
    assert balance(account) == D("3800.00")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "greater than zero"),
        ("-5.00", "greater than zero"),
        ("10.001", "two decimal"),
        ("abc", "valid amount"),
        ("", "valid amount"),
        ("NaN", "valid amount"),
        ("Infinity", "valid amount"),
        ("1000000000000000", "too large"),
        ("99999999999999999999", "too large"),
        ("1" * 40, "too large"),
        ("1e400", "too large"),
        ("-1e400", "greater than zero"),
        ("1e-400", "two decimal"),
        (True, "valid amount"),
        (None, "null"),
        ({"value": "10"}, "valid amount"),
        (["10"], "valid amount"),
    ],
)
def test_bad_amounts_are_400_naming_amount_and_post_nothing(api_as, teller, branch, amount, message):
    account = make_account(branch, balance="100.00")
    entries = JournalEntry.objects.count()
    response = post(api_as(teller), deposit_url(account), {"amount": amount})
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert "amount" in fields(response)
    assert message.lower() in response.json()["detail"].lower()
    assert JournalEntry.objects.count() == entries
    assert balance(account) == D("100.00")


def test_missing_amount_is_400(api_as, teller, branch):
    response = post(api_as(teller), deposit_url(make_account(branch)), {"description": "no amount"})
    assert response.status_code == 400
    assert fields(response) == {"amount"}


def test_json_numbers_are_accepted_only_when_exact_with_two_decimals(api_as, teller, branch):
    account = make_account(branch)
    client = api_as(teller)
    # an integer and an exact decimal number are fine
    assert post(client, deposit_url(account), {"amount": 1500}).status_code == 201
    assert post(client, deposit_url(account), {"amount": 0.5}).status_code == 201
    # a huge JSON number is refused, not a server error
    huge = client.post(
        deposit_url(account),
        data=b'{"amount": 1e400}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="huge",
    )
    assert huge.status_code == 400
    # a float artefact such as 0.1 + 0.2 is refused, not rounded to 0.30
    response = client.post(
        deposit_url(account),
        data=b'{"amount": 0.30000000000000004}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="float-artefact",
    )
    assert response.status_code == 400
    assert fields(response) == {"amount"}
    assert balance(account) == D("1500.50")


def test_malformed_json_is_400(api_as, teller, branch):
    response = api_as(teller).post(
        deposit_url(make_account(branch)),
        data=b'{"amount": "10"',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="broken-json",
    )
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM


def test_bad_channel_and_long_description_are_400(api_as, teller, branch):
    account = make_account(branch)
    client = api_as(teller)
    assert fields(post(client, deposit_url(account), {"amount": "10", "channel": "crypto"})) == {"channel"}
    assert fields(post(client, deposit_url(account), {"amount": "10", "description": "x" * 256})) == {
        "description"
    }


def test_overdraw_is_409_and_nothing_moves(api_as, teller, branch):
    account = make_account(branch, balance="500.00")
    response = post(api_as(teller), withdraw_url(account), {"amount": "500.01"})
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["title"] == "Insufficient funds"
    assert fields(response) == {"amount"}
    assert balance(account) == D("500.00")


def test_daily_limit_is_409(api_as, teller, branch):
    account = make_account(branch, balance="50000.00", daily_withdrawal_limit=D("10000.00"))
    fund_till(branch, teller, "50000.00")
    client = api_as(teller)
    assert post(client, withdraw_url(account), {"amount": "8000"}).status_code == 201
    response = post(client, withdraw_url(account), {"amount": "2000.01"})
    assert response.status_code == 409
    assert response.json()["title"] == "Daily withdrawal limit exceeded"


@pytest.mark.parametrize("close", [False, True])
def test_frozen_or_closed_account_is_409(api_as, teller, manager, branch, close):
    account = make_account(branch, balance="0.00")
    if close:
        services.close_account(account_id=account.pk, reason="Member request", actor=manager)
    else:
        services.freeze_account(account_id=account.pk, reason="Court order", actor=manager)
    response = post(api_as(teller), deposit_url(account), {"amount": "100.00"})
    assert response.status_code == 409
    assert response.json()["title"] == "Account not active"
    assert balance(account) == D("0.00")


def test_another_branchs_account_is_404_for_deposit_and_withdraw(api_as, teller, other_branch):
    theirs = make_account(other_branch, balance="1000.00")
    client = api_as(teller)
    for url in (deposit_url(theirs), withdraw_url(theirs)):
        response = post(client, url, {"amount": "10.00"})
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM
    assert balance(theirs) == D("1000.00")


def test_unknown_and_non_uuid_account_ids_are_404(api_as, teller, branch):
    client = api_as(teller)
    unknown = post(client, f"/api/v1/accounts/{uuid.uuid4()}/deposit/", {"amount": "10"})
    malformed = post(client, "/api/v1/accounts/12345/deposit/", {"amount": "10"})
    assert (unknown.status_code, malformed.status_code) == (404, 404)
    assert malformed["Content-Type"] == PROBLEM


def test_auditor_cannot_post_anything(api_as, auditor, branch):
    account = make_account(branch, balance="1000.00")
    other = make_account(branch)
    entry = JournalEntry.objects.filter(kind="DEPOSIT").first()
    client = api_as(auditor)
    responses = [
        post(client, deposit_url(account), {"amount": "10"}),
        post(client, withdraw_url(account), {"amount": "10"}),
        post(
            client,
            "/api/v1/transfers/",
            {"from_account": str(account.pk), "to_account": str(other.pk), "amount": "10"},
        ),
        post(client, f"/api/v1/journal-entries/{entry.pk}/reverse/", {"reason": "test"}),
    ]
    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert balance(account) == D("1000.00")


# --- Partners -------------------------------------------------------------------------------------


def _partner(make_staff, branch=None, *, may_post=False):
    partner = make_staff("PARTNER", branch)
    if may_post:
        partner.user_permissions.add(Permission.objects.get(codename="post_transaction"))
    return partner


def test_partner_without_the_grant_cannot_deposit(api_as, make_staff, branch):
    partner = _partner(make_staff, branch)
    account = make_account(branch)
    response = post(api_as(partner), deposit_url(account), {"amount": "100"})
    assert response.status_code == 403
    assert balance(account) == D("0.00")


def test_granted_partner_deposits_in_its_branch_but_never_withdraws(api_as, make_staff, branch):
    partner = _partner(make_staff, branch, may_post=True)
    account = make_account(branch, balance="1000.00")
    client = api_as(partner)
    assert post(client, deposit_url(account), {"amount": "250.00"}).status_code == 201
    assert post(client, withdraw_url(account), {"amount": "100.00"}).status_code == 403
    assert balance(account) == D("1250.00")


def test_partner_with_an_object_grant_reads_but_cannot_post_outside_its_branches(api_as, make_staff, branch):
    # given a partner granted one account (no branch) that may post deposits
    partner = _partner(make_staff, None, may_post=True)
    account = make_account(branch)
    assign_perm("ledger.view_account", partner, account)
    client = api_as(partner)
    # then it reads the account, but the ledger refuses a posting outside its branches
    assert client.get(f"/api/v1/accounts/{account.pk}/").status_code == 200
    response = post(client, deposit_url(account), {"amount": "10"})
    assert response.status_code == 403
    assert balance(account) == D("0.00")


# --- Transfers ------------------------------------------------------------------------------------


def test_transfer_to_another_branch_keeps_the_receivers_balance_private(
    api_as, teller, make_staff, branch, other_branch
):
    # given a member account in each branch
    alice = make_account(branch, balance="10000.00")
    bola = make_account(other_branch, balance="200.00")

    # when a teller of the first branch transfers to the other branch
    response = post(
        api_as(teller),
        "/api/v1/transfers/",
        {
            "from_account": str(alice.pk),
            "to_account": str(bola.pk),
            "amount": "1000.25",
            "description": "Rent",
        },
    )

    # then the money moved, the teller sees their member's new balance, and only the receiving
    # account's number: its balance belongs to the other branch (in the reply and in the legs)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "TRANSFER"
    assert body["from_account"]["balance"] == "8999.75"
    assert body["to_account"]["account_number"] == bola.account_number
    assert body["to_account"]["balance"] is None
    assert body["to_account"]["available_balance"] is None
    legs = {leg["account_number"]: leg for leg in body["legs"]}
    assert legs[bola.account_number]["balance_after"] is None
    assert legs[alice.account_number]["balance_after"] == "8999.75"
    entry = api_as(teller).get(f"/api/v1/journal-entries/{body['id']}/").json()
    assert {leg["account_number"]: leg["balance_after"] for leg in entry["legs"]} == {
        alice.account_number: "8999.75",
        bola.account_number: None,
    }
    bola.refresh_from_db()
    assert bola.balance == D("1200.25")
    # and an auditor, who reads every branch, sees both figures
    auditor = make_staff("AUDITOR", branch)
    entry = api_as(auditor).get(f"/api/v1/journal-entries/{body['id']}/").json()
    assert {leg["account_number"]: leg["balance_after"] for leg in entry["legs"]} == {
        alice.account_number: "8999.75",
        bola.account_number: "1200.25",
    }
    assert ledger_discrepancies() == CLEAN


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"from_account": "nope"}, "from_account"),
        ({"to_account": "nope"}, "to_account"),
        ({"from_account": None}, "from_account"),
        ({"to_account": "00000000-0000-0000-0000-000000000000"}, "to_account"),
        ({"to_account": "SAME"}, "to_account"),
        ({"amount": "1.999"}, "amount"),
        ({"amount": "-1"}, "amount"),
    ],
)
def test_transfer_bad_input_is_400_naming_the_field(api_as, teller, branch, change, field):
    source = make_account(branch, balance="500.00")
    destination = make_account(branch)
    body = {"from_account": str(source.pk), "to_account": str(destination.pk), "amount": "10.00"}
    body.update({k: (str(source.pk) if v == "SAME" else v) for k, v in change.items()})
    response = post(api_as(teller), "/api/v1/transfers/", body)
    assert response.status_code == 400
    assert field in fields(response)
    assert balance(source) == D("500.00")


def test_transfer_from_another_branchs_account_is_refused(api_as, teller, branch, other_branch):
    theirs = make_account(other_branch, balance="500.00")
    mine = make_account(branch)
    response = post(
        api_as(teller),
        "/api/v1/transfers/",
        {"from_account": str(theirs.pk), "to_account": str(mine.pk), "amount": "10.00"},
    )
    assert response.status_code == 400
    assert fields(response) == {"from_account"}
    assert balance(theirs) == D("500.00")


def test_transfer_overdraw_is_409_and_wrong_currency_is_400(api_as, teller, branch):
    naira = make_account(branch, balance="100.00")
    other = make_account(branch)
    dollars = make_account(branch, account_type="CASH", currency="USD")
    client = api_as(teller)
    overdraw = post(
        client,
        "/api/v1/transfers/",
        {"from_account": str(naira.pk), "to_account": str(other.pk), "amount": "101"},
    )
    currency = post(
        client,
        "/api/v1/transfers/",
        {"from_account": str(naira.pk), "to_account": str(dollars.pk), "amount": "1"},
    )
    assert overdraw.status_code == 409
    assert currency.status_code == 400
    assert currency.json()["title"] == "Currency mismatch"
    assert balance(naira) == D("100.00")


# --- Reversals ------------------------------------------------------------------------------------


def test_accountant_reverses_an_entry_once(api_as, teller, accountant, manager, branch):
    account = make_account(branch)
    deposit = post(api_as(teller), deposit_url(account), {"amount": "700.00"}).json()
    client = api_as(accountant)
    url = f"/api/v1/journal-entries/{deposit['id']}/reverse/"
    response = post(client, url, {"reason": "Posted to the wrong member"})
    # every reversal waits for a manager's approval (default policy): nothing is posted yet
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "PENDING_APPROVAL"
    assert balance(account) == D("700.00")
    decided = post(
        api_as(manager),
        f"/api/v1/approvals/{response.json()['approval_request']}/decide/",
        {"decision": "APPROVED"},
    )
    assert decided.status_code == 200, decided.json()
    mirror = JournalEntry.objects.get(reverses_id=deposit["id"])
    assert decided.json()["transaction"] == str(mirror.pk)
    body = {"id": str(mirror.pk)}
    assert (mirror.kind, mirror.posted_by) == ("REVERSAL", accountant)
    assert balance(account) == D("0.00")
    # a second reversal (new key) is refused
    again = post(client, url, {"reason": "again"})
    assert again.status_code == 409
    assert again.json()["title"] == "Already reversed"
    assert (
        api_as(accountant).get(f"/api/v1/journal-entries/{deposit['id']}/").json()["reversed_by"]
        == body["id"]
    )
    assert ledger_discrepancies() == CLEAN


def test_reverse_needs_a_reason_and_the_permission(api_as, teller, accountant, branch):
    account = make_account(branch, balance="300.00")
    entry = JournalEntry.objects.get(kind="DEPOSIT", legs__account=account)
    url = f"/api/v1/journal-entries/{entry.pk}/reverse/"
    assert post(api_as(teller), url, {"reason": "mine"}).status_code == 403
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = post(api_as(accountant), url, body)
        assert response.status_code == 400
        assert fields(response) == {"reason"}
    assert balance(account) == D("300.00")


def test_reverse_another_branchs_or_unknown_entry_is_404(api_as, make_staff, other_branch, branch):
    accountant = make_staff("ACCOUNTANT", branch)
    make_account(other_branch, balance="300.00")
    theirs = JournalEntry.objects.get(kind="DEPOSIT")
    client = api_as(accountant)
    assert post(client, f"/api/v1/journal-entries/{theirs.pk}/reverse/", {"reason": "x"}).status_code == 404
    assert (
        post(client, f"/api/v1/journal-entries/{uuid.uuid4()}/reverse/", {"reason": "x"}).status_code == 404
    )
    assert post(client, "/api/v1/journal-entries/JE1/reverse/", {"reason": "x"}).status_code == 404


def test_the_services_refuse_a_partner_taking_money_out_whatever_route_calls_them(make_staff, branch):
    # given a partner granted posting (it may deposit) and an account with money
    partner = _partner(make_staff, branch, may_post=True)
    account = make_account(branch, balance="1000.00")
    other = make_account(branch)

    # when a caller other than the API (no DRF permission class in the way) asks the services
    # then the withdrawal and the transfer are refused by the services themselves, nothing posted
    with pytest.raises(NotPermitted, match="deposits only"):
        services.withdraw(account_id=account.pk, amount=D("100.00"), actor=partner)
    with pytest.raises(NotPermitted, match="deposits only"):
        services.transfer(from_account_id=account.pk, to_account_id=other.pk, amount=D("1.00"), actor=partner)
    services.deposit(account_id=account.pk, amount=D("5.00"), actor=partner)
    assert balance(account) == D("1005.00")
