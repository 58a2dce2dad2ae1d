"""The API side of the ledger's approval routing: 202 Accepted for what waits, idempotent replays of
the 202, following and deciding the approval over /api/v1/approvals/, branch scoping."""

from __future__ import annotations

from decimal import Decimal

import pytest

from approvals.models import ApprovalRequest
from ledger.models import Account, AccountType, Hold, JournalEntry, PostingRequest
from ledger.selectors import ledger_discrepancies
from tests.ledger.factories import fund_till, make_account

pytestmark = pytest.mark.django_db
D = Decimal
CLEAN = {"balances": [], "unbalanced_entries": [], "entries_without_legs": [], "system_total": []}


def post(client, url, body, key):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def withdraw_url(account) -> str:
    return f"/api/v1/accounts/{account.pk}/withdraw/"


def decide(client, approval_id, decision="APPROVED", comment="", key="decide-1"):
    return post(
        client, f"/api/v1/approvals/{approval_id}/decide/", {"decision": decision, "comment": comment}, key
    )


def figures(account) -> tuple[Decimal, Decimal]:
    account = Account.objects.get(pk=account.pk)
    return account.balance, account.held_amount


@pytest.fixture
def rich(branch, teller):
    account = make_account(branch, balance="2000000.00")
    fund_till(branch, teller, "2000000.00")  # the teller's till can pay it all out
    return account


def test_a_withdrawal_at_the_band_posts_at_once(api_as, teller, rich):
    response = post(api_as(teller), withdraw_url(rich), {"amount": "500000.00"}, "w-1")
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "WITHDRAWAL"
    assert figures(rich) == (D("1500000.00"), D("0.00"))


def test_a_large_withdrawal_answers_202_and_its_replay_asks_nothing_again(api_as, teller, rich):
    client = api_as(teller)
    body = {"amount": "750000.00", "description": "Land purchase", "channel": "bank"}

    first = post(client, withdraw_url(rich), body, "w-big")

    assert first.status_code == 202, first.json()
    data = first.json()
    posting = PostingRequest.objects.get()
    approval = ApprovalRequest.objects.get(action_type="withdrawal")
    assert data == {
        "status": "PENDING_APPROVAL",
        "approval_request": str(approval.pk),
        "posting_request": str(posting.pk),
        "action_type": "withdrawal",
        "amount": "750000.00",
        "required_approvers": 1,
        "approval_level": "1 of 1",
        "detail": "Withdrawal sent for approval.",
    }
    assert (posting.channel, posting.description, posting.requested_by) == ("bank", "Land purchase", teller)
    assert figures(rich) == (D("2000000.00"), D("750000.00"))

    # the same key and body: the same 202, nothing new
    replay = post(client, withdraw_url(rich), body, "w-big")
    assert replay.status_code == 202
    assert replay.json() == data
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert PostingRequest.objects.count() == 1
    assert Hold.objects.count() == 1
    assert figures(rich) == (D("2000000.00"), D("750000.00"))
    # the same key with another body is a 409
    assert post(client, withdraw_url(rich), {"amount": "750000.01"}, "w-big").status_code == 409
    assert PostingRequest.objects.count() == 1


def test_the_partner_follows_the_approval_and_a_manager_decides_it(api_as, teller, manager, rich):
    data = post(api_as(teller), withdraw_url(rich), {"amount": "750000.00"}, "w-2").json()
    url = f"/api/v1/approvals/{data['approval_request']}/"

    # the requester polls it: waiting, nothing posted
    waiting = api_as(teller).get(url)
    assert waiting.status_code == 200
    assert (waiting.json()["status"], waiting.json()["transaction"]) == ("PENDING", None)

    # the requester may not decide it
    assert decide(api_as(teller), data["approval_request"]).status_code == 403

    # a manager approves: posted once, and the request names the entry
    decided = decide(api_as(manager), data["approval_request"])
    assert decided.status_code == 200, decided.json()
    entry = JournalEntry.objects.get(kind=JournalEntry.Kind.WITHDRAWAL)
    polled = api_as(teller).get(url).json()
    assert (polled["status"], polled["transaction"]) == ("APPROVED", str(entry.pk))
    assert figures(rich) == (D("1250000.00"), D("0.00"))
    assert entry.posted_by == teller
    # a replayed decision changes nothing
    assert decide(api_as(manager), data["approval_request"]).status_code == 200
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.WITHDRAWAL).count() == 1
    assert ledger_discrepancies() == CLEAN


