"""End of day collects due installments from the member's savings when the product says so."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger import services as ledger
from ledger.models import Account, AccountType
from loans.eod import run_end_of_day
from loans.models import LoanPayment
from tests.loans.eod_factories import make_active_loan, make_product

pytestmark = pytest.mark.django_db

TWO = [(date(2026, 1, 31), "1000.00", "100.00"), (date(2026, 2, 28), "1000.00", "90.00")]


def _savings(loan) -> Account:
    return Account.objects.get(member=loan.member, type=AccountType.SAVINGS)


def test_due_installment_is_collected_from_savings(branch):
    # given an auto-debit product and a member with 5,000.00 in savings
    loan = make_active_loan(
        branch, product=make_product(auto_debit_savings=True), installments=TWO, savings="5000.00"
    )

    # when end of day runs on the due date
    stats = run_end_of_day(as_of=date(2026, 1, 31))

    # then the installment is paid from savings, dated that day, and is not overdue
    payment = LoanPayment.objects.get(loan=loan)
    assert (payment.source, payment.amount, payment.payment_date) == (
        "AUTO_DEBIT",
        Decimal("1100.00"),
        date(2026, 1, 31),
    )
    assert _savings(loan).balance == Decimal("3900.00")
    first = loan.schedule.get(installment_number=1)
    assert first.is_paid
    assert not first.is_overdue
    assert not loan.schedule.get(installment_number=2).is_paid
    assert (stats["auto_debits"], stats["auto_debit_amount"]) == (1, "1100.00")


def test_collection_is_limited_to_the_available_balance(branch):
    # given 700.00 in savings, 200.00 of it on hold
    loan = make_active_loan(
        branch, product=make_product(auto_debit_savings=True), installments=TWO, savings="700.00"
    )
    ledger.place_hold(account_id=_savings(loan).pk, amount=Decimal("200.00"), reason="Guarantee")

    run_end_of_day(as_of=date(2026, 1, 31))

    # then only the 500.00 available was taken; the rest of the installment is overdue the next day
    assert LoanPayment.objects.get(loan=loan).amount == Decimal("500.00")
    assert _savings(loan).balance == Decimal("200.00")
    run_end_of_day(as_of=date(2026, 2, 1))
    loan.refresh_from_db()
    assert loan.schedule.get(installment_number=1).is_overdue
    assert loan.arrears_amount == Decimal("600.00")
    assert loan.days_past_due == 1


def test_arrears_are_collected_when_money_arrives(branch):
    # given a loan overdue since 31 January with empty savings
    loan = make_active_loan(branch, product=make_product(auto_debit_savings=True), installments=TWO)
    run_end_of_day(as_of=date(2026, 2, 1))
    assert not LoanPayment.objects.filter(loan=loan).exists()

    # when the member saves 1,500.00 and end of day runs
    ledger.deposit(
        account_id=_savings(loan).pk,
        amount=Decimal("1500.00"),
        description="Salary",
        value_date=date(2026, 2, 2),
    )
    run_end_of_day(as_of=date(2026, 2, 2))

    # then the overdue installment is paid and the loan is back to performing
    loan.refresh_from_db()
    assert LoanPayment.objects.get(loan=loan).amount == Decimal("1100.00")
    assert (loan.days_past_due, loan.arrears_amount, loan.arrears_bucket.code) == (
        0,
        Decimal("0.00"),
        "PERFORMING",
    )


def test_no_collection_without_auto_debit_or_twice_for_a_date(branch):
    manual = make_active_loan(branch, product=make_product(), installments=TWO, savings="5000.00")
    auto = make_active_loan(
        branch, product=make_product(auto_debit_savings=True), installments=TWO, savings="5000.00"
    )

    run_end_of_day(as_of=date(2026, 1, 31))
    run_end_of_day(as_of=date(2026, 1, 31))

    assert not LoanPayment.objects.filter(loan=manual).exists()
    assert LoanPayment.objects.filter(loan=auto).count() == 1
    assert _savings(auto).balance == Decimal("3900.00")


def test_a_refused_collection_does_not_stop_end_of_day(branch):
    # given two auto-debit loans, one member's savings frozen
    frozen = make_active_loan(
        branch, product=make_product(auto_debit_savings=True), installments=TWO, savings="5000.00"
    )
    fine = make_active_loan(
        branch, product=make_product(auto_debit_savings=True), installments=TWO, savings="5000.00"
    )
    ledger.freeze_account(account_id=_savings(frozen).pk, reason="Court order")

    stats = run_end_of_day(as_of=date(2026, 2, 1))

    assert not LoanPayment.objects.filter(loan=frozen).exists()
    assert LoanPayment.objects.filter(loan=fine).count() == 1
    frozen.refresh_from_db()
    assert frozen.days_past_due == 1
    assert stats["auto_debits"] == 1
    # the frozen account is skipped, and that is a failure to collect, as docs/end-of-day.md says
    assert stats["auto_debit_failures"] == 1
