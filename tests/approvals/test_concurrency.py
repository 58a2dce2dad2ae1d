"""PostgreSQL-only: two managers deciding the same request at the same instant, each thread with its
own API client and database connection, as two browsers would be."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from approvals.exceptions import DuplicatePendingRequest
from approvals.models import Approval, ApprovalRequest
from approvals.services import request_approval
from cooperative.models import AuditLog
from tests.approvals.factories import TEST_ACTION, calls, make_policy
from tests.postgres_harness import closing_connection, run_as_users

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("transactional_roles"),
]


def test_two_managers_approving_at_once_one_wins_and_the_other_hears_who(ask, manager, manager2):
    # given a request one manager must approve
    make_policy([(["MANAGER"], 1)])
    request = ask("750000.00")
    barrier = threading.Barrier(2)
    url = f"/api/v1/approvals/{request.pk}/decide/"

    def click(client, index):
        barrier.wait()
        response = client.post(
            url, {"decision": "APPROVED"}, format="json", HTTP_IDEMPOTENCY_KEY=f"click-{index}"
        )
        return response.status_code, response.json()

    # when both click Approve at the same moment (each as themselves)
    users = (manager, manager2)
    results = [(user, *result) for user, result in zip(users, run_as_users(users, click), strict=True)]

    # then exactly one approval counted, the action ran once, the loser got a 409 naming the winner
    statuses = sorted(status for _, status, _ in results)
    assert statuses == [200, 409], results
    winner = next(user for user, status, _ in results if status == 200)
    loser_body = next(body for _, status, body in results if status == 409)
    assert loser_body["title"] == "Already decided"
    assert f"already approved by {winner}" in loser_body["detail"]
    assert Approval.objects.count() == 1
    assert ApprovalRequest.objects.get(pk=request.pk).status == ApprovalRequest.Status.APPROVED
    assert [call[0] for call in calls] == ["approved"]
    assert AuditLog.objects.filter(event=AuditLog.Event.APPROVAL_DECISION).count() == 1


def test_two_simultaneous_requests_for_one_subject_leave_one_pending(branch, teller, manager):
    make_policy([(["MANAGER"], 1)])
    barrier = threading.Barrier(2)
    outcomes = []

    @closing_connection
    def ask(user):
        try:
            barrier.wait()
            request_approval(
                action_type=TEST_ACTION,
                subject=branch,
                amount=Decimal("10.00"),
                branch_id=branch.pk,
                requested_by=user,
                title="Same subject",
            )
            outcomes.append("created")
        except DuplicatePendingRequest:
            outcomes.append("refused")

    threads = [threading.Thread(target=ask, args=(u,)) for u in (teller, manager)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "refused"]
    assert ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING).count() == 1


def test_two_committee_members_approving_at_once_both_count_and_the_action_runs_once(ask, committee):
    # given a level that needs two different committee members
    make_policy([(["CREDIT_COMMITTEE"], 2)])
    request = ask("2000000.00")
    barrier = threading.Barrier(2)
    url = f"/api/v1/approvals/{request.pk}/decide/"

    def click(client, index):
        barrier.wait()
        return client.post(
            url, {"decision": "APPROVED"}, format="json", HTTP_IDEMPOTENCY_KEY=f"cc-{index}"
        ).status_code

    statuses = run_as_users(committee, click)

    # then both decisions count (the row lock serialises them), and the second completes the level
    assert statuses == [200, 200]
    assert Approval.objects.filter(request=request).count() == 2
    assert ApprovalRequest.objects.get(pk=request.pk).status == ApprovalRequest.Status.APPROVED
    assert [call[0] for call in calls] == ["approved"]
