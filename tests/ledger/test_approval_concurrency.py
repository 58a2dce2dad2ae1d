"""PostgreSQL-only: two managers approving one large withdrawal (or cash deposit) at the same instant,
each thread with its own API client and database connection, as two browsers would be: one posting."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from approvals.models import Approval, ApprovalRequest
from ledger import services
from ledger.models import JournalEntry, PostingRequest
from tests.ledger.factories import fund_till, make_account
from tests.ledger.test_api_concurrency import assert_ledger_verifies
from tests.postgres_harness import run_as_users

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("transactional_roles"),
]
D = Decimal


def test_two_managers_approving_one_withdrawal_at_once_post_it_once(branch, teller, manager, manager2):
    # given a withdrawal above the band, waiting with its amount held
    account = make_account(branch, balance="2000000.00")
    fund_till(branch, teller, "750000.00")
    pending = services.withdraw(account_id=account.pk, amount=D("750000.00"), actor=teller)
    url = f"/api/v1/approvals/{pending.approval_request.pk}/decide/"
    barrier = threading.Barrier(2)

    def click(client, index):
        barrier.wait()
        response = client.post(
            url, {"decision": "APPROVED"}, format="json", HTTP_IDEMPOTENCY_KEY=f"c-{index}"
        )
        return response.status_code, response.json()

    # when both managers click Approve at the same moment
    results = run_as_users((manager, manager2), click)

    # then one decision counts, the withdrawal is posted once, the other manager hears it was decided
    assert sorted(status for status, _ in results) == [200, 409], results
    assert next(body for status, body in results if status == 409)["title"] == "Already decided"
    assert Approval.objects.count() == 1
    assert (
        ApprovalRequest.objects.get(pk=pending.approval_request.pk).status == ApprovalRequest.Status.APPROVED
    )
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.WITHDRAWAL).count() == 1
    assert PostingRequest.objects.get().status == PostingRequest.Status.POSTED
    account.refresh_from_db()
    assert (account.balance, account.held_amount) == (D("1250000.00"), D("0.00"))
    assert_ledger_verifies()


def test_two_managers_approving_one_large_deposit_at_once_post_it_once(branch, teller, manager, manager2):
    # given a cash deposit above the deposit band, waiting (nothing posted, nothing held)
    account = make_account(branch)
    pending = services.deposit(account_id=account.pk, amount=D("12000000.00"), actor=teller)
    url = f"/api/v1/approvals/{pending.approval_request.pk}/decide/"
    barrier = threading.Barrier(2)

    def click(client, index):
        barrier.wait()
        response = client.post(
            url, {"decision": "APPROVED"}, format="json", HTTP_IDEMPOTENCY_KEY=f"d-{index}"
        )
        return response.status_code, response.json()

    # when both managers click Approve at the same moment
    results = run_as_users((manager, manager2), click)

    # then the deposit is posted once
    assert sorted(status for status, _ in results) == [200, 409], results
    assert Approval.objects.count() == 1
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.DEPOSIT, legs__account=account).count() == 1
    assert PostingRequest.objects.get().status == PostingRequest.Status.POSTED
    account.refresh_from_db()
    assert (account.balance, account.held_amount) == (D("12000000.00"), D("0.00"))
    assert_ledger_verifies()
