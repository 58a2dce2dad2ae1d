"""Movements (legs) and journal entries: cursor pagination, filters, branch scoping."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from ledger import services
from ledger.models import JournalEntry
from tests.ledger.factories import make_account

pytestmark = pytest.mark.django_db
D = Decimal
PROBLEM = "application/problem+json"


def legs_url(account) -> str:
    return f"/api/v1/accounts/{account.pk}/transactions/"


def amounts(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["amount"] for row in response.json()["results"]]


def test_account_movements_newest_first_with_running_balance(api_as, teller, branch):
    # given a deposit, a withdrawal and another deposit
    account = make_account(branch, balance="1000.00")
    services.withdraw(account_id=account.pk, amount=D("300.00"))
    services.deposit(account_id=account.pk, amount=D("50.25"))
    # when the teller reads the account's movements
    response = api_as(teller).get(legs_url(account))
    # then they come newest first, each with the balance after it
    rows = response.json()["results"]
    assert [(r["type"], r["amount"], r["balance_after"]) for r in rows] == [
        ("CREDIT", "50.25", "750.25"),
        ("DEBIT", "300.00", "700.00"),
        ("CREDIT", "1000.00", "1000.00"),
    ]
    assert rows[0]["kind"] == "DEPOSIT"
    assert rows[0]["account_number"] == account.account_number


def test_account_movements_are_cursor_paginated(api_as, teller, branch):
    account = make_account(branch)
    for n in range(1, 6):
        services.deposit(account_id=account.pk, amount=D(n))
    client = api_as(teller)
    first = client.get(legs_url(account), {"page_size": 2}).json()
    assert "count" not in first
    assert [r["amount"] for r in first["results"]] == ["5.00", "4.00"]
    second = client.get(first["next"]).json()
    assert [r["amount"] for r in second["results"]] == ["3.00", "2.00"]
    third = client.get(second["next"]).json()
    assert [r["amount"] for r in third["results"]] == ["1.00"]
    assert third["next"] is None


def test_account_movements_filters(api_as, teller, branch):
    account = make_account(branch, balance="1000.00")
    services.withdraw(account_id=account.pk, amount=D("300.00"))
    old = services.deposit(
        account_id=account.pk, amount=D("20.00"), value_date=timezone.localdate() - timedelta(days=10)
    )
    client = api_as(teller)
    today = timezone.localdate().isoformat()
    assert amounts(client.get(legs_url(account), {"type": "DEBIT"})) == ["300.00"]
    assert amounts(client.get(legs_url(account), {"date_from": today})) == ["300.00", "1000.00"]
    assert amounts(client.get(legs_url(account), {"date_to": old.value_date.isoformat()})) == ["20.00"]
    assert amounts(client.get(legs_url(account), {"amount_min": "100", "amount_max": "500"})) == ["300.00"]
    assert amounts(client.get(legs_url(account), {"kind": "WITHDRAWAL"})) == ["300.00"]
    assert len(amounts(client.get(legs_url(account), {"reconciliation_status": "UNRECONCILED"}))) == 3


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("date_from", "yesterday"),
        ("date_to", "2026-02-30"),
        ("amount_min", "lots"),
        ("amount_max", "1e400"),
        ("type", "SIDEWAYS"),
        ("reconciliation_status", "x"),
    ],
)
def test_bad_filter_values_are_400_naming_the_parameter(api_as, teller, branch, param, value):
    response = api_as(teller).get(legs_url(make_account(branch)), {param: value})
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert param in {e["field"] for e in response.json()["errors"]}


def test_another_branchs_account_movements_are_404(api_as, teller, other_branch):
    theirs = make_account(other_branch, balance="10.00")
    response = api_as(teller).get(legs_url(theirs))
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_all_movements_list_only_the_callers_branches(api_as, teller, branch, other_branch):
    make_account(branch, balance="111.00")
    make_account(other_branch, balance="999.00")
    rows = api_as(teller).get("/api/v1/transactions/").json()["results"]
    assert {r["amount"] for r in rows} == {"111.00"}
    assert {r["branch"] for r in rows} == {str(branch.pk)}


def test_all_movements_filter_by_branch_and_account_for_an_auditor(api_as, auditor, branch, other_branch):
    mine = make_account(branch, balance="111.00")
    theirs = make_account(other_branch, balance="999.00")
    client = api_as(auditor)
    assert amounts(client.get("/api/v1/transactions/", {"branch": other_branch.pk})) == ["999.00", "999.00"]
    assert amounts(client.get("/api/v1/transactions/", {"account": mine.pk})) == ["111.00"]
    assert amounts(client.get("/api/v1/transactions/", {"account": theirs.pk, "type": "CREDIT"})) == [
        "999.00"
    ]


def test_partner_reads_movements_of_granted_accounts_only(api_as, make_staff, branch):
    partner = make_staff("PARTNER", None)
    granted = make_account(branch, balance="40.00")
    hidden = make_account(branch, balance="60.00")
    assign_perm("ledger.view_account", partner, granted)
    client = api_as(partner)
    assert amounts(client.get(legs_url(granted))) == ["40.00"]
    assert client.get(legs_url(hidden)).status_code == 404
    assert amounts(client.get("/api/v1/transactions/")) == ["40.00"]


def test_journal_entries_list_and_detail_with_legs(api_as, accountant, branch, other_branch):
    account = make_account(branch, balance="500.00")
    services.withdraw(account_id=account.pk, amount=D("100.00"))
    make_account(other_branch, balance="7.00")
    client = api_as(accountant)
    response = client.get("/api/v1/journal-entries/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["kind"] for r in rows] == ["WITHDRAWAL", "DEPOSIT"]
    assert {leg["type"] for leg in rows[0]["legs"]} == {"DEBIT", "CREDIT"}
    assert [
        r["kind"] for r in client.get("/api/v1/journal-entries/", {"kind": "DEPOSIT"}).json()["results"]
    ] == ["DEPOSIT"]
    detail = client.get(f"/api/v1/journal-entries/{rows[0]['id']}/").json()
    assert detail["reference"] == rows[0]["reference"]
    assert detail["legs"][0]["type"] == "DEBIT"
    assert detail["reversed_by"] is None


def test_journal_entries_are_scoped_and_read_only(api_as, accountant, other_branch):
    make_account(other_branch, balance="7.00")
    theirs = JournalEntry.objects.get()
    client = api_as(accountant)
    assert client.get("/api/v1/journal-entries/").json()["results"] == []
    assert client.get(f"/api/v1/journal-entries/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/v1/journal-entries/{theirs.pk}/").status_code in (403, 404, 405)
    assert client.post("/api/v1/journal-entries/", {}, format="json").status_code in (403, 405)


def test_partner_without_journal_permission_gets_403(api_as, make_staff, branch):
    partner = make_staff("PARTNER", branch)
    response = api_as(partner).get("/api/v1/journal-entries/")
    assert response.status_code == 403
