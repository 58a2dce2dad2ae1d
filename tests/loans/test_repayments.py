"""Repayments: allocation order, overpayment policies, sources, refusals, reversal, a worked example."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from cooperative.exceptions import Conflict, ValidationFailed
from ledger import services as ledger
from ledger.exceptions import InsufficientFunds
from ledger.models import Account, JournalEntry
from ledger.selectors import ledger_discrepancies
from loans import services
from loans.exceptions import LoanClosed, RepaymentRefused
from loans.models import Loan, LoanPayment, LoanProduct, LoanSchedule
from loans.selectors import settlement_quote
from tests.loans.factories import LoanProductFactory, make_loan, make_member, savings_of, write_off

pytestmark = pytest.mark.django_db
D = Decimal
FIELDS = (
    "principal_amount",
    "interest_amount",
    "fee_amount",
    "penalty_amount",
    "total_amount",
    "principal_paid",
    "interest_paid",
    "fee_paid",
    "penalty_paid",
    "paid_amount",
    "is_paid",
    "paid_on",
    "is_overdue",
)


def schedule_state(loan) -> list[tuple]:
    return [tuple(getattr(row, f) for f in FIELDS) for row in LoanSchedule.objects.filter(loan=loan)]


def row(loan, number) -> LoanSchedule:
    return LoanSchedule.objects.get(loan=loan, installment_number=number)


def charge(loan, number, *, penalty="0", fee="0") -> None:
    """What end of day does to an overdue installment: add a penalty (or a fee) to it."""
    installment = row(loan, number)
    installment.penalty_amount += D(penalty)
    installment.fee_amount += D(fee)
    installment.total_amount += D(penalty) + D(fee)
    installment.save()


def gl_balance(branch, gl_code) -> Decimal:
    return Account.objects.get(branch=branch, gl_code=gl_code, member__isnull=True).balance


@pytest.fixture
def overdue_loan(officer, manager, product, borrower):
    """100,000 at 12% over 12 months, disbursed 75 days ago: installments 1 and 2 are overdue."""
    return make_loan(
        member=borrower,
        product=product,
        officer=officer,
        manager=manager,
        disbursed_on=date.today() - timedelta(days=75),
    )


def test_allocation_pays_penalty_fee_interest_principal_of_the_oldest_installment_first(
    branch, teller, overdue_loan
):
    # given two overdue installments (8,884.88 each), the first with a 100 penalty and a 50 fee
    charge(overdue_loan, 1, penalty="100.00", fee="50.00")
    # when the member pays 1,120
    payment = services.record_repayment(
        actor=teller, loan_id=overdue_loan.pk, amount="1120.00", source="CASH"
    )
    # then installment 1's penalty, fee and interest are paid, then -30 short of its principal
    first = row(overdue_loan, 1)
    assert (first.penalty_paid, first.fee_paid, first.interest_paid, first.principal_paid) == (
        D("100.00"),
        D("50.00"),
        D("970.00"),
        D("0.00"),
    )
    assert row(overdue_loan, 2).paid_amount == D("0.00")
    assert (payment.penalty_portion, payment.fee_portion, payment.interest_portion) == (
        D("100.00"),
        D("50.00"),
        D("970.00"),
    )
    # and the income is recognised when paid
    assert gl_balance(branch, "PENALTY_INCOME") == D("100.00")
    assert gl_balance(branch, "INTEREST_INCOME") == D("970.00")


def test_oldest_installment_is_paid_in_full_before_the_next(teller, overdue_loan):
    services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="10000.00", source="CASH")
    first, second = row(overdue_loan, 1), row(overdue_loan, 2)
    assert first.is_paid
    assert first.paid_on == date.today()
    assert (second.interest_paid, second.principal_paid) == (
        second.interest_amount,
        D("1115.12") - second.interest_amount,
    )


def test_custom_allocation_order_is_followed(teller, overdue_loan):
    overdue_loan.product.allocation_order = "principal,interest,fee,penalty"
    overdue_loan.product.save()
    charge(overdue_loan, 1, penalty="100.00")
    services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="8000.00", source="CASH")
    first = row(overdue_loan, 1)
    assert (first.principal_paid, first.interest_paid, first.penalty_paid) == (
        D("7884.88"),
        D("115.12"),
        D("0"),
    )


def test_reduce_term_prepays_the_last_installments(teller, officer, manager, product, borrower):
    # given a fresh 100,000 loan (REDUCE_TERM is the default)
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    last = row(loan, 12)
    # when the member pays the first installment plus the last installment's principal
    amount = D("8884.88") + last.principal_amount
    payment = services.record_repayment(actor=teller, loan_id=loan.pk, amount=amount, source="CASH")
    # then installment 12 is gone (principal prepaid, interest waived) and 1 is paid
    last = row(loan, 12)
    assert last.is_paid
    assert last.interest_amount == D("0.00")
    assert row(loan, 1).is_paid
    assert not row(loan, 11).is_paid
    assert payment.prepaid_principal == last.principal_amount
    assert LoanSchedule.objects.filter(loan=loan, is_paid=False).count() == 10


def test_reduce_installment_spreads_the_prepayment_evenly(teller, officer, manager, borrower):
    product = LoanProductFactory(overpayment_policy=LoanProduct.Overpayment.REDUCE_INSTALLMENT)
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    # when the member pays the first installment plus 11,000 extra
    services.record_repayment(actor=teller, loan_id=loan.pk, amount=D("8884.88") + D("11000"), source="CASH")
    # then each of the 11 installments after the current one has 1,000 less principal to pay
    assert row(loan, 1).is_paid
    for number in range(2, 13):
        assert row(loan, number).principal_paid == D("1000.00")
        assert row(loan, number).outstanding == row(loan, number).total_amount - D("1000.00")
    assert LoanSchedule.objects.filter(loan=loan, is_paid=False).count() == 11


def test_refuse_policy_refuses_more_than_the_payoff(teller, officer, manager, borrower):
    product = LoanProductFactory(overpayment_policy=LoanProduct.Overpayment.REFUSE, name="No overpayment")
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    payoff = settlement_quote(loan=loan, as_of=date.today()).total
    with pytest.raises(RepaymentRefused) as refused:
        services.record_repayment(actor=teller, loan_id=loan.pk, amount=payoff + D("0.01"), source="CASH")
    assert refused.value.field == "amount"
    assert refused.value.status == 400
    assert f"more than the payoff of {payoff}" in refused.value.message
    assert "No overpayment refuses overpayments" in refused.value.message
    assert not LoanPayment.objects.exists()


def test_settlement_quote_is_principal_plus_interest_due_and_the_current_period(overdue_loan):
    charge(overdue_loan, 2, penalty="75.00")
    quote = settlement_quote(loan=overdue_loan, as_of=date.today())
    rows = list(LoanSchedule.objects.filter(loan=overdue_loan))
    # installments 1 and 2 are due; 3 is the current period; 4-12 only their principal
    assert quote.principal == D("100000.00")
    assert quote.interest == sum(r.interest_amount for r in rows[:3])
    assert quote.penalties == D("75.00")
    assert quote.total == quote.principal + quote.interest + quote.penalties


def test_full_payoff_closes_the_loan_and_more_is_refused(teller, overdue_loan):
    quote = settlement_quote(loan=overdue_loan, as_of=date.today())
    services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount=quote.total, source="BANK")
    assert Loan.objects.get(pk=overdue_loan.pk).status == Loan.Status.CLOSED
    assert Account.objects.get(pk=overdue_loan.account_id).balance == D("0.00")
    with pytest.raises(LoanClosed) as refused:
        services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="100", source="CASH")
    assert refused.value.status == 409
    assert "is closed" in refused.value.message


def test_back_dated_repayment_before_disbursement_is_refused(teller, overdue_loan):
    with pytest.raises(RepaymentRefused) as refused:
        services.record_repayment(
            actor=teller,
            loan_id=overdue_loan.pk,
            amount="100",
            source="CASH",
            payment_date=overdue_loan.disbursement_date - timedelta(days=1),
        )
    assert refused.value.field == "payment_date"
    assert "before the loan was disbursed" in refused.value.message


def test_future_dated_repayment_is_refused(teller, overdue_loan):
    with pytest.raises(RepaymentRefused, match="in the future"):
        services.record_repayment(
            actor=teller,
            loan_id=overdue_loan.pk,
            amount="100",
            source="CASH",
            payment_date=date.today() + timedelta(days=1),
        )


def test_back_dated_repayment_counts_what_was_due_then(teller, overdue_loan):
    # paid 40 days after disbursement: only installment 1 was due then, installment 2 was current
    on = overdue_loan.disbursement_date + timedelta(days=40)
    quote = settlement_quote(loan=overdue_loan, as_of=on)
    payment = services.record_repayment(
        actor=teller, loan_id=overdue_loan.pk, amount=quote.total, source="CASH", payment_date=on
    )
    assert payment.journal_entry.value_date == on
    assert Loan.objects.get(pk=overdue_loan.pk).status == Loan.Status.CLOSED


@pytest.mark.parametrize(("amount", "field"), [("0", "amount"), ("-1", "amount"), ("1.001", "amount")])
def test_bad_amounts_are_refused(teller, overdue_loan, amount, field):
    with pytest.raises(ValidationFailed) as refused:
        services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount=amount, source="CASH")
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1e400", "too large"),
        ("1" * 40, "too large"),
        ("1000000000000000", "too large"),
        ("-1e400", "greater than zero"),
    ],
)
def test_an_amount_past_the_ceiling_or_28_digits_is_refused_not_a_crash(
    teller, overdue_loan, amount, message
):
    # The services' own amount check quantized before it looked at the size: "1e400" raised
    # decimal.InvalidOperation (a 500) instead of a refusal naming the field.
    with pytest.raises(ValidationFailed, match=message) as refused:
        services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount=amount, source="CASH")
    assert refused.value.field == "amount"
    assert not LoanPayment.objects.filter(loan=overdue_loan).exists()


def test_unknown_source_is_refused(teller, overdue_loan):
    with pytest.raises(ValidationFailed) as refused:
        services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="100", source="BARTER")
    assert refused.value.field == "source"


def test_repayment_on_a_loan_not_yet_disbursed_is_refused(teller, officer, manager, product, borrower):
    loan = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, status=Loan.Status.APPROVED
    )
    with pytest.raises(LoanClosed, match="only an active loan can be repaid"):
        services.record_repayment(actor=teller, loan_id=loan.pk, amount="100", source="CASH")


def test_repayment_from_savings_respects_the_available_balance(teller, overdue_loan, borrower):
    # given the borrower's savings: 200,000 + 100,000 loan proceeds, 280,000 of it on hold
    savings = savings_of(borrower)
    ledger.place_hold(account_id=savings.pk, amount=D("295000.00"), reason="Court order")
    # when more than the 5,000 available is taken from savings
    with pytest.raises(InsufficientFunds):
        services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="5000.01", source="SAVINGS")
    # then 5,000 works
    payment = services.record_repayment(
        actor=teller, loan_id=overdue_loan.pk, amount="5000.00", source="SAVINGS"
    )
    assert savings_of(borrower).balance == D("295000.00")
    assert payment.source == LoanPayment.Source.SAVINGS


def test_gateway_repayment_debits_the_gateway_clearing_account(branch, teller, overdue_loan):
    services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="1000", source="GATEWAY")
    assert gl_balance(branch, "PAYSTACK_CLEARING") == D("1000.00")


def test_same_idempotency_key_returns_the_first_payment(teller, overdue_loan):
    first = services.record_repayment(
        actor=teller, loan_id=overdue_loan.pk, amount="1000", source="CASH", idempotency_key="rcpt-1"
    )
    again = services.record_repayment(
        actor=teller, loan_id=overdue_loan.pk, amount="1000", source="CASH", idempotency_key="rcpt-1"
    )
    assert again.pk == first.pk
    assert LoanPayment.objects.count() == 1
    with pytest.raises(Conflict):
        services.record_repayment(
            actor=teller, loan_id=overdue_loan.pk, amount="2000", source="CASH", idempotency_key="rcpt-1"
        )


def test_only_staff_with_the_permission_take_repayments(officer, overdue_loan):
    from loans.exceptions import LoanNotPermitted

    with pytest.raises(LoanNotPermitted, match="record_repayment"):
        services.record_repayment(actor=officer, loan_id=overdue_loan.pk, amount="100", source="CASH")


# --- Reversal ----------------------------------------------------------------------------------------


def test_reversal_restores_the_schedule_exactly(teller, accountant, overdue_loan):
    # given a penalty and a part payment already on the schedule, both installments marked overdue
    charge(overdue_loan, 1, penalty="100.00")
    LoanSchedule.objects.filter(loan=overdue_loan, installment_number__lte=2).update(is_overdue=True)
    services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="3000", source="CASH")
    before = schedule_state(overdue_loan)
    # when a large payment (both overdue installments and a prepayment) is reversed
    payment = services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="40000", source="CASH")
    assert schedule_state(overdue_loan) != before
    services.reverse_repayment(actor=accountant, payment_id=payment.pk, reason="Cheque bounced")
    # then every installment is exactly as before, and the money is back
    assert schedule_state(overdue_loan) == before
    payment.refresh_from_db()
    assert payment.reversed_at is not None
    assert payment.reversal_entry.reverses == payment.journal_entry
    assert payment.reversal_entry.kind == JournalEntry.Kind.REVERSAL
    assert all(not found for found in ledger_discrepancies().values())


def test_reversing_the_payoff_reopens_the_loan(teller, accountant, overdue_loan):
    before = schedule_state(overdue_loan)
    quote = settlement_quote(loan=overdue_loan, as_of=date.today())
    payment = services.record_repayment(
        actor=teller, loan_id=overdue_loan.pk, amount=quote.total, source="CASH"
    )
    services.reverse_repayment(actor=accountant, payment_id=payment.pk, reason="Wrong loan")
    loan = Loan.objects.get(pk=overdue_loan.pk)
    assert loan.status == Loan.Status.DISBURSED
    assert loan.closed_at is None
    assert schedule_state(overdue_loan) == before
    assert Account.objects.get(pk=loan.account_id).balance == D("100000.00")
    assert [e.action for e in loan.events.order_by("at", "id")][-3:] == [
        "closed",
        "reopened",
        "repayment_reversed",
    ]


def test_reversal_rules(teller, accountant, overdue_loan):
    first = services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="1000", source="CASH")
    second = services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="1000", source="CASH")
    with pytest.raises(Conflict, match="later repayments"):
        services.reverse_repayment(actor=accountant, payment_id=first.pk, reason="x")
    with pytest.raises(ValidationFailed):
        services.reverse_repayment(actor=accountant, payment_id=second.pk, reason="")
    services.reverse_repayment(actor=accountant, payment_id=second.pk, reason="duplicate")
    with pytest.raises(Conflict, match="already been reversed"):
        services.reverse_repayment(actor=accountant, payment_id=second.pk, reason="again")
    services.reverse_repayment(actor=accountant, payment_id=first.pk, reason="also wrong")


# --- Worked example ------------------------------------------------------------------------------------


def test_worked_example_member_saves_borrows_repays_and_the_books_balance(branch, officer, manager, teller):
    # given Amaka saves 60,000 over three months
    amaka = make_member(branch, months=12)
    for month in range(3):
        ledger.deposit(account_id=savings_of(amaka).pk, amount=D("20000.00"), description=f"Savings {month}")
    # and borrows 100,000 for 3 months at 12% flat (2x savings ceiling) with a 1,000 flat fee
    product = LoanProductFactory(
        savings_multiple=D("2"),
        calculation_method="flat_rate",
        processing_fee_type=LoanProduct.FeeType.FLAT,
        processing_fee_value=D("1000"),
        max_term=3,
    )
    loan = make_loan(
        member=amaka, product=product, officer=officer, manager=manager, term=3, principal="100000"
    )
    # then she has 159,000 in savings, owes 100,000 and the cooperative earned the fee
    assert savings_of(amaka).balance == D("159000.00")
    assert gl_balance(branch, "FEE_INCOME") == D("1000.00")
    # when she repays all three installments from her savings
    for number in (1, 2, 3):
        services.record_repayment(
            actor=teller, loan_id=loan.pk, amount=row(loan, number).total_amount, source="SAVINGS"
        )
    # then the loan is closed, she paid 3,000 interest (1% a month flat) and every ledger check passes
    rows = LoanSchedule.objects.filter(loan=loan)
    interest = sum(r.interest_amount for r in rows)
    assert interest == D("3000.00")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.CLOSED
    assert savings_of(amaka).balance == D("159000.00") - D("100000.00") - interest
    assert gl_balance(branch, "INTEREST_INCOME") == interest
    assert Account.objects.get(pk=loan.account_id).balance == D("0.00")
    assert ledger_discrepancies() == {
        "balances": [],
        "unbalanced_entries": [],
        "entries_without_legs": [],
        "system_total": [],
    }


def test_refuse_policy_takes_amounts_up_to_the_payoff_in_installment_order(
    teller, officer, manager, borrower
):
    product = LoanProductFactory(overpayment_policy=LoanProduct.Overpayment.REFUSE, name="Pay in order")
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    # when the member pays the first installment and 5,000 more
    services.record_repayment(actor=teller, loan_id=loan.pk, amount=D("8884.88") + D("5000"), source="CASH")
    # then the extra goes to the next installment's principal, not the last one's
    assert row(loan, 2).principal_paid == D("5000.00")
    assert row(loan, 12).principal_paid == D("0.00")


def test_unknown_loan_is_a_404(teller):
    from loans.exceptions import LoanNotFound

    with pytest.raises(LoanNotFound) as missing:
        services.record_repayment(actor=teller, loan_id="not-a-uuid", amount="100", source="CASH")
    assert missing.value.status == 404


def test_repayments_of_a_written_off_loan_cannot_be_reversed(
    teller, manager, manager2, accountant, overdue_loan
):
    payment = services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="1000", source="CASH")
    write_off(overdue_loan, requester=manager, approver=manager2, reason="Gone")
    with pytest.raises(Conflict, match="written off"):
        services.reverse_repayment(actor=accountant, payment_id=payment.pk, reason="x")


def test_settlement_quote_of_a_closed_loan_is_zero(teller, overdue_loan):
    quote = settlement_quote(loan=overdue_loan, as_of=date.today())
    services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount=quote.total, source="CASH")
    assert settlement_quote(loan=overdue_loan, as_of=date.today()).total == D("0.00")


def test_cash_repaid_at_the_counter_lands_in_the_tellers_till(branch, teller, overdue_loan):
    # when a teller takes 2,000 in cash and the system records a bank repayment of 500
    services.record_repayment(actor=teller, loan_id=overdue_loan.pk, amount="2000.00", source="CASH")
    services.record_repayment(actor=None, loan_id=overdue_loan.pk, amount="500.00", source="BANK")
    # then the cash is in the teller's own till and the bank money in the branch's bank account
    assert Account.objects.get(branch=branch, till_teller=teller).balance == D("2000.00")
    assert gl_balance(branch, "BANK") == D("500.00")
    assert not any(ledger_discrepancies().values())


def test_a_repayment_enters_only_through_record_repayment():
    # The allocation-and-posting step under record_repayment checks no permission, state, amount or
    # idempotency key: it is private to loans.services, and each money use case has one front door.
    public = set(services.__all__)
    assert not any("apply_repayment" in name for name in dir(services))
    assert {
        "disburse_loan",
        "record_repayment",
        "reverse_repayment",
        "write_off_loan",
        "record_recovery",
        "recover_from_guarantors",
    } <= public
