"""Loans through the approvals app: the application's approval request, multi-level decisions on the
loan's timeline, self-approval refused on every route, edits and withdrawals of a pending loan,
disbursement and write-off requests, and the decision page's loan summary."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from approvals.exceptions import (
    AlreadyDecided,
    NotPermitted,
    SelfApprovalForbidden,
    SubjectPendingApproval,
)
from approvals.models import ApprovalLevel, ApprovalPolicy, ApprovalRequest
from approvals.selectors import pending_request_for, requests_for
from approvals.services import cancel_approval_request, decide_approval, process_deadlines
from ledger.models import Hold, JournalEntry
from loans import services
from loans.decision_summary import loan_decision_summary
from loans.exceptions import FourEyesViolation, GuarantorOverCommitted
from loans.models import Guarantor, Loan
from loans.selectors import loan_timeline
from tests.loans.factories import LoanProductFactory, decide, make_loan, make_member, savings_of

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def committee(make_staff, branch):
    return (
        make_staff("CREDIT_COMMITTEE", branch, email="committee1@test.ng", first_name="Funmi"),
        make_staff("CREDIT_COMMITTEE", branch, email="committee2@test.ng", first_name="Emeka"),
    )


@pytest.fixture
def big_product(db):
    return LoanProductFactory(name="Asset loan", max_amount=D("5000000.00"))


def request_of(loan, action_type="loan_approval") -> ApprovalRequest:
    return ApprovalRequest.objects.get(object_id=str(loan.pk), action_type=action_type, status="PENDING")


def timeline(loan) -> list[tuple[str, str, str]]:
    return [(e.action, e.actor.email if e.actor else "system", e.comment) for e in loan_timeline(loan=loan)]


# --- asking -----------------------------------------------------------------------------------------


def test_submitting_asks_for_the_loan_approval(make_staff, branch, officer, product, borrower):
    # given a teller takes the application and the officer submits it
    teller = make_staff("TELLER", branch, email="counter@test.ng")
    loan = services.create_application(
        actor=teller, member=borrower, product=product, principal="250000", term=12
    )
    services.submit_application(actor=officer, loan_id=loan.pk)

    # then one pending request describes the loan, asked by the submitter, excluding the creator
    request = request_of(loan)
    assert request.amount == D("250000.00")
    assert request.branch_id == branch.pk
    assert request.product_ref == str(product.pk)
    assert request.title == f"Loan {loan.loan_number} · ₦250,000.00 · Chiamaka Nwosu"
    assert request.member_display == f"{borrower.member_number} Chiamaka Nwosu"
    assert request.requested_by == officer
    assert request.excluded_user_ids == [str(teller.pk)]
    assert [level["roles"] for level in request.levels] == [["MANAGER"]]


def test_a_single_manager_approves_a_small_loan(officer, manager, product, borrower, branch):
    guarantor = make_member(branch, savings="100000", first_name="Emeka")
    loan = make_loan(
        member=borrower,
        product=product,
        officer=officer,
        status="SUBMITTED",
        guarantors=[(guarantor, "30000")],
    )

    decide(loan, "loan_approval", by=manager, comment="Good record")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.APPROVED
    assert (loan.decided_by, loan.decision_reason) == (manager, "Good record")
    assert timeline(loan)[-1] == ("approved", "manager@test.ng", "Good record")
    assert Guarantor.objects.get(loan=loan).status == Guarantor.Status.ACTIVE
    assert Hold.objects.filter(account=savings_of(guarantor), status="ACTIVE").count() == 1


def test_a_large_loan_needs_a_manager_then_two_of_the_committee(
    officer, manager, committee, big_product, borrower
):
    first, second = committee
    loan = make_loan(
        member=borrower, product=big_product, officer=officer, principal="1000000", status="SUBMITTED"
    )
    request = request_of(loan)
    assert [lvl["roles"] for lvl in request.levels] == [["MANAGER"], ["CREDIT_COMMITTEE"]]

    # the committee cannot decide level 1
    with pytest.raises(NotPermitted, match="Level 1 of 2 needs MANAGER"):
        decide_approval(request_id=request.pk, actor=first, decision="APPROVED")
    # when the manager approves, the loan is still submitted and the request is at level 2
    services.approve_loan(actor=manager, loan_id=loan.pk, comment="Cash flow checked")
    request.refresh_from_db()
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.SUBMITTED
    assert request.level_label == "2 of 2"
    # and the same manager cannot decide again, by any route
    with pytest.raises(NotPermitted, match="already approved"):
        services.approve_loan(actor=manager, loan_id=loan.pk)
    with pytest.raises(NotPermitted):
        services.reject_loan(actor=manager, loan_id=loan.pk, reason="second thoughts")
    # when the committee approves, one then the other
    services.approve_loan(actor=first, loan_id=loan.pk, comment="Van quotation seen")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.SUBMITTED
    decide(loan, "loan_approval", by=second, comment="Agreed")

    # then the loan is approved by the last approver, with every decision on its timeline
    loan.refresh_from_db()
    assert loan.status == Loan.Status.APPROVED
    assert loan.decided_by == second
    assert timeline(loan)[-3:] == [
        ("level_1_approved", "manager@test.ng", "Cash flow checked"),
        ("level_2_approved", "committee1@test.ng", "Van quotation seen"),
        ("approved", "committee2@test.ng", "Agreed"),
    ]
    events = list(loan_timeline(loan=loan))
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_a_rejection_at_level_two_rejects_the_loan_with_the_comment(
    officer, manager, committee, big_product, borrower
):
    loan = make_loan(
        member=borrower, product=big_product, officer=officer, principal="900000", status="SUBMITTED"
    )
    decide(loan, "loan_approval", by=manager, comment="Fine by me")

    services.reject_loan(actor=committee[0], loan_id=loan.pk, reason="Debt service too high")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.REJECTED
    assert loan.decision_reason == "Debt service too high"
    assert timeline(loan)[-2:] == [
        ("level_1_approved", "manager@test.ng", "Fine by me"),
        ("rejected", "committee1@test.ng", "Debt service too high"),
    ]
    assert ApprovalRequest.objects.get(object_id=str(loan.pk)).status == "REJECTED"


def test_a_failing_final_approval_rolls_the_decision_back(officer, manager, product, borrower, branch):
    # given a guarantor who has spent their pledged savings since the application
    guarantor = make_member(branch, savings="50000", first_name="Ada")
    loan = make_loan(
        member=borrower,
        product=product,
        officer=officer,
        status="SUBMITTED",
        guarantors=[(guarantor, "40000")],
    )
    from ledger import services as ledger

    ledger.withdraw(account_id=savings_of(guarantor).pk, amount=D("30000.00"), description="School fees")

    # when the manager approves, the hold cannot be placed
    with pytest.raises(GuarantorOverCommitted):
        services.approve_loan(actor=manager, loan_id=loan.pk, comment="OK")

    # then nothing is recorded: the request is still pending with no decision
    request = request_of(loan)
    assert request.approvals.count() == 0
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.SUBMITTED


def test_a_loan_submitted_before_approvals_existed_gets_its_request_on_approval(
    officer, manager, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, status="SUBMITTED")
    ApprovalRequest.objects.filter(object_id=str(loan.pk)).delete()

    approved = services.approve_loan(actor=manager, loan_id=loan.pk, comment="Legacy")

    assert approved.status == Loan.Status.APPROVED
    request = ApprovalRequest.objects.get(object_id=str(loan.pk))
    assert (request.status, request.requested_by) == ("APPROVED", officer)


# --- four-eyes on every route --------------------------------------------------------------------


@pytest.fixture
def own_loan(make_staff, branch, product, borrower):
    """A manager who may also take applications created and submitted this loan."""
    boss = make_staff("MANAGER", branch, email="boss@test.ng")
    boss.groups.add(*make_staff("LOAN_OFFICER", branch, email="lo2@test.ng").groups.all())
    boss = type(boss).objects.get(pk=boss.pk)
    return boss, make_loan(member=borrower, product=product, officer=boss, status="SUBMITTED")


def test_self_approval_is_refused_on_every_route(own_loan, api_as, client):
    boss, loan = own_loan
    request = request_of(loan)

    with pytest.raises(FourEyesViolation):
        services.approve_loan(actor=boss, loan_id=loan.pk)
    with pytest.raises(SelfApprovalForbidden):
        decide_approval(request_id=request.pk, actor=boss, decision="APPROVED")
    api = api_as(boss)
    assert api.post(f"/api/v1/loans/{loan.pk}/approve/", {}, format="json").status_code == 403
    assert api.post(f"/api/v1/loans/{loan.pk}/reject/", {"reason": "x"}, format="json").status_code == 403
    assert (
        api.post(
            f"/api/v1/approvals/{request.pk}/decide/",
            {"decision": "APPROVED"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="self-approval-try",
        ).status_code
        == 403
    )
    client.force_login(boss)
    assert (
        client.post(reverse("admin:loans_loan_approve", args=[loan.pk]), {"comment": ""}).status_code == 403
    )
    page = client.get(reverse("admin:approvals_approvalrequest_decide", args=[request.pk]))
    assert 'name="decision" value="APPROVED"' not in page.content.decode()
    forged = client.post(
        reverse("admin:approvals_approvalrequest_decide", args=[request.pk]), {"decision": "APPROVED"}
    )
    assert forged.status_code == 403

    request.refresh_from_db()
    assert (request.status, request.approvals.count()) == ("PENDING", 0)
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.SUBMITTED


def test_the_creator_is_excluded_even_when_someone_else_submits(
    make_staff, branch, officer, product, borrower
):
    boss = make_staff("MANAGER", branch, email="boss@test.ng")
    boss.groups.add(*make_staff("TELLER", branch, email="t9@test.ng").groups.all())
    boss = type(boss).objects.get(pk=boss.pk)
    loan = services.create_application(
        actor=boss, member=borrower, product=product, principal="50000", term=6
    )
    services.submit_application(actor=officer, loan_id=loan.pk)

    with pytest.raises(SelfApprovalForbidden, match="someone else must decide"):
        decide(loan, "loan_approval", by=boss)


# --- a pending loan changes only by cancelling --------------------------------------------------


def test_an_amount_edit_cancels_the_request_and_asks_again(
    officer, manager, committee, big_product, borrower
):
    loan = make_loan(
        member=borrower, product=big_product, officer=officer, principal="400000", status="SUBMITTED"
    )
    first = request_of(loan)

    services.update_application(actor=officer, loan_id=loan.pk, principal="1500000")

    first.refresh_from_db()
    assert first.status == "CANCELLED"
    assert "principal 1500000.00" in first.close_reason
    again = request_of(loan)
    assert again.amount == D("1500000.00")
    assert len(again.levels) == 2  # the new amount falls in the committee's band
    loan.refresh_from_db()
    assert loan.status == Loan.Status.SUBMITTED  # an edit by the loan itself does not send it back to draft


def test_an_edit_to_an_ineligible_amount_is_refused_and_the_request_stands(officer, branch, manager):
    product = LoanProductFactory(savings_multiple=D("2"))
    borrower = make_member(branch, savings="100000")
    loan = make_loan(
        member=borrower, product=product, officer=officer, principal="150000", status="SUBMITTED"
    )

    with pytest.raises(Exception, match="ceiling"):
        services.update_application(actor=officer, loan_id=loan.pk, principal="250000")

    assert request_of(loan).amount == D("150000.00")
    assert Loan.objects.get(pk=loan.pk).principal == D("150000.00")


def test_guarantors_cannot_change_while_the_approval_is_pending(officer, product, borrower, branch):
    loan = make_loan(member=borrower, product=product, officer=officer, status="SUBMITTED")
    friend = make_member(branch, savings="100000")
    with pytest.raises(SubjectPendingApproval) as refused:
        services.add_guarantor(actor=officer, loan_id=loan.pk, guarantor_member=friend, amount="1000")
    assert refused.value.status == 409


def test_withdrawing_a_submitted_application_cancels_its_request(officer, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status="SUBMITTED")

    services.withdraw_application(actor=officer, loan_id=loan.pk, reason="Found a grant")

    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.WITHDRAWN
    request = ApprovalRequest.objects.get(object_id=str(loan.pk))
    assert (request.status, request.close_reason) == ("CANCELLED", "Application withdrawn: Found a grant")
    assert [a for a, _who, _c in timeline(loan)] == ["created", "submitted", "withdrawn"]


def test_the_requester_cancelling_returns_the_loan_to_draft_to_resubmit(officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status="SUBMITTED")

    cancel_approval_request(request_id=request_of(loan).pk, actor=officer, reason="Wrong term")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.DRAFT
    assert timeline(loan)[-1] == (
        "returned_to_draft",
        "officer@test.ng",
        "Approval request cancelled: Wrong term",
    )
    services.update_application(actor=officer, loan_id=loan.pk, term=6)
    services.submit_application(actor=officer, loan_id=loan.pk)
    decide(loan, "loan_approval", by=manager)
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.APPROVED


def test_an_expired_request_returns_the_loan_to_draft(officer, product, borrower):
    band = ApprovalPolicy.objects.get(action_type="loan_approval", min_amount=0)
    band.timeout_after_hours, band.on_timeout = 2, ApprovalPolicy.OnTimeout.EXPIRE
    band.save()
    loan = make_loan(member=borrower, product=product, officer=officer, status="SUBMITTED")
    from django.utils import timezone

    process_deadlines(now=timezone.now() + timedelta(hours=3))

    loan.refresh_from_db()
    assert loan.status == Loan.Status.DRAFT
    assert timeline(loan)[-1][0] == "returned_to_draft"
    assert "expired" in timeline(loan)[-1][2]


# --- the loan API ------------------------------------------------------------------------------------


def test_api_approve_answers_202_until_the_last_level(
    api_as, officer, manager, committee, big_product, borrower
):
    loan = make_loan(
        member=borrower, product=big_product, officer=officer, principal="800000", status="SUBMITTED"
    )

    first = api_as(manager).post(f"/api/v1/loans/{loan.pk}/approve/", {"comment": "OK"}, format="json")

    assert first.status_code == 202
    body = first.json()
    assert body["status"] == "SUBMITTED"
    assert body["pending_approval"]["level"] == 2
    assert body["pending_approval"]["levels"] == 2
    assert body["pending_approval"]["approver_roles"] == ["CREDIT_COMMITTEE"]
    again = api_as(manager).post(f"/api/v1/loans/{loan.pk}/approve/", {}, format="json")
    assert again.status_code == 403
    api_as(committee[0]).post(f"/api/v1/loans/{loan.pk}/approve/", {}, format="json")
    last = api_as(committee[1]).post(f"/api/v1/loans/{loan.pk}/approve/", {"comment": "Yes"}, format="json")
    assert last.status_code == 200
    assert (last.json()["status"], last.json()["pending_approval"]) == ("APPROVED", None)
    # a decided loan's request cannot be decided again
    done = api_as(manager).post(f"/api/v1/loans/{loan.pk}/reject/", {"reason": "late"}, format="json")
    assert done.status_code == 409


# --- disbursement and write-off requests ---------------------------------------------------------


def add_band(action_type: str, *roles: str) -> ApprovalPolicy:
    policy = ApprovalPolicy.objects.create(action_type=action_type, min_amount=0)
    ApprovalLevel.objects.create(policy=policy, order=1, roles=list(roles), required_approvals=1)
    from approvals.selectors import policies_changed

    policies_changed()
    return policy


def test_disbursement_needs_no_approval_until_a_policy_says_so(officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    assert loan.status == Loan.Status.DISBURSED
    assert not requests_for(subject=loan).filter(action_type="loan_disbursement").exists()


def test_a_disbursement_policy_makes_the_disbursement_wait(
    api_as, officer, manager, manager2, product, borrower
):
    add_band("loan_disbursement", "MANAGER")
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager, status="APPROVED")
    past = date.today() - timedelta(days=3)

    asked = api_as(manager).post(
        f"/api/v1/loans/{loan.pk}/disburse/", {"disbursement_date": past.isoformat()}, format="json"
    )

    assert asked.status_code == 202
    assert asked.json()["status"] == "APPROVED"
    assert asked.json()["pending_approval"]["action_type"] == "loan_disbursement"
    assert not JournalEntry.objects.filter(kind=JournalEntry.Kind.LOAN_DISBURSEMENT).exists()
    assert api_as(manager).post(f"/api/v1/loans/{loan.pk}/disburse/", {}, format="json").status_code == 409
    with pytest.raises(SelfApprovalForbidden):
        decide(loan, "loan_disbursement", by=manager)

    request = decide(loan, "loan_disbursement", by=manager2)

    loan.refresh_from_db()
    assert loan.status == Loan.Status.DISBURSED
    assert (loan.disbursed_by, loan.disbursement_date) == (manager2, past)
    assert request.transaction == loan.disbursement_entry
    assert [a for a, _w, _c in timeline(loan)][-2:] == ["disbursement_requested", "disbursed"]


def test_a_rejected_disbursement_leaves_the_loan_approved(officer, manager, manager2, product, borrower):
    add_band("loan_disbursement", "MANAGER")
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager, status="APPROVED")
    services.disburse_loan(actor=manager, loan_id=loan.pk)

    decide(loan, "loan_disbursement", by=manager2, decision="REJECTED", comment="Collateral missing")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.APPROVED
    assert timeline(loan)[-1] == ("loan_disbursement_rejected", "manager2@test.ng", "Collateral missing")


@pytest.fixture
def overdue(officer, manager, product, borrower):
    return make_loan(
        member=borrower,
        product=product,
        officer=officer,
        manager=manager,
        disbursed_on=date.today() - timedelta(days=90),
    )


def test_a_write_off_is_asked_for_and_approved_by_another_manager(branch, manager, manager2, overdue):
    # when the manager asks for the write-off
    asked = services.write_off_loan(actor=manager, loan_id=overdue.pk, reason="Member relocated abroad")

    # then the loan is still active and the request waits, with the reason and the amount
    assert asked.status == Loan.Status.DISBURSED
    request = request_of(overdue, "write_off")
    assert (request.amount, request.reason, request.requested_by) == (
        D("100000.00"),
        "Member relocated abroad",
        manager,
    )
    assert not JournalEntry.objects.filter(kind=JournalEntry.Kind.WRITE_OFF).exists()
    # and a second request, or the requester's own approval, is refused
    with pytest.raises(SubjectPendingApproval):
        services.write_off_loan(actor=manager2, loan_id=overdue.pk, reason="again")
    with pytest.raises(SelfApprovalForbidden):
        decide(overdue, "write_off", by=manager)

    # when the other manager approves
    decide(overdue, "write_off", by=manager2, comment="Agreed")

    # then the approver wrote it off, with the requester's reason, and the request links the entry
    loan = Loan.objects.get(pk=overdue.pk)
    assert loan.status == Loan.Status.WRITTEN_OFF
    last = loan_timeline(loan=loan).last()
    assert (last.action, last.actor, last.comment) == ("written_off", manager2, "Member relocated abroad")
    assert last.metadata["requested_by"] == str(manager.pk)
    request.refresh_from_db()
    assert request.transaction.kind == JournalEntry.Kind.WRITE_OFF


def test_the_write_off_guard_refuses_the_requester_even_past_the_approvals_app(manager, overdue):
    from loans.workflow import LOAN_MACHINE

    with pytest.raises(FourEyesViolation, match="someone else must approve"):
        LOAN_MACHINE.check(overdue, "write_off", actor=manager, authorized=True, requested_by_id=manager.pk)


def test_a_rejected_write_off_leaves_the_loan_active(manager, manager2, overdue):
    services.write_off_loan(actor=manager, loan_id=overdue.pk, reason="Gone")
    decide(overdue, "write_off", by=manager2, decision="REJECTED", comment="Call the guarantors first")
    loan = Loan.objects.get(pk=overdue.pk)
    assert loan.status == Loan.Status.DISBURSED
    assert timeline(loan)[-1] == ("write_off_rejected", "manager2@test.ng", "Call the guarantors first")
    with pytest.raises(AlreadyDecided):
        decide_approval(
            request_id=ApprovalRequest.objects.get(object_id=str(loan.pk), action_type="write_off").pk,
            actor=manager2,
            decision="APPROVED",
        )


def test_without_a_write_off_band_the_write_off_is_immediate(manager, overdue):
    ApprovalPolicy.objects.filter(action_type="write_off").update(active=False)
    loan = services.write_off_loan(actor=manager, loan_id=overdue.pk, reason="Board decision")
    assert loan.status == Loan.Status.WRITTEN_OFF
    assert pending_request_for(subject=loan) is None


# --- the decision summary --------------------------------------------------------------------------


def test_the_decision_summary_shows_what_the_approver_needs(officer, manager, product, borrower, branch):
    # given a borrower with a repaid loan (one installment late) and a guarantor for the new one
    old = make_loan(
        member=borrower,
        product=product,
        officer=officer,
        manager=manager,
        term=3,
        disbursed_on=date.today() - timedelta(days=100),
    )
    rows = list(old.schedule.order_by("installment_number"))
    services.record_repayment(
        actor=None, loan_id=old.pk, amount=rows[0].total_amount, source="CASH", payment_date=rows[0].due_date
    )
    services.record_repayment(
        actor=None,
        loan_id=old.pk,
        amount=rows[1].total_amount,
        source="CASH",
        payment_date=rows[1].due_date + timedelta(days=5),
    )
    guarantor = make_member(branch, savings="90000", first_name="Emeka")
    product.max_active_loans = 2
    product.save()
    loan = make_loan(
        member=borrower,
        product=product,
        officer=officer,
        principal="60000",
        term=6,
        status="SUBMITTED",
        guarantors=[(guarantor, "20000")],
    )

    summary = loan_decision_summary(request=request_of(loan), user=manager)

    assert summary["template"] == "loans/approval_summary.html"
    assert summary["member"] == borrower
    assert summary["savings"] > 0
    [history] = summary["history"]
    assert (history["loan"], history["on_time"], history["late"], history["overdue"]) == (old, 1, 1, 1)
    [g] = summary["guarantors"]
    assert (g["guarantor"].member, g["available"], g["free"]) == (guarantor, D("90000.00"), D("90000.00"))
    assert summary["schedule"]["count"] == 6
    assert len(summary["schedule"]["rows"]) == 3
    assert summary["schedule"]["total_repayment"] > D("60000.00")
    checks = {c.label: c.passed for c in summary["checks"]}
    assert checks["Member is active"] is True
    assert checks["KYC verified"] is False
    assert checks["Active loans"] is True


def test_the_decision_summary_runs_a_bounded_number_of_queries(officer, manager, product, borrower, branch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    product.max_active_loans = 9
    product.save()
    loan = make_loan(
        member=borrower,
        product=product,
        officer=officer,
        principal="30000",
        status="SUBMITTED",
        guarantors=[(make_member(branch, savings="90000"), "5000")],
    )
    request = request_of(loan)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            loan_decision_summary(request=request, user=manager)
        return len(captured)

    make_loan(member=borrower, product=product, officer=officer, manager=manager, principal="20000")
    few = queries()
    # when the member has more loans and the loan more guarantors, the count stays the same
    for _ in range(3):
        make_loan(member=borrower, product=product, officer=officer, manager=manager, principal="20000")
    Guarantor.objects.bulk_create(
        Guarantor(loan=loan, member=make_member(branch, savings="90000"), pledged_amount=D("5000"))
        for _ in range(3)
    )
    summary = loan_decision_summary(request=request, user=manager)
    assert len(summary["history"]) == 4
    assert len(summary["guarantors"]) == 4
    assert queries() == few <= 12


def test_the_decision_page_shows_the_loan_summary(client, officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status="SUBMITTED")
    client.force_login(manager)

    page = client.get(reverse("admin:approvals_approvalrequest_decide", args=[request_of(loan).pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="loans-decision-summary"' in html
    assert borrower.member_number in html
    assert "Eligibility checks" in html
    assert "Schedule preview" in html
    assert 'name="decision" value="APPROVED"' in html


# --- the loan page --------------------------------------------------------------------------------


def test_the_loan_page_offers_approve_only_to_the_current_levels_deciders(
    client, officer, manager, committee, big_product, borrower
):
    loan = make_loan(
        member=borrower, product=big_product, officer=officer, principal="700000", status="SUBMITTED"
    )
    url = reverse("admin:loans_loan_change", args=[loan.pk])

    client.force_login(committee[0])
    assert "loans-approve" not in client.get(url).content.decode()
    client.force_login(manager)
    page = client.get(url).content.decode()
    assert "loans-approve" in page
    assert 'id="loans-approvals"' in page
    approved = client.post(
        reverse("admin:loans_loan_approve", args=[loan.pk]), {"comment": "ok"}, follow=True
    )
    assert approved.status_code == 200
    assert "loan approval is waiting for approval (level 2 of 2)" in approved.content.decode()
    assert "loans-approve" not in client.get(url).content.decode()
    client.force_login(committee[0])
    page = client.get(url).content.decode()
    assert "loans-approve" in page
    assert f"{manager} approved (level 1): ok" in page


def test_editing_a_submitted_loan_in_the_admin_asks_again(client, officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status="SUBMITTED")
    first = request_of(loan)
    client.force_login(officer)

    done = client.post(
        reverse("admin:loans_loan_edit", args=[loan.pk]),
        {"principal": "80000.00", "term": "12", "purpose": "Stock"},
        follow=True,
    )

    assert done.status_code == 200
    first.refresh_from_db()
    assert first.status == "CANCELLED"
    assert request_of(loan).amount == D("80000.00")
    assert f"Loan {loan.loan_number} updated." in done.content.decode()
