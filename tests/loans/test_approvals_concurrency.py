"""PostgreSQL-only: loans' approval requests under real concurrency (threads, one connection each).
Lock order everywhere is the approval request, then the loan, so a decision racing another decision
or an edit waits for it: one wins, the other gets a clear 4xx, nothing deadlocks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from approvals.exceptions import AlreadyDecided
from approvals.models import Approval, ApprovalRequest
from approvals.services import decide_approval
from cooperative.exceptions import DomainError
from loans import services
from loans.exceptions import InvalidTransition
from loans.models import Loan, LoanEvent
from tests.loans.factories import make_loan
from tests.loans.test_loans_concurrency import fresh
from tests.postgres_harness import run_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("transactional_roles"),
]


def test_two_managers_approving_at_once_approve_the_loan_once(make_staff, branch, officer, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    first = make_staff("MANAGER", branch, email="first@test.ng")
    second = make_staff("MANAGER", branch, email="second@test.ng")

    results = run_threads(
        [
            lambda: services.approve_loan(actor=fresh(first), loan_id=loan.pk, comment="one"),
            lambda: services.approve_loan(actor=fresh(second), loan_id=loan.pk, comment="two"),
        ]
    )

    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(errors) == 1
    assert isinstance(errors[0], AlreadyDecided | InvalidTransition)
    assert errors[0].status == 409
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.APPROVED
    assert LoanEvent.objects.filter(loan=loan, action="approved").count() == 1
    assert Approval.objects.filter(request__object_id=str(loan.pk)).count() == 1


def test_an_edit_racing_the_decision_never_deadlocks_and_one_of_them_wins(
    make_staff, branch, officer, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    request = ApprovalRequest.objects.get(object_id=str(loan.pk), status="PENDING")
    manager = make_staff("MANAGER", branch, email="deciding@test.ng")

    edit, decision = run_threads(
        [
            lambda: services.update_application(actor=fresh(officer), loan_id=loan.pk, principal="120000"),
            lambda: decide_approval(
                request_id=request.pk, actor=fresh(manager), decision="APPROVED", comment="as shown"
            ),
        ]
    )

    loan.refresh_from_db()
    request.refresh_from_db()
    if isinstance(edit, DomainError):
        # the decision won: the loan is approved on the terms the manager saw; the edit is a 409
        assert isinstance(edit, InvalidTransition)
        assert (loan.status, loan.principal, request.status) == ("APPROVED", Decimal("100000.00"), "APPROVED")
    else:
        # the edit won: the request was cancelled under the manager, who is told so
        assert isinstance(decision, AlreadyDecided)
        assert (loan.status, loan.principal, request.status) == (
            "SUBMITTED",
            Decimal("120000.00"),
            "CANCELLED",
        )
        assert ApprovalRequest.objects.get(object_id=str(loan.pk), status="PENDING").amount == Decimal(
            "120000.00"
        )
