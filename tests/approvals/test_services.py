"""The approval rules, enforced in the service (whatever screen or API calls it)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from approvals import selectors
from approvals.exceptions import (
    AlreadyDecided,
    ApprovalRequestNotFound,
    CommentRequired,
    DuplicatePendingRequest,
    InvalidDecision,
    NotPermitted,
    NotRequester,
    SelfApprovalForbidden,
    SubjectPendingApproval,
    UnknownActionType,
)
from approvals.models import Approval, ApprovalRequest, Notice
from approvals.selectors import pending_request_for, requests_awaiting
from approvals.services import (
    cancel_approval_request,
    cancel_pending_requests_for,
    decide_approval,
    ensure_not_pending,
    record_result,
)
from cooperative.exceptions import Conflict, NotAllowed, ValidationFailed
from cooperative.models import AuditLog
from tests.approvals.factories import TEST_ACTION, calls, make_policy, register_test_action, state
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db
D = Decimal
Status = ApprovalRequest.Status
TWO_LEVELS = [(["MANAGER"], 1), (["CREDIT_COMMITTEE"], 2)]


def approve(request, user, comment=""):
    return decide_approval(request_id=request.pk, actor=user, decision="APPROVED", comment=comment)


def notices_of(user) -> list[str]:
    return list(Notice.objects.filter(recipient=user).values_list("title", flat=True))


# --- asking ----------------------------------------------------------------------------------------


def test_no_band_means_no_approval_needed(ask):
    # given no policy for the action type
    # when / then the caller acts directly
    assert ask("1000000.00") is None
    assert not ApprovalRequest.objects.exists()


def test_below_the_lowest_band_no_request_is_made(ask):
    make_policy([(["MANAGER"], 1)], low="500000")
    assert ask("500000.00") is None
    assert ask("500000.01") is not None


def test_a_request_snapshots_the_levels_and_tells_the_first_approvers(
    ask, teller, manager, make_staff, other_branch
):
    # given a two-level band and a manager in another branch
    make_policy(TWO_LEVELS, low="0", remind_after_hours=2, timeout_after_hours=10)
    far_manager = make_staff("MANAGER", other_branch, email="far@test.ng")
    # when
    request = ask("2500.00", reason="School fees")
    # then
    assert request.status == Status.PENDING
    assert request.levels == [
        {"order": 1, "roles": ["MANAGER"], "required": 1, "permission": ""},
        {"order": 2, "roles": ["CREDIT_COMMITTEE"], "required": 2, "permission": ""},
    ]
    assert (request.approval_level, request.required_approvers, request.approver_roles) == (1, 1, ["MANAGER"])
    assert request.level_label == "1 of 2"
    assert request.remind_at
    assert request.timeout_at
    assert request.timeout_at > request.remind_at
    assert request.subject.pk == request.branch_id  # the generic subject (a Branch in these tests)
    assert notices_of(manager) == ["Approval needed: Test payout"]
    assert notices_of(far_manager) == []  # cannot see the branch
    assert notices_of(teller) == []
    assert request.history.count() == 1


def test_editing_a_policy_later_does_not_change_a_request_in_flight(ask):
    policy = make_policy([(["MANAGER"], 1)])
    request = ask("100.00")
    level = policy.levels.get()
    level.required_approvals = 3
    level.save()
    request.refresh_from_db()
    assert request.required_approvers == 1


def test_a_second_pending_request_for_the_same_subject_and_type_is_refused(ask):
    make_policy([(["MANAGER"], 1)])
    ask("100.00")
    with pytest.raises(DuplicatePendingRequest) as caught:
        ask("200.00")
    assert isinstance(caught.value, Conflict)
    assert caught.value.status == 409


def test_an_unknown_action_type_is_a_400(ask):
    with pytest.raises(UnknownActionType) as caught:
        ask("100.00", action_type="teleport")
    assert caught.value.status == 400
    assert isinstance(caught.value, LookupError)


def test_always_required_without_a_band_applies_the_fallback_level(ask, manager, teller):
    # given an action that always needs approval, and no policy at all
    register_test_action(always_required=True, fallback_permission="ledger.close_account")
    # when
    request = ask("5.00")
    # then one approval by anyone holding the permission (managers hold ledger.close_account)
    assert request.levels == [{"order": 1, "roles": [], "required": 1, "permission": "ledger.close_account"}]
    assert selectors.approval_required(action_type=TEST_ACTION, amount=D("0.01"), branch_id=request.branch_id)
    assert list(requests_awaiting(manager)) == [request]
    assert list(requests_awaiting(teller)) == []
    assert approve(request, manager).status == Status.APPROVED


# --- who may decide --------------------------------------------------------------------------------


def test_the_requester_can_never_approve_even_with_the_role(ask, manager):
    make_policy([(["MANAGER"], 1)])
    request = ask("100.00", requested_by=manager)
    with pytest.raises(SelfApprovalForbidden) as caught:
        approve(request, manager)
    assert caught.value.status == 403
    assert not Approval.objects.exists()
    assert list(requests_awaiting(manager)) == []


def test_excluded_users_such_as_the_loan_creator_can_never_decide(ask, manager, manager2):
    make_policy([(["MANAGER"], 1)])
    request = ask("100.00", excluded_user_ids=[manager.pk])
    with pytest.raises(SelfApprovalForbidden):
        decide_approval(request_id=request.pk, actor=manager, decision="REJECTED", comment="no")
    assert list(requests_awaiting(manager)) == []
    assert approve(request, manager2).status == Status.APPROVED


def test_the_approver_needs_a_role_of_the_current_level(ask, accountant, committee):
    make_policy(TWO_LEVELS)
    request = ask("100.00")
    for outsider in (accountant, committee[0]):  # committee decides level 2, not level 1
        with pytest.raises(NotPermitted) as caught:
            approve(request, outsider)
        assert "Level 1 of 2 needs MANAGER" in str(caught.value)


def test_the_approver_must_see_the_requests_branch(ask, make_staff, other_branch):
    make_policy([(["MANAGER"], 1)])
    request = ask("100.00")
    far_manager = make_staff("MANAGER", other_branch, email="far@test.ng")
    with pytest.raises(NotPermitted) as caught:
        approve(request, far_manager)
    assert "not one of your branches" in str(caught.value)
    assert list(requests_awaiting(far_manager)) == []


def test_a_superuser_counts_as_admin(ask, admin_user, manager):
    make_policy([(["ADMIN"], 1)])
    request = ask("100.00")
    with pytest.raises(NotPermitted):
        approve(request, manager)
    assert approve(request, admin_user).status == Status.APPROVED


def test_one_person_one_decision_across_levels(ask, make_staff, branch, committee):
    # given someone who is both MANAGER and CREDIT_COMMITTEE
    both = make_staff("MANAGER", branch, email="both@test.ng")
    both.groups.add(*committee[0].groups.all())
    make_policy(TWO_LEVELS)
    request = ask("100.00")
    # when they approve level 1
    approve(request, both)
    # then they cannot also count at level 2
    with pytest.raises(NotPermitted) as caught:
        approve(request, both)
    assert "already approved this request at level 1" in str(caught.value)
    assert list(requests_awaiting(both)) == []


# --- the flow -------------------------------------------------------------------------------------


def test_levels_complete_in_order_and_the_final_approval_runs_the_action_once(
    ask, manager, committee, teller
):
    make_policy(TWO_LEVELS)
    request = ask("100.00")
    # level 1
    request = approve(request, manager, "Fine")
    assert (request.status, request.approval_level, request.required_approvers) == (Status.PENDING, 2, 2)
    assert request.approver_roles == ["CREDIT_COMMITTEE"]
    assert [list(requests_awaiting(u)) for u in committee] == [[request], [request]]
    assert notices_of(committee[0]) == ["Approval needed: Test payout (level 2 of 2)"]
    # level 2: one of two
    request = approve(request, committee[0])
    assert request.status == Status.PENDING
    assert calls == []
    # level 2: two of two -> approved, the action runs once
    request = approve(request, committee[1])
    assert request.status == Status.APPROVED
    assert request.completed_at is not None
    assert calls == [("approved", str(request.pk), "cc2@test.ng")]
    assert "Approved: Test payout" in notices_of(teller)
    # and nobody can decide again
    with pytest.raises(AlreadyDecided) as caught:
        approve(request, manager)
    assert "already approved by" in str(caught.value)
    assert caught.value.status == 409
    assert calls == [("approved", str(request.pk), "cc2@test.ng")]


def test_a_rejection_ends_the_request_and_needs_a_comment(ask, manager, committee, teller):
    make_policy(TWO_LEVELS)
    request = ask("100.00")
    approve(request, manager)
    # a rejection without a comment is a 400 and records nothing
    with pytest.raises(CommentRequired) as caught:
        decide_approval(request_id=request.pk, actor=committee[0], decision="REJECTED", comment="  ")
    assert caught.value.status == 400
    assert caught.value.field == "comment"
    assert Approval.objects.count() == 1
    # with a comment it ends the request at once
    request = decide_approval(
        request_id=request.pk, actor=committee[0], decision="REJECTED", comment="Guarantor too weak"
    )
    assert request.status == Status.REJECTED
    assert calls == [("rejected", str(request.pk), "cc1@test.ng", "Guarantor too weak")]
    assert any(title.startswith("Rejected") for title in notices_of(teller))
    with pytest.raises(AlreadyDecided) as caught:
        approve(request, committee[1])
    assert "already rejected by" in str(caught.value)


def test_a_refused_action_rolls_the_whole_decision_back(ask, manager):
    # given the domain refuses to act (e.g. insufficient funds by now)
    make_policy([(["MANAGER"], 1)])
    request = ask("100.00")
    state["fail_on_approve"] = "Insufficient funds: the balance is now ₦20.00."
    audit_before = AuditLog.objects.count()
    # when
    with pytest.raises(Conflict) as caught:
        approve(request, manager)
    # then the approver sees why and nothing was recorded
    assert "Insufficient funds" in str(caught.value)
    request.refresh_from_db()
    assert request.status == Status.PENDING
    assert not Approval.objects.exists()
    assert AuditLog.objects.count() == audit_before
    # and once the domain agrees, the same manager may try again
    state["fail_on_approve"] = None
    assert approve(request, manager).status == Status.APPROVED


def test_an_invalid_decision_or_unknown_request_is_refused(ask, manager):
    make_policy([(["MANAGER"], 1)])
    request = ask("100.00")
    with pytest.raises(InvalidDecision):
        decide_approval(request_id=request.pk, actor=manager, decision="MAYBE")
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        with pytest.raises(ApprovalRequestNotFound) as caught:
            decide_approval(request_id=bad, actor=manager, decision="APPROVED")
        assert caught.value.status == 404


def test_every_decision_is_audited_and_in_history(ask, manager):
    make_policy([(["MANAGER"], 1)])
    request = ask("100.00")
    approve(request, manager, "ok")
    row = AuditLog.objects.get(event=AuditLog.Event.APPROVAL_DECISION)
    assert row.user == manager
    assert row.detail["decision"] == "APPROVED"
    assert row.detail["approval_request"] == str(request.pk)
    assert row.detail["comment"] == "ok"
    assert request.history.count() == 2
    assert Approval.objects.get().history.count() == 1


# --- cancelling, pending subjects -------------------------------------------------------------------


def test_the_requester_cancels_while_pending(ask, teller, manager):
    make_policy([(["MANAGER"], 1)])
    request = ask("100.00")
    with pytest.raises(NotRequester) as caught:
        cancel_approval_request(request_id=request.pk, actor=manager)
    assert isinstance(caught.value, NotAllowed)
    request = cancel_approval_request(request_id=request.pk, actor=teller, reason="Member changed mind")
    assert request.status == Status.CANCELLED
    assert request.closed_by == teller
    assert calls == [("cancelled", str(request.pk), "teller@test.ng", "Member changed mind")]
    assert "Withdrawn: Test payout" in notices_of(manager)
    # a cancelled request can be neither cancelled again nor decided
    with pytest.raises(AlreadyDecided):
        cancel_approval_request(request_id=request.pk, actor=teller)
    with pytest.raises(AlreadyDecided) as caught:
        approve(request, manager)
    assert "cancelled by" in str(caught.value)


def test_a_subject_cannot_change_while_pending_and_an_edit_cancels_and_re_requests(ask, branch, manager):
    make_policy([(["MANAGER"], 1)])
    first = ask("100.00")
    with pytest.raises(SubjectPendingApproval) as caught:
        ensure_not_pending(subject=branch)
    assert caught.value.status == 409
    ensure_not_pending(subject=branch, action_type="other_type")  # another type is not pending
    # when the domain edits the amount: cancel, then ask again
    assert cancel_pending_requests_for(subject=branch, actor=manager, reason="Amount changed") == 1
    assert cancel_pending_requests_for(subject=branch, actor=manager, reason="again") == 0
    second = ask("150.00")
    # then
    first.refresh_from_db()
    assert first.status == Status.CANCELLED
    assert first.close_reason == "Amount changed"
    assert pending_request_for(subject=branch) == second
    assert pending_request_for(subject=branch, action_type="other_type") is None


def test_record_result_links_the_posted_entry(ask, manager, branch):
    from ledger import services as ledger_services
    from tests.ledger.factories import make_account

    make_policy([(["MANAGER"], 1)])
    request = ask("100.00")
    account = make_account(branch, balance="500.00")
    entry = ledger_services.deposit(account_id=account.pk, amount=D("1.00"), description="t")
    record_result(request, entry)
    request.refresh_from_db()
    assert request.transaction == entry


# --- the queue matches the rules --------------------------------------------------------------------


def test_requests_awaiting_agrees_with_the_rules_for_everyone(
    ask, teller, manager, manager2, committee, accountant, admin_user, make_staff, other_branch, branch
):
    # given requests at different levels, branches and requesters
    make_policy(TWO_LEVELS)
    far = BranchFactory(code="FB009")
    far_manager = make_staff("MANAGER", other_branch, email="far@test.ng")
    r1 = ask("100.00")
    r2 = ask("200.00", subject=far, branch_id=far.pk, title="Far payout")
    r3 = ask("300.00", subject=other_branch, requested_by=manager, excluded_user_ids=[manager2.pk])
    approve(r1, manager)
    people = [teller, manager, manager2, *committee, accountant, admin_user, far_manager]
    for person in people:
        person = type(person).objects.get(pk=person.pk)  # fresh caches
        expected = [
            r for r in (r1, r2, r3) if selectors.can_decide(ApprovalRequest.objects.get(pk=r.pk), person)
        ]
        assert list(requests_awaiting(person)) == expected, person.email


def test_generic_subject_is_stored_by_content_type_and_text_id(ask, branch):
    make_policy([(["MANAGER"], 1)])
    request = ask("100.00")
    assert request.content_type == ContentType.objects.get_for_model(branch)
    assert request.object_id == str(branch.pk)


def test_a_negative_amount_is_refused(ask):
    make_policy([(["MANAGER"], 1)])
    with pytest.raises(ValidationFailed):
        ask("-1.00")


def test_a_band_without_levels_never_approves_by_default(ask, admin_user, manager):
    make_policy([])
    request = ask("100.00")
    assert request.approver_roles == ["ADMIN"]
    with pytest.raises(NotPermitted):
        approve(request, manager)
    assert approve(request, admin_user).status == Status.APPROVED


def test_a_notice_channel_gets_every_message_after_the_commit(
    ask, manager, django_capture_on_commit_callbacks
):
    from approvals import notices

    received = []

    def channel(users, title, body, url):
        received.append(([u.email for u in users], title, url))

    notices.register_channel(channel)
    try:
        make_policy([(["MANAGER"], 1)])
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            request = ask("10.00")
        assert received == []  # nothing leaves before the commit
        for callback in callbacks:
            callback()
    finally:
        notices._channels.remove(channel)
    assert received == [
        (
            ["manager@test.ng"],
            "Approval needed: Test payout",
            f"/admin/approvals/approvalrequest/{request.pk}/decide/",
        )
    ]
