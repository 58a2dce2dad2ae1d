"""Guarantors: who may guarantee, how much, holds on approval, release as the loan is repaid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cooperative.exceptions import ValidationFailed
from ledger import services as ledger
from ledger.exceptions import InsufficientFunds
from ledger.models import Hold
from loans import services
from loans.exceptions import GuarantorOverCommitted, GuarantorRefused
from loans.models import Guarantor, Loan
from loans.selectors import settlement_quote
from tests.loans.factories import LoanProductFactory, make_loan, make_member, savings_of

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def guarded_product(db):
    """2 x savings ceiling, one guarantor covering at least 50% of the loan."""
    return LoanProductFactory(
        name="Guaranteed loan",
        savings_multiple=D("2"),
        required_guarantors=1,
        guarantor_coverage_percent=D("50"),
    )


@pytest.fixture
def guarantor(branch):
    return make_member(branch, savings="80000.00", first_name="Emeka", last_name="Okonkwo")


def test_guarantor_cannot_be_the_borrower(officer, guarded_product, borrower):
    loan = make_loan(member=borrower, product=guarded_product, officer=officer, status=Loan.Status.DRAFT)
    with pytest.raises(GuarantorRefused) as refused:
        services.add_guarantor(actor=officer, loan_id=loan.pk, guarantor_member=borrower, amount="10000")
    assert refused.value.field == "guarantor"
    assert "cannot guarantee their own loan" in refused.value.message


def test_inactive_member_cannot_guarantee(branch, officer, guarded_product, borrower):
    dormant = make_member(branch, savings="80000.00", status="DORMANT")
    loan = make_loan(member=borrower, product=guarded_product, officer=officer, status=Loan.Status.DRAFT)
    with pytest.raises(GuarantorRefused, match="only active members can guarantee"):
        services.add_guarantor(actor=officer, loan_id=loan.pk, guarantor_member=dormant, amount="10000")


def test_pledge_above_free_savings_is_refused(officer, guarded_product, borrower, guarantor):
    loan = make_loan(member=borrower, product=guarded_product, officer=officer, status=Loan.Status.DRAFT)
    with pytest.raises(GuarantorOverCommitted) as refused:
        services.add_guarantor(actor=officer, loan_id=loan.pk, guarantor_member=guarantor, amount="80000.01")
    assert refused.value.field == "amount"
    assert "only 80000.00 of free savings" in refused.value.message


@pytest.mark.parametrize("amount", ["1e400", "1" * 40])
def test_a_pledge_past_28_digits_is_refused_not_a_crash(
    officer, guarded_product, borrower, guarantor, amount
):
    loan = make_loan(member=borrower, product=guarded_product, officer=officer, status=Loan.Status.DRAFT)
    with pytest.raises(ValidationFailed, match="too large") as refused:
        services.add_guarantor(actor=officer, loan_id=loan.pk, guarantor_member=guarantor, amount=amount)
    assert refused.value.field == "amount"
    assert not loan.guarantors.exists()


def test_pledges_on_other_applications_reduce_free_savings(
    branch, officer, guarded_product, borrower, guarantor
):
    # given the guarantor pledged 60,000 of 80,000 on another member's application
    other = make_member(branch, savings="100000.00")
    first = make_loan(member=other, product=guarded_product, officer=officer, status=Loan.Status.DRAFT)
    services.add_guarantor(actor=officer, loan_id=first.pk, guarantor_member=guarantor, amount="60000")
    # when they try to pledge 30,000 more elsewhere
    second = make_loan(member=borrower, product=guarded_product, officer=officer, status=Loan.Status.DRAFT)
    with pytest.raises(GuarantorOverCommitted, match="only 20000.00 of free savings"):
        services.add_guarantor(actor=officer, loan_id=second.pk, guarantor_member=guarantor, amount="30000")
    # then 20,000 is still possible
    services.add_guarantor(actor=officer, loan_id=second.pk, guarantor_member=guarantor, amount="20000")


def test_submission_needs_the_guarantor_count_and_coverage(officer, guarded_product, borrower, guarantor):
    loan = make_loan(member=borrower, product=guarded_product, officer=officer, status=Loan.Status.DRAFT)
    with pytest.raises(GuarantorRefused, match="needs 1 guarantor"):
        services.submit_application(actor=officer, loan_id=loan.pk)
    services.add_guarantor(actor=officer, loan_id=loan.pk, guarantor_member=guarantor, amount="40000")
    with pytest.raises(
        GuarantorRefused, match=r"cover 50.00% of the loan \(50000.00\); pledges total 40000.00"
    ):
        services.submit_application(actor=officer, loan_id=loan.pk)


def test_removed_pledge_can_be_made_again(officer, guarded_product, borrower, guarantor):
    loan = make_loan(member=borrower, product=guarded_product, officer=officer, status=Loan.Status.DRAFT)
    pledge = services.add_guarantor(
        actor=officer, loan_id=loan.pk, guarantor_member=guarantor, amount="40000"
    )
    services.remove_guarantor(actor=officer, guarantor_id=pledge.pk)
    again = services.add_guarantor(actor=officer, loan_id=loan.pk, guarantor_member=guarantor, amount="50000")
    assert (again.pk, again.status, again.pledged_amount) == (
        pledge.pk,
        Guarantor.Status.PLEDGED,
        D("50000.00"),
    )


def test_approval_puts_the_pledge_on_hold_and_the_guarantor_cannot_withdraw_it(
    officer, manager, guarded_product, borrower, guarantor
):
    # given an approved loan guaranteed with 50,000 of the guarantor's 80,000
    make_loan(
        member=borrower,
        product=guarded_product,
        officer=officer,
        manager=manager,
        status=Loan.Status.APPROVED,
        guarantors=[(guarantor, "50000")],
    )
    savings = savings_of(guarantor)
    assert savings.held_amount == D("50000.00")
    # when the guarantor tries to withdraw 40,000
    with pytest.raises(InsufficientFunds):
        ledger.withdraw(account_id=savings.pk, amount=D("40000.00"))
    # then 30,000 is all they can take
    ledger.withdraw(account_id=savings.pk, amount=D("30000.00"))


def test_approval_refused_when_the_guarantor_spent_the_savings_meanwhile(
    officer, manager, guarded_product, borrower, guarantor
):
    loan = make_loan(
        member=borrower,
        product=guarded_product,
        officer=officer,
        status=Loan.Status.SUBMITTED,
        guarantors=[(guarantor, "50000")],
    )
    ledger.withdraw(account_id=savings_of(guarantor).pk, amount=D("40000.00"))
    with pytest.raises(GuarantorOverCommitted, match="no longer has 50000.00 free"):
        services.approve_loan(actor=manager, loan_id=loan.pk)
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.SUBMITTED
    assert savings_of(guarantor).held_amount == D("0.00")


def test_holds_shrink_as_principal_is_repaid_and_go_on_close(
    officer, manager, teller, guarded_product, borrower, guarantor
):
    loan = make_loan(
        member=borrower,
        product=guarded_product,
        officer=officer,
        manager=manager,
        guarantors=[(guarantor, "50000")],
        principal="100000",
    )
    # when the member repays the first installment (7,884.88 principal)
    services.record_repayment(actor=teller, loan_id=loan.pk, amount="8884.88", source="CASH")
    # then the guarantee covers half of the 92,115.12 still outstanding
    assert savings_of(guarantor).held_amount == D("46057.56")
    # when the loan is paid off
    quote = settlement_quote(loan=loan, as_of=date.today())
    services.record_repayment(actor=teller, loan_id=loan.pk, amount=quote.total, source="CASH")
    # then the guarantor's savings are free again
    assert savings_of(guarantor).held_amount == D("0.00")
    g = Guarantor.objects.get(loan=loan)
    assert g.status == Guarantor.Status.RELEASED
    assert Hold.objects.get(pk=g.hold_id).status == Hold.Status.RELEASED


def test_withdrawing_an_approved_application_releases_the_holds(
    officer, manager, guarded_product, borrower, guarantor
):
    loan = make_loan(
        member=borrower,
        product=guarded_product,
        officer=officer,
        manager=manager,
        status=Loan.Status.APPROVED,
        guarantors=[(guarantor, "50000")],
    )
    services.withdraw_application(actor=officer, loan_id=loan.pk, reason="Member withdrew")
    assert savings_of(guarantor).held_amount == D("0.00")
    assert Guarantor.objects.get(loan=loan).status == Guarantor.Status.WITHDRAWN
