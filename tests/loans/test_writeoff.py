"""Write-off, recovery after write-off, and recovery from guarantors of a defaulted loan."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from cooperative.exceptions import ValidationFailed
from ledger.models import Account, JournalEntry
from ledger.selectors import ledger_discrepancies
from loans import services
from loans.exceptions import InvalidTransition, LoanClosed, LoanNotPermitted, RepaymentRefused
from loans.models import Guarantor, Loan, LoanPayment
from tests.loans.factories import LoanProductFactory, make_loan, make_member, savings_of, write_off

pytestmark = pytest.mark.django_db
D = Decimal


def gl(branch, code) -> Decimal:
    return Account.objects.get(branch=branch, gl_code=code, member__isnull=True).balance


@pytest.fixture
def defaulted(officer, manager, product, borrower):
    """100,000 over 12 months disbursed 100 days ago, nothing paid: three installments overdue."""
    return make_loan(
        member=borrower,
        product=product,
        officer=officer,
        manager=manager,
        disbursed_on=date.today() - timedelta(days=100),
    )


def test_write_off_moves_the_outstanding_principal_to_loan_loss_expense(branch, manager, manager2, defaulted):
    loan = write_off(defaulted, requester=manager, approver=manager2, reason="Member absconded")
    assert loan.status == Loan.Status.WRITTEN_OFF
    assert loan.written_off_amount == D("100000.00")
    assert Account.objects.get(pk=loan.account_id).balance == D("0.00")
    assert gl(branch, "LOAN_LOSS_EXPENSE") == D("100000.00")
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.WRITE_OFF).count() == 1
    assert loan.events.last().comment == "Member absconded"


def test_write_off_needs_the_permission_and_a_reason(officer, manager, defaulted):
    with pytest.raises(LoanNotPermitted, match="write_off_loan"):
        services.write_off_loan(actor=officer, loan_id=defaulted.pk, reason="x")
    with pytest.raises(ValidationFailed) as refused:
        services.write_off_loan(actor=manager, loan_id=defaulted.pk, reason="")
    assert refused.value.field == "reason"


def test_written_off_loan_takes_recoveries_not_repayments(branch, manager, manager2, teller, defaulted):
    write_off(defaulted, requester=manager, approver=manager2)
    with pytest.raises(LoanClosed, match="record a recovery"):
        services.record_repayment(actor=teller, loan_id=defaulted.pk, amount="100", source="CASH")
    # when the member later pays 30,000 in cash
    services.record_recovery(actor=teller, loan_id=defaulted.pk, amount="30000", source="CASH")
    # then the loss shrinks by what came back
    assert gl(branch, "LOAN_LOSS_EXPENSE") == D("70000.00")
    assert Loan.objects.get(pk=defaulted.pk).recovered_amount == D("30000.00")
    with pytest.raises(RepaymentRefused, match="Only 70000.00"):
        services.record_recovery(actor=teller, loan_id=defaulted.pk, amount="70000.01")
    assert all(not found for found in ledger_discrepancies().values())


def test_recovery_only_on_written_off_loans(teller, defaulted):
    with pytest.raises(InvalidTransition):
        services.record_recovery(actor=teller, loan_id=defaulted.pk, amount="100")


@pytest.fixture
def guaranteed_default(branch, officer, manager, borrower):
    product = LoanProductFactory(required_guarantors=2, guarantor_coverage_percent=D("60"), name="Guaranteed")
    first = make_member(branch, savings="50000.00", first_name="Emeka")
    second = make_member(branch, savings="50000.00", first_name="Bola")
    loan = make_loan(
        member=borrower,
        product=product,
        officer=officer,
        manager=manager,
        guarantors=[(first, "40000"), (second, "20000")],
        disbursed_on=date.today() - timedelta(days=100),
    )
    return loan, first, second


def test_recover_from_guarantors_debits_each_guarantor_once(manager, guaranteed_default):
    loan, first, second = guaranteed_default
    # when the manager calls in the guarantees
    entries = services.recover_from_guarantors(actor=manager, loan_id=loan.pk)
    # then each guarantor paid their guarantee from savings, in one entry each, and nothing stays on hold
    assert len(entries) == 2
    assert savings_of(first).balance == D("10000.00")
    assert savings_of(second).balance == D("30000.00")
    assert savings_of(first).held_amount == savings_of(second).held_amount == D("0.00")
    assert set(Guarantor.objects.filter(loan=loan).values_list("status", flat=True)) == {
        Guarantor.Status.INVOKED
    }
    payments = LoanPayment.objects.filter(loan=loan, source=LoanPayment.Source.GUARANTOR)
    assert sum(p.amount for p in payments) == D("60000.00")
    # and the overdue installments were paid first
    assert loan.schedule.filter(due_date__lt=date.today(), is_paid=False).count() == 0
    assert all(not found for found in ledger_discrepancies().values())


def test_recover_from_guarantors_after_write_off_reduces_the_loss(
    branch, manager, manager2, guaranteed_default
):
    loan, first, _second = guaranteed_default
    write_off(loan, requester=manager, approver=manager2, reason="Borrower died")
    entries = services.recover_from_guarantors(actor=manager, loan_id=loan.pk)
    assert len(entries) == 2
    assert gl(branch, "LOAN_LOSS_EXPENSE") == D("40000.00")
    assert Loan.objects.get(pk=loan.pk).recovered_amount == D("60000.00")


def test_guarantors_are_not_called_on_a_loan_in_good_standing(officer, manager, branch, borrower):
    product = LoanProductFactory(required_guarantors=1, guarantor_coverage_percent=D("10"), name="G")
    g = make_member(branch, savings="50000.00")
    loan = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, guarantors=[(g, "10000")]
    )
    with pytest.raises(InvalidTransition, match="nothing overdue"):
        services.recover_from_guarantors(actor=manager, loan_id=loan.pk)
    with pytest.raises(LoanNotPermitted):
        services.recover_from_guarantors(actor=officer, loan_id=loan.pk)
