"""Accounts API: list with filters and search, open, read; branch scoping and roles."""

from __future__ import annotations

from decimal import Decimal

import pytest
from guardian.shortcuts import assign_perm

from ledger import services
from ledger.models import Account
from tests.ledger.factories import make_account, make_member

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
URL = "/api/v1/accounts/"


def numbers(response) -> set[str]:
    return {row["account_number"] for row in response.json()["results"]}


def test_list_shows_own_branch_accounts_only_with_money_as_strings(api_as, teller, branch, other_branch):
    # given an account in the teller's branch and one in another branch
    mine = make_account(branch, balance="1500.00")
    theirs = make_account(other_branch, balance="99.00")
    # when the teller lists accounts
    response = api_as(teller).get(URL)
    # then only the own branch's account is there, its balance a string
    assert response.status_code == 200
    rows = response.json()["results"]
    assert numbers(response) == {mine.account_number}
    assert theirs.account_number not in numbers(response)
    assert rows[0]["balance"] == "1500.00"
    assert rows[0]["member"]["member_number"] == mine.member.member_number
    assert rows[0]["branch"]["code"] == "MB001"


def test_list_filters_by_member_type_status_and_branch(api_as, teller, branch):
    member = make_member(branch)
    savings = make_account(branch, member=member)
    shares = make_account(branch, member=member, account_type="SHARES")
    other = make_account(branch)
    services.freeze_account(account_id=other.pk, reason="Court order")
    client = api_as(teller)
    assert numbers(client.get(URL, {"member": member.pk})) == {savings.account_number, shares.account_number}
    assert numbers(client.get(URL, {"type": "SHARES"})) == {shares.account_number}
    assert numbers(client.get(URL, {"status": "FROZEN"})) == {other.account_number}
    assert len(numbers(client.get(URL, {"branch": branch.pk}))) == 3


def test_list_searches_account_number_member_number_and_name(api_as, teller, branch):
    chidi = make_account(branch, member=make_member(branch, first_name="Chidi", last_name="Okafor"))
    make_account(branch, member=make_member(branch, first_name="Bola", last_name="Ade"))
    client = api_as(teller)
    assert numbers(client.get(URL, {"search": "okaf"})) == {chidi.account_number}
    assert numbers(client.get(URL, {"search": chidi.account_number})) == {chidi.account_number}
    assert numbers(client.get(URL, {"search": chidi.member.member_number})) == {chidi.account_number}
    assert numbers(client.get(URL, {"search": "Chidi Okafor"})) == {chidi.account_number}


def test_list_orders_by_whitelisted_fields_only(api_as, teller, branch):
    small = make_account(branch, balance="10.00")
    big = make_account(branch, balance="5000.00")
    client = api_as(teller)
    rows = client.get(URL, {"ordering": "-balance"}).json()["results"]
    assert [r["account_number"] for r in rows] == [big.account_number, small.account_number]
    # an ordering outside the whitelist is ignored, not an error and not a leak
    response = client.get(URL, {"ordering": "member__bvn_hash"})
    assert response.status_code == 200


def test_internal_gl_accounts_are_not_listed(api_as, teller, branch):
    make_account(branch, balance="100.00")  # also creates the branch's teller-cash account
    rows = api_as(teller).get(URL).json()["results"]
    assert all(row["member"] is not None for row in rows)
    assert len(rows) == 1


def test_open_account_returns_id_number_and_zero_balance(api_as, teller, branch):
    # given a member of the teller's branch
    member = make_member(branch)
    # when the teller opens a savings account
    response = api_as(teller).post(URL, {"member": str(member.pk), "type": "SAVINGS"})
    # then it exists with a NUBAN-style number and a zero balance
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["balance"] == "0.00"
    assert len(body["account_number"]) == 10
    assert body["type"] == "SAVINGS"
    assert Account.objects.get(pk=body["id"]).member == member


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "SAVINGS"}, "member"),
        ({"member": "not-a-uuid", "type": "SAVINGS"}, "member"),
        ({"member": "MEMBER", "type": "LOAN"}, "type"),
        ({"member": "MEMBER", "type": "GOLD"}, "type"),
        ({"member": "MEMBER"}, "type"),
    ],
)
def test_open_account_bad_input_is_400_naming_the_field(api_as, teller, branch, payload, field):
    member = make_member(branch)
    payload = {k: (str(member.pk) if v == "MEMBER" else v) for k, v in payload.items()}
    response = api_as(teller).post(URL, payload)
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Account.objects.filter(member=member).exists()


def test_open_account_for_another_branchs_member_is_refused(api_as, teller, other_branch):
    stranger = make_member(other_branch)
    response = api_as(teller).post(URL, {"member": str(stranger.pk), "type": "SAVINGS"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "member"
    assert not Account.objects.filter(member=stranger).exists()


def test_second_open_savings_account_is_409(api_as, teller, branch):
    member = make_member(branch)
    make_account(branch, member=member)
    response = api_as(teller).post(URL, {"member": str(member.pk), "type": "SAVINGS"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "type"


def test_auditor_reads_every_branch_but_cannot_open_accounts(api_as, auditor, branch, other_branch):
    theirs = make_account(other_branch)
    client = api_as(auditor)
    assert theirs.account_number in numbers(client.get(URL))
    response = client.post(URL, {"member": str(make_member(branch).pk), "type": "SAVINGS"})
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM


def test_retrieve_shows_balances_limits_member_and_branch(api_as, teller, branch):
    account = make_account(
        branch, balance="5000.00", minimum_balance=Decimal("500.00"), daily_withdrawal_limit=Decimal("20000")
    )
    body = api_as(teller).get(f"{URL}{account.pk}/").json()
    assert body["balance"] == "5000.00"
    assert body["held_amount"] == "0.00"
    assert body["available_balance"] == "4500.00"
    assert body["minimum_balance"] == "500.00"
    assert body["daily_withdrawal_limit"] == "20000.00"
    assert body["status"] == "ACTIVE"
    assert body["member"]["id"] == str(account.member_id)
    assert body["branch"]["id"] == str(branch.pk)


def test_retrieve_another_branchs_or_unknown_or_malformed_account_is_404(api_as, teller, other_branch):
    theirs = make_account(other_branch)
    client = api_as(teller)
    for path in (f"{URL}{theirs.pk}/", f"{URL}00000000-0000-0000-0000-000000000000/", f"{URL}12345/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == PROBLEM


def test_partner_sees_only_accounts_granted_to_it(api_as, make_staff, branch):
    # given a partner with no branch and a view grant on one account
    partner = make_staff("PARTNER", None)
    granted = make_account(branch)
    hidden = make_account(branch)
    assign_perm("ledger.view_account", partner, granted)
    client = api_as(partner)
    # then it lists and reads that account only
    assert numbers(client.get(URL)) == {granted.account_number}
    assert client.get(f"{URL}{granted.pk}/").status_code == 200
    assert client.get(f"{URL}{hidden.pk}/").status_code == 404


def test_anonymous_caller_is_401(api_client, branch):
    account = make_account(branch)
    assert api_client.get(URL).status_code == 401
    assert api_client.get(f"{URL}{account.pk}/").status_code == 401
