"""Large cash deposits wait for a manager (issue 12 §2): the `deposit` approval type, its default band
(a cash deposit above ₦5,000,000 needs one MANAGER), per-branch bands, nothing posted before the
approval, posting once on approval as the requester, in the service, the admin and the API."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from approvals.exceptions import SelfApprovalForbidden
from approvals.models import ApprovalRequest
from approvals.selectors import policies_changed
from approvals.services import cancel_approval_request, decide_approval
from cooperative.models import User
from ledger import approval_actions, services
from ledger.models import Account, Hold, JournalEntry, PostingRequest
from ledger.services import Pending
from tests.approvals.factories import make_policy
from tests.ledger.factories import make_account, make_member

pytestmark = pytest.mark.django_db
D = Decimal
BAND = D("5000000.00")


def deposit(account, amount, actor, **kwargs):
    return services.deposit(
        account_id=account.pk, amount=D(amount), actor=actor, description="Market takings", **kwargs
    )


def deposits_into(account) -> int:
    return JournalEntry.objects.filter(kind=JournalEntry.Kind.DEPOSIT, legs__account=account).count()


def balance_of(account) -> Decimal:
    return Account.objects.get(pk=account.pk).balance


@pytest.fixture
def account(branch):
    return make_account(branch, member=make_member(branch, first_name="Chidi", last_name="Okeke"))


# --- the service ----------------------------------------------------------------------------------


def test_a_cash_deposit_at_the_band_posts_at_once(account, teller):
    entry = deposit(account, BAND, teller)
    assert isinstance(entry, JournalEntry)
    assert balance_of(account) == BAND
    assert not PostingRequest.objects.exists()


def test_a_cash_deposit_above_the_band_waits_and_posts_nothing(account, teller, branch):
    pending = deposit(account, "5000000.01", teller, idempotency_key="t:dep")

    assert isinstance(pending, Pending)
    posting = pending.posting_request
    assert (posting.kind, posting.status, posting.amount, posting.channel, posting.hold_id) == (
        PostingRequest.Kind.DEPOSIT,
        PostingRequest.Status.PENDING,
        D("5000000.01"),
        "cash",
        None,
    )
    approval = pending.approval_request
    assert (approval.action_type, approval.branch_id, approval.approver_roles) == (
        "deposit",
        branch.pk,
        ["MANAGER"],
    )
    assert approval.title == f"Deposit into {account.account_number}"
    assert deposits_into(account) == 0
    assert balance_of(account) == D("0.00")
    assert not Hold.objects.exists()  # a deposit reserves nothing
    assert pending.as_data()["detail"] == "Cash deposit sent for approval."


def test_bank_channel_and_system_deposits_are_not_under_the_band(account, teller):
    assert isinstance(deposit(account, "6000000.00", teller, channel="bank"), JournalEntry)
    assert isinstance(deposit(account, "6000000.00", None), JournalEntry)
    assert not PostingRequest.objects.exists()


def test_approval_posts_the_deposit_once_as_the_requester(account, teller, manager):
    pending = deposit(account, "7500000.00", teller)

    approved = decide_approval(request_id=pending.approval_request.pk, actor=manager, decision="APPROVED")

    posting = PostingRequest.objects.get(pk=pending.posting_request.pk)
    assert posting.status == PostingRequest.Status.POSTED
    entry = posting.entry
    assert (entry.kind, entry.posted_by, entry.idempotency_key) == (
        JournalEntry.Kind.DEPOSIT,
        teller,
        f"posting-request:{posting.pk}",
    )
    assert approved.transaction == entry
    assert balance_of(account) == D("7500000.00")
    # the cash went through the requesting teller's till
    till = services.ensure_till_account(branch_id=account.branch_id, teller_id=teller.pk)
    assert till.balance == D("7500000.00")
    # a retried callback never posts twice
    approval_actions.on_posting_approved(approved, manager)
    assert deposits_into(account) == 1


def test_the_teller_cannot_approve_their_own_deposit(account, teller):
    pending = deposit(account, "6000000.00", teller)
    teller.groups.add(Group.objects.get(name="MANAGER"))  # even holding the approver's role
    with pytest.raises(SelfApprovalForbidden):
        decide_approval(
            request_id=pending.approval_request.pk, actor=User.objects.get(pk=teller.pk), decision="APPROVED"
        )
    assert deposits_into(account) == 0


def test_rejection_and_cancellation_post_nothing(account, teller, manager):
    rejected = deposit(account, "6000000.00", teller)
    decide_approval(
        request_id=rejected.approval_request.pk, actor=manager, decision="REJECTED", comment="Count again"
    )
    cancelled = deposit(account, "6000000.00", teller)
    cancel_approval_request(request_id=cancelled.approval_request.pk, actor=teller, reason="Member left")

    statuses = dict(PostingRequest.objects.values_list("pk", "status"))
    assert statuses == {
        rejected.posting_request.pk: PostingRequest.Status.REJECTED,
        cancelled.posting_request.pk: PostingRequest.Status.CANCELLED,
    }
    assert deposits_into(account) == 0
    assert balance_of(account) == D("0.00")


def test_the_same_key_twice_asks_once(account, teller):
    first = deposit(account, "6000000.00", teller, idempotency_key="admin:dep")
    second = deposit(account, "6000000.00", teller, idempotency_key="admin:dep")
    assert second.posting_request.pk == first.posting_request.pk
    assert ApprovalRequest.objects.filter(action_type="deposit").count() == 1


def test_a_branch_band_applies_to_that_branch_only(branch, other_branch, teller, make_staff):
    make_policy([(["MANAGER"], 1)], action_type="deposit", low="20000000", branch=branch)
    policies_changed()
    ours = make_account(branch)
    theirs = make_account(other_branch)
    assert isinstance(deposit(ours, "6000000.00", teller), JournalEntry)  # our branch's band is higher
    assert isinstance(deposit(ours, "20000000.01", teller), Pending)
    assert isinstance(deposit(theirs, "6000000.00", make_staff("TELLER", other_branch)), Pending)


# --- the admin --------------------------------------------------------------------------------------


def token_from(response) -> str:
    match = re.search(r'name="confirmation_token" value="([^"]+)"', response.content.decode())
    assert match, "the confirmation page carries a one-time token"
    return match.group(1)


def test_a_large_cash_deposit_from_the_admin_is_sent_for_approval(client, teller, account):
    client.force_login(teller)
    url = reverse("admin:ledger_account_deposit", args=[account.pk])

    confirm = client.post(url, {"amount": "25,000,000", "channel": "cash", "description": "Sale of land"})
    page = confirm.content.decode()
    assert "needs a manager's approval" in page
    assert "nothing is posted until it is approved" in page
    assert "Yes, send this deposit for approval" in page
    token = token_from(confirm)

    done = client.post(url, {"confirmation_token": token}, follow=True)
    body = done.content.decode()
    approval = ApprovalRequest.objects.get(action_type="deposit")
    assert "sent for approval" in body
    assert reverse("admin:approvals_approvalrequest_decide", args=[approval.pk]) in body
    assert deposits_into(account) == 0

    again = client.post(url, {"confirmation_token": token}, follow=True)
    assert "Already sent for approval; nothing was sent again." in again.content.decode()
    assert PostingRequest.objects.count() == 1


def test_a_large_bank_deposit_from_the_admin_posts_at_once(client, teller, account):
    client.force_login(teller)
    url = reverse("admin:ledger_account_deposit", args=[account.pk])
    confirm = client.post(url, {"amount": "6000000", "channel": "bank"})
    assert "Yes, post this deposit" in confirm.content.decode()
    client.post(url, {"confirmation_token": token_from(confirm)})
    assert balance_of(account) == D("6000000.00")


def test_the_decision_page_shows_the_deposit(client, teller, manager, account):
    pending = deposit(account, "6000000.00", teller)
    client.force_login(manager)
    page = client.get(reverse("admin:approvals_approvalrequest_decide", args=[pending.approval_request.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Deposit" in body
    assert "6,000,000.00" in body
    assert "Withdrawn today" not in body


# --- the API ----------------------------------------------------------------------------------------


def api_deposit(client, account, body, key):
    return client.post(
        f"/api/v1/accounts/{account.pk}/deposit/", body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_a_large_cash_deposit_answers_202_and_its_replay_asks_nothing_again(api_as, teller, account):
    client = api_as(teller)
    body = {"amount": "9000000.00", "description": "Harvest sale", "channel": "cash"}

    first = api_deposit(client, account, body, "d-big")

    assert first.status_code == 202, first.json()
    posting = PostingRequest.objects.get()
    approval = ApprovalRequest.objects.get(action_type="deposit")
    data = first.json()
    assert data == {
        "status": "PENDING_APPROVAL",
        "approval_request": str(approval.pk),
        "posting_request": str(posting.pk),
        "action_type": "deposit",
        "amount": "9000000.00",
        "required_approvers": 1,
        "approval_level": "1 of 1",
        "detail": "Cash deposit sent for approval.",
    }
    assert balance_of(account) == D("0.00")

    replay = api_deposit(client, account, body, "d-big")
    assert replay.status_code == 202
    assert replay.json() == data
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert PostingRequest.objects.count() == 1
    assert ApprovalRequest.objects.count() == 1


def test_an_api_deposit_at_the_band_posts_at_once(api_as, teller, account):
    response = api_deposit(api_as(teller), account, {"amount": "5000000.00"}, "d-band")
    assert response.status_code == 201, response.json()
    assert balance_of(account) == BAND


def test_approving_over_the_api_posts_the_deposit(api_as, teller, manager, account):
    pending = api_deposit(api_as(teller), account, {"amount": "8000000.00"}, "d-1").json()
    own = api_as(teller).post(
        f"/api/v1/approvals/{pending['approval_request']}/decide/",
        {"decision": "APPROVED"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="self",
    )
    assert own.status_code in (403, 404, 409)
    response = api_as(manager).post(
        f"/api/v1/approvals/{pending['approval_request']}/decide/",
        {"decision": "APPROVED"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="m-1",
    )
    assert response.status_code == 200, response.json()
    assert balance_of(account) == D("8000000.00")
    assert deposits_into(account) == 1
