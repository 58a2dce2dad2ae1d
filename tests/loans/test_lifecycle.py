"""The loan lifecycle as staff see it: application, submission, four-eyes approval, disbursement,
repayment to closure, withdrawal and rejection, each step on the loan's timeline."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from cooperative.exceptions import ValidationFailed
from ledger.models import Account, JournalEntry, Side
from ledger.selectors import ledger_discrepancies
from loans import services
from loans.exceptions import FourEyesViolation, InvalidTransition, LoanNotPermitted, NotEligible
from loans.models import Loan
from loans.selectors import loan_timeline, settlement_quote
from tests.loans.factories import LoanProductFactory, make_loan, make_member, savings_of

pytestmark = pytest.mark.django_db
D = Decimal


def no_discrepancies() -> bool:
    return all(not found for found in ledger_discrepancies().values())


def test_happy_path_from_application_to_closure(branch, officer, manager, teller, product, borrower):
    # given a member with 200,000 savings and a 12% product with a 1% processing fee
    product.processing_fee_value = D("1.0000")
    product.save()
    # when the officer takes the application and submits it
    loan = services.create_application(
        actor=officer, member=borrower, product=product, principal=D("100000.00"), term=12, purpose="Shop stock"
    )
    assert loan.status == Loan.Status.DRAFT
    assert loan.loan_number.startswith("LN")
    assert loan.processing_fee == D("1000.00")
    services.submit_application(actor=officer, loan_id=loan.pk)
    # and the manager approves and disburses it
    services.approve_loan(actor=manager, loan_id=loan.pk, comment="Good record")
    loan = services.disburse_loan(actor=manager, loan_id=loan.pk)
    # then the member's savings received the principal less the fee, and 12 installments are due
    assert loan.status == Loan.Status.DISBURSED
    assert savings_of(borrower).balance == D("299000.00")
    assert Account.objects.get(pk=loan.account_id).balance == D("100000.00")
    assert loan.schedule.count() == 12
    first = loan.schedule.get(installment_number=1)
    assert (first.principal_amount, first.interest_amount) == (D("7884.88"), D("1000.00"))
    entry = loan.disbursement_entry
    assert entry.kind == JournalEntry.Kind.LOAN_DISBURSEMENT
    assert sum(leg.amount for leg in entry.legs.filter(type=Side.DEBIT)) == D("100000.00")
    # when the member pays the whole settlement quote at the counter
    quote = settlement_quote(loan=loan, as_of=date.today())
    payment = services.record_repayment(actor=teller, loan_id=loan.pk, amount=quote.total, source="CASH")
    # then the loan is closed, its account is empty and the books balance
    loan.refresh_from_db()
    assert loan.status == Loan.Status.CLOSED
    assert Account.objects.get(pk=loan.account_id).balance == D("0.00")
    assert payment.principal_portion == D("100000.00")
    assert payment.interest_portion == D("1000.00")
    assert all(row.is_paid for row in loan.schedule.all())
    assert [e.action for e in loan_timeline(loan=loan)] == [
        "created",
        "submitted",
        "approved",
        "disbursed",
        "repayment",
        "closed",
    ]
    assert no_discrepancies()


def test_timeline_records_who_and_why(officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager, status=Loan.Status.SUBMITTED)
    services.reject_loan(actor=manager, loan_id=loan.pk, reason="Income too irregular")
    event = loan_timeline(loan=loan).last()
    assert (event.action, event.actor, event.from_status, event.to_status, event.comment) == (
        "rejected",
        manager,
        "SUBMITTED",
        "REJECTED",
        "Income too irregular",
    )
    assert Loan.objects.get(pk=loan.pk).history.latest().history_change_reason == "Income too irregular"
