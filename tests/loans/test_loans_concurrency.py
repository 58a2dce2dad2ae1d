"""PostgreSQL-only: the loan money paths under real concurrency (threads, one connection each)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db.models import Sum

from cooperative.exceptions import DomainError
from cooperative.models import User
from ledger.models import Account, JournalEntry
from ledger.selectors import ledger_discrepancies
from loans import services
from loans.models import Guarantor, Loan, LoanPayment, LoanSchedule
from tests.loans.factories import make_loan, make_member
from tests.postgres_harness import run_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("transactional_roles"),
]
D = Decimal
CLEAN = {"balances": [], "unbalanced_entries": [], "entries_without_legs": [], "system_total": []}


def fresh(user):
    return User.objects.get(pk=user.pk)


def test_simultaneous_approve_and_disbursements_disburse_exactly_once(
    make_staff, branch, officer, product, borrower
):
    # given a submitted loan and two managers
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    approver = make_staff("MANAGER", branch, email="approver@test.ng")
    disburser = make_staff("MANAGER", branch, email="disburser@test.ng")

    approved = threading.Event()

    def approve():
        try:
            return services.approve_loan(actor=fresh(approver), loan_id=loan.pk)
        finally:
            approved.set()  # committed (or refused): the disbursers stop waiting for it

    def disburse():
        # a manager pressing "disburse" while the approval is being made, and again once it landed
        try:
            return services.disburse_loan(actor=fresh(disburser), loan_id=loan.pk)
        except DomainError as exc:
            if "already been disbursed" in exc.message:
                raise
        assert approved.wait(timeout=30), "the approval never finished"
        return services.disburse_loan(actor=fresh(disburser), loan_id=loan.pk)

    # when one approval and five disbursements race
    results = run_threads([approve, *[disburse] * 5])

    # then the loan was disbursed exactly once, with one entry and one schedule
    successes = [r for r in results[1:] if isinstance(r, Loan)]
    assert len(successes) == 1
    assert all("already been disbursed" in r.message for r in results[1:] if isinstance(r, DomainError))
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.DISBURSED
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.LOAN_DISBURSEMENT).count() == 1
    assert LoanSchedule.objects.filter(loan=loan).count() == 12
    assert Account.objects.filter(member=borrower, type="LOAN").count() == 1
    assert ledger_discrepancies() == CLEAN


def test_simultaneous_pledges_never_over_commit_one_guarantor(branch, officer, product):
    # given a guarantor with 50,000 savings and ten applications that each want 10,000 of it
    guarantor = make_member(branch, savings="50000.00")
    loans = [
        make_loan(
            member=make_member(branch, savings="100000.00"),
            product=product,
            officer=officer,
            status=Loan.Status.DRAFT,
        )
        for _ in range(10)
    ]

    def pledge(loan):
        return lambda: services.add_guarantor(
            actor=fresh(officer), loan_id=loan.pk, guarantor_member=guarantor, amount=D("10000.00")
        )

    # when all ten pledges arrive at once
    results = run_threads([pledge(loan) for loan in loans])

    # then exactly five are accepted and the rest are refused as over-committing
    assert sum(isinstance(r, Guarantor) for r in results) == 5
    assert {r.title for r in results if isinstance(r, DomainError)} == {"Guarantor over-committed"}
    pledged = Guarantor.objects.filter(member=guarantor).aggregate(total=Sum("pledged_amount"))["total"]
    assert pledged == D("50000.00")


def test_simultaneous_approvals_hold_no_more_than_the_guarantor_has(make_staff, branch, officer, product):
    # given two submitted loans, each guaranteed with 30,000 of a guarantor's 60,000
    guarantor = make_member(branch, savings="60000.00")
    loans = [
        make_loan(
            member=make_member(branch, savings="100000.00"),
            product=product,
            officer=officer,
            status=Loan.Status.SUBMITTED,
            guarantors=[(guarantor, "30000")],
        )
        for _ in range(2)
    ]
    manager = make_staff("MANAGER", branch, email="m@test.ng")
    # and the guarantor takes 20,000 out at the same time as both approvals
    from ledger import services as ledger

    savings = Account.objects.get(member=guarantor, type="SAVINGS")
    results = run_threads(
        [
            *[
                lambda loan=loan: services.approve_loan(actor=fresh(manager), loan_id=loan.pk)
                for loan in loans
            ],
            lambda: ledger.withdraw(account_id=savings.pk, amount=D("20000.00")),
        ]
    )
    # then the holds never exceed the savings
    savings.refresh_from_db()
    assert savings.held_amount <= savings.balance
    approved = sum(isinstance(r, Loan) for r in results[:2])
    assert savings.held_amount == D("30000.00") * approved


def test_concurrent_repayments_lose_no_update_on_the_schedule(
    branch, officer, manager, teller, product, borrower
):
    # given an active 100,000 loan
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)

    def pay():
        return services.record_repayment(
            actor=fresh(teller), loan_id=loan.pk, amount=D("1500.00"), source="CASH"
        )

    # when ten tellers take 1,500 each at the same moment
    results = run_threads([pay] * 10)

    # then all ten are on the schedule: 15,000 paid, principal outstanding matches the loan account
    assert all(isinstance(r, LoanPayment) for r in results)
    rows = LoanSchedule.objects.filter(loan=loan)
    assert sum(r.paid_amount for r in rows) == D("15000.00")
    principal_paid = sum(r.principal_paid for r in rows)
    assert (
        Account.objects.get(pk=Loan.objects.get(pk=loan.pk).account_id).balance
        == D("100000.00") - principal_paid
    )
    assert ledger_discrepancies() == CLEAN


def test_members_guaranteeing_each_other_repay_from_savings_at_once_without_deadlock(
    make_staff, branch, officer, manager, teller
):
    # given Ada and Bola each guarantee the other's loan, and both repay from savings
    from tests.loans.factories import LoanProductFactory

    product = LoanProductFactory(required_guarantors=1, guarantor_coverage_percent=D("20"), name="Mutual")
    ada = make_member(branch, savings="200000.00")
    bola = make_member(branch, savings="200000.00")
    loan_a = make_loan(
        member=ada, product=product, officer=officer, manager=manager, guarantors=[(bola, "20000")]
    )
    loan_b = make_loan(
        member=bola, product=product, officer=officer, manager=manager, guarantors=[(ada, "20000")]
    )

    def pay(loan):
        return lambda: services.record_repayment(
            actor=fresh(teller), loan_id=loan.pk, amount=D("2000.00"), source="SAVINGS"
        )

    # when twelve repayments on the two loans arrive at once
    results = run_threads([pay(loan_a), pay(loan_b)] * 6)

    # then every one went through and the guarantees shrank with the principal
    assert all(isinstance(r, LoanPayment) for r in results)
    assert LoanPayment.objects.count() == 12
    for borrower, guarantor in ((ada, bola), (bola, ada)):
        loan = Loan.objects.get(member=borrower)
        outstanding = Account.objects.get(pk=loan.account_id).balance
        held = Account.objects.get(member=guarantor, type="SAVINGS").held_amount
        assert held == (D("20000") * outstanding / D("100000")).quantize(D("0.01"), rounding="ROUND_UP")
    assert ledger_discrepancies() == CLEAN
