"""Approvals API: the queue, detail, decide (idempotent), cancel; branch scope; problem details."""

from __future__ import annotations

import pytest

from approvals.models import Approval, ApprovalRequest
from tests.approvals.factories import TEST_ACTION, calls, make_policy

pytestmark = pytest.mark.django_db
Status = ApprovalRequest.Status
LIST = "/api/v1/approvals/"


def decide(client, request, body, key="k-1"):
    return client.post(f"{LIST}{request.pk}/decide/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def pending(ask):
    make_policy([(["MANAGER"], 1), (["CREDIT_COMMITTEE"], 2)])
    return ask("1500.50")


def test_my_queue_lists_what_i_may_decide_now(api_as, manager, committee, pending, ask, other_branch):
    mine = api_as(manager).get(LIST, {"status": "PENDING", "mine": "true"})
    assert mine.status_code == 200
    (row,) = mine.json()["results"]
    assert row["id"] == str(pending.pk)
    assert row["amount"] == "1500.50"  # money is a string
    assert row["approval_level"] == 1
    assert row["level_count"] == 2
    assert row["can_decide"] is True
    assert row["action_type"] == TEST_ACTION
    assert row["subject_type"] == "cooperative.branch"
    # the committee decides level 2, not yet
    assert api_as(committee[0]).get(LIST, {"mine": "true"}).json()["results"] == []
    # but the branch's requests are visible to them
    assert len(api_as(committee[0]).get(LIST).json()["results"]) == 1


def test_detail_and_scope(api_as, manager, make_staff, other_branch, teller, accountant, pending):
    assert api_as(manager).get(f"{LIST}{pending.pk}/").json()["title"] == "Payout to Bisi Adewale"
    # another branch's manager: 404 on read and decide, nothing recorded
    far = make_staff("MANAGER", other_branch, email="far@test.ng")
    assert api_as(far).get(f"{LIST}{pending.pk}/").status_code == 404
    assert decide(api_as(far), pending, {"decision": "APPROVED"}).status_code == 404
    # a requester sees their own requests; another requester of the branch does not
    assert api_as(teller).get(f"{LIST}{pending.pk}/").status_code == 200
    assert api_as(accountant).get(f"{LIST}{pending.pk}/").status_code == 404
    assert api_as(accountant).get(LIST).json()["results"] == []
    assert not Approval.objects.exists()


def test_decide_approves_level_by_level_and_runs_the_action_once(api_as, manager, committee, pending):
    response = decide(api_as(manager), pending, {"decision": "APPROVED", "comment": "ok"})
    assert response.status_code == 200, response.json()
    assert response.json()["approval_level"] == 2
    decide(api_as(committee[0]), pending, {"decision": "APPROVED"}, key="a")
    response = decide(api_as(committee[1]), pending, {"decision": "APPROVED"}, key="b")
    body = response.json()
    assert body["status"] == "APPROVED"
    assert [d["approver_name"] for d in body["decisions"]] == [
        str(manager),
        str(committee[0]),
        str(committee[1]),
    ]
    assert len(calls) == 1


def test_a_replayed_decide_returns_the_first_answer_and_runs_nothing_twice(api_as, manager, ask):
    make_policy([(["MANAGER"], 1)])
    request = ask("10.00")
    client = api_as(manager)
    first = decide(client, request, {"decision": "APPROVED"}, key="same")
    again = decide(client, request, {"decision": "APPROVED"}, key="same")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(calls) == 1
    # a new key gets the real answer: already decided
    late = decide(client, request, {"decision": "APPROVED"}, key="other")
    assert late.status_code == 409
    assert "already approved by" in late.json()["detail"]


def test_decide_needs_an_idempotency_key(api_as, manager, pending):
    response = api_as(manager).post(f"{LIST}{pending.pk}/decide/", {"decision": "APPROVED"}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert not Approval.objects.exists()


def test_self_approval_is_a_403_whatever_the_route(api_as, teller, manager, ask, other_branch):
    make_policy([(["MANAGER"], 1)])
    request = ask("10.00", requested_by=manager, subject=other_branch)
    response = decide(api_as(manager), request, {"decision": "APPROVED", "approver": str(teller.pk)})
    assert response.status_code == 403
    assert response.json()["title"] == "Four-eyes rule"
    assert not Approval.objects.exists()


def test_bad_input_is_a_400_naming_the_field(api_as, manager, pending):
    client = api_as(manager)
    no_comment = decide(client, pending, {"decision": "REJECTED"}, key="r1")
    assert no_comment.status_code == 400
    assert no_comment.json()["errors"] == [
        {"field": "comment", "message": "Say why you reject it: a comment is required."}
    ]
    maybe = decide(client, pending, {"decision": "MAYBE"}, key="r2")
    assert maybe.status_code == 400
    assert maybe.json()["errors"][0]["field"] == "decision"
    assert not Approval.objects.exists()


def test_reject_ends_it_and_filters_by_status(api_as, manager, pending):
    client = api_as(manager)
    response = decide(client, pending, {"decision": "REJECTED", "comment": "Too risky"})
    assert response.json()["status"] == "REJECTED"
    assert client.get(LIST, {"status": "PENDING"}).json()["results"] == []
    assert len(client.get(LIST, {"status": "REJECTED"}).json()["results"]) == 1
    assert client.get(LIST, {"status": "NOPE"}).status_code == 400


def test_cancel_by_the_requester_only(api_as, teller, manager, pending):
    url = f"{LIST}{pending.pk}/cancel/"
    assert api_as(manager).post(url, {"reason": "x"}, format="json").status_code == 403
    response = api_as(teller).post(url, {"reason": "Member withdrew"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    again = api_as(teller).post(url, {}, format="json")
    assert again.status_code == 409


def test_anonymous_and_partner_users_are_refused(api_client, api_as, make_staff, branch, pending):
    assert api_client.get(LIST).status_code == 401
    partner = make_staff("PARTNER", branch, email="partner@test.ng")
    assert api_as(partner).get(LIST).status_code == 403
    assert decide(api_as(partner), pending, {"decision": "APPROVED"}).status_code == 403
