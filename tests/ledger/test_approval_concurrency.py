"""PostgreSQL-only: two managers approving one large withdrawal at the same instant, each thread
with its own API client and database connection, as two browsers would be: one posting."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from approvals.models import Approval, ApprovalRequest
from ledger import services
from ledger.models import JournalEntry, PostingRequest
from tests.ledger.conftest import restore_seeded_rows
from tests.ledger.factories import make_account
from tests.ledger.test_api_concurrency import assert_ledger_verifies, run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
D = Decimal


@pytest.fixture(scope="module", autouse=True)
def _restore_for_later_modules(django_db_blocker):
    yield
    with django_db_blocker.unblock():
        call_command("bootstrap_roles", verbosity=0)
        restore_seeded_rows()


@pytest.fixture(autouse=True)
def _roles(transactional_db):
    call_command("bootstrap_roles", verbosity=0)


def test_two_managers_approving_one_withdrawal_at_once_post_it_once(branch, teller, manager, manager2):
    # given a withdrawal above the band, waiting with its amount held
    account = make_account(branch, balance="2000000.00")
    pending = services.withdraw(account_id=account.pk, amount=D("750000.00"), actor=teller)
    url = f"/api/v1/approvals/{pending.approval_request.pk}/decide/"
    barrier = threading.Barrier(2)
    results = []
    lock = threading.Lock()

    def click(client, index):
        barrier.wait()
        response = client.post(
            url, {"decision": "APPROVED"}, format="json", HTTP_IDEMPOTENCY_KEY=f"c-{index}"
        )
        return response.status_code, response.json()

    def as_user(user, index):
        [(status, body)] = run_concurrently(user, click, [index], workers=1)
        with lock:
            results.append((status, body))

    # when both managers click Approve at the same moment
    threads = [threading.Thread(target=as_user, args=(u, i)) for i, u in enumerate((manager, manager2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connection.close()

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
