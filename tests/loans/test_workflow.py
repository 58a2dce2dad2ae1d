"""The loan's state machine (loans/workflow.py) is what the services obey: illegal moves are 409s
naming the current status and the steps possible, four-eyes and coverage are guards of the table."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from approvals.exceptions import SubjectPendingApproval
from cooperative.workflow import InvalidTransition as AnyInvalidTransition
from loans import services
from loans.exceptions import FourEyesViolation, GuarantorRefused, InvalidTransition
from loans.models import Loan
from loans.workflow import LOAN_MACHINE
from tests.loans.factories import LoanProductFactory, make_loan, make_member

pytestmark = pytest.mark.django_db


def test_every_status_is_in_the_table_and_every_status_can_be_reached():
    assert set(LOAN_MACHINE.states) == set(Loan.Status.values)
    reached = {LOAN_MACHINE.initial} | {t.target for t in LOAN_MACHINE.transitions if t.target}
    assert reached == set(Loan.Status.values)
    assert set(LOAN_MACHINE.final_states()) == {"REJECTED", "WITHDRAWN", "WRITTEN_OFF"}


def test_loans_invalid_transition_is_the_engines(officer, manager, product, borrower):
    draft = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)
    with pytest.raises(AnyInvalidTransition) as refused:
        services.approve_loan(actor=manager, loan_id=draft.pk)
    assert isinstance(refused.value, InvalidTransition)
    assert refused.value.message == (
        f"Loan {draft.loan_number} is draft; only submitted loans can be approved. "
        "Possible now: edit, add guarantor, remove guarantor, submit, withdraw."
    )


def test_an_illegal_transition_over_the_api_is_a_409_problem(api_as, officer, manager, product, borrower):
    draft = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)

    response = api_as(manager).post(f"/api/v1/loans/{draft.pk}/disburse/", {}, format="json")

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert "is draft; only approved loans can be disbursed" in body["detail"]
    assert "Possible now:" in body["detail"]
    draft.refresh_from_db()
    assert draft.status == Loan.Status.DRAFT


def test_a_closed_loans_write_off_is_refused_by_the_table(officer, manager, product, borrower):
    rejected = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, status=Loan.Status.REJECTED
    )
    with pytest.raises(InvalidTransition, match="No further steps are possible"):
        services.write_off_loan(actor=manager, loan_id=rejected.pk, reason="Gone")


def test_approval_guards_come_from_the_table(officer, manager, branch, make_staff):
    # given a product that needs one guarantor covering half the loan, and a pledge
    product = LoanProductFactory(required_guarantors=1, guarantor_coverage_percent=Decimal("50"))
    borrower = make_member(branch, savings="200000")
    friend = make_member(branch, savings="200000", phone="+2348030000001")
    draft = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)
    # then submitting without it is refused by the submit guard, naming the coverage
    with pytest.raises(GuarantorRefused, match="needs 1 guarantor"):
        services.submit_application(actor=officer, loan_id=draft.pk)
    services.add_guarantor(actor=officer, loan_id=draft.pk, guarantor_member=friend, amount="50000")
    services.submit_application(actor=officer, loan_id=draft.pk)
    loan = Loan.objects.get(pk=draft.pk)
    # and the pledge cannot be withdrawn while the approval is pending (409)
    with pytest.raises(SubjectPendingApproval, match="waiting for approval"):
        services.remove_guarantor(actor=officer, guarantor_id=loan.guarantors.get().pk)
    # when the pledge is gone all the same (say, a data fix), the approve guard refuses
    pledge = loan.guarantors.get()
    pledge.status = "WITHDRAWN"
    pledge.save(update_fields=["status"])
    with pytest.raises(GuarantorRefused, match="needs 1 guarantor"):
        services.approve_loan(actor=manager, loan_id=loan.pk)
    # and the four-eyes guard names the rule for the submitter, whatever their role
    officer.user_permissions.add(Permission.objects.get(codename="approve_loan"))
    officer = type(officer).objects.get(pk=officer.pk)
    with pytest.raises(FourEyesViolation, match="Four-eyes"):
        LOAN_MACHINE.check(Loan.objects.get(pk=loan.pk), "approve", actor=officer)
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.SUBMITTED


def test_the_machine_checks_the_branch_with_the_permission(
    officer, product, borrower, other_branch, make_staff
):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    elsewhere = make_staff("MANAGER", other_branch, email="far@test.ng")
    assert not LOAN_MACHINE.allows(loan, "approve", actor=elsewhere)
    with pytest.raises(Exception, match="branch you do not work in"):
        LOAN_MACHINE.check(loan, "approve", actor=elsewhere)