def test_rejecting_over_the_api_releases_the_money(api_as, teller, manager, rich):
    data = post(api_as(teller), withdraw_url(rich), {"amount": "750000.00"}, "w-3").json()
    assert decide(api_as(manager), data["approval_request"], "REJECTED", "").status_code == 400
    assert (
        decide(api_as(manager), data["approval_request"], "REJECTED", "No ID", key="d-2").status_code == 200
    )
    assert figures(rich) == (D("2000000.00"), D("0.00"))
    assert PostingRequest.objects.get().status == PostingRequest.Status.REJECTED


def test_cancelling_over_the_api_releases_the_money(api_as, teller, rich):
    data = post(api_as(teller), withdraw_url(rich), {"amount": "750000.00"}, "w-4").json()
    response = api_as(teller).post(
        f"/api/v1/approvals/{data['approval_request']}/cancel/",
        {"reason": "Member changed mind"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert figures(rich) == (D("2000000.00"), D("0.00"))
    assert PostingRequest.objects.get().status == PostingRequest.Status.CANCELLED


def test_another_branchs_manager_gets_404(api_as, teller, rich, make_staff, other_branch):
    data = post(api_as(teller), withdraw_url(rich), {"amount": "750000.00"}, "w-5").json()
    outsider = make_staff("MANAGER", other_branch, email="abuja@test.ng")
    assert api_as(outsider).get(f"/api/v1/approvals/{data['approval_request']}/").status_code == 404
    assert decide(api_as(outsider), data["approval_request"]).status_code == 404
    assert figures(rich) == (D("2000000.00"), D("750000.00"))


def test_a_request_that_cannot_be_held_is_refused_and_the_refusal_is_replayed(api_as, teller, branch):
    account = make_account(branch, balance="600000.00")
    client = api_as(teller)
    refused = post(client, withdraw_url(account), {"amount": "600000.01"}, "w-6")
    assert refused.status_code == 409
    assert refused.json()["title"] == "Insufficient funds"
    assert post(client, withdraw_url(account), {"amount": "600000.01"}, "w-6").status_code == 409
    assert not PostingRequest.objects.exists()
    assert not ApprovalRequest.objects.exists()


def test_another_branchs_account_is_404_even_above_the_band(api_as, teller, other_branch):
    theirs = make_account(other_branch, balance="2000000.00")
    assert post(api_as(teller), withdraw_url(theirs), {"amount": "750000.00"}, "w-7").status_code == 404
    assert not PostingRequest.objects.exists()


def test_a_large_transfer_answers_202_and_posts_on_approval(api_as, teller, manager, rich, branch):
    target = make_account(branch, member=rich.member, account_type=AccountType.SHARES)
    body = {"from_account": str(rich.pk), "to_account": str(target.pk), "amount": "1500000.00"}
    client = api_as(teller)
    first = post(client, "/api/v1/transfers/", body, "t-big")
    assert first.status_code == 202, first.json()
    assert first.json()["action_type"] == "transfer"
    replay = post(client, "/api/v1/transfers/", body, "t-big")
    assert (replay.status_code, replay.json()) == (202, first.json())
    assert PostingRequest.objects.count() == 1
    assert decide(api_as(manager), first.json()["approval_request"]).status_code == 200
    assert figures(rich) == (D("500000.00"), D("0.00"))
    assert figures(target) == (D("1500000.00"), D("0.00"))
    # at the band: posted at once
    small = post(client, "/api/v1/transfers/", {**body, "amount": "100.00"}, "t-small")
    assert small.status_code == 201


def test_a_reversal_answers_202_and_a_manager_approves_it(api_as, teller, accountant, manager, branch):
    account = make_account(branch)
    deposit = post(
        api_as(teller), f"/api/v1/accounts/{account.pk}/deposit/", {"amount": "700.00"}, "d-1"
    ).json()
    url = f"/api/v1/journal-entries/{deposit['id']}/reverse/"
    client = api_as(accountant)

    first = post(client, url, {"reason": "Posted to the wrong member"}, "r-1")
    assert first.status_code == 202, first.json()
    assert first.json()["action_type"] == "reversal"
    assert "posting_request" not in first.json()
    assert post(client, url, {"reason": "Posted to the wrong member"}, "r-1").json() == first.json()
    # a second request (new key) while the first waits is a 409
    again = post(client, url, {"reason": "again"}, "r-2")
    assert (again.status_code, again.json()["title"]) == (409, "Pending approval")
    assert figures(account) == (D("700.00"), D("0.00"))

    assert decide(api_as(manager), first.json()["approval_request"]).status_code == 200
    mirror = JournalEntry.objects.get(reverses_id=deposit["id"])
    assert (mirror.posted_by, mirror.reversal_reason) == (accountant, "Posted to the wrong member")
    assert figures(account) == (D("0.00"), D("0.00"))
