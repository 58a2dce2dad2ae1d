"""PostgreSQL-only: repayments racing end of day never leave a schedule row or a balance inconsistent,
and two end-of-day runners for one date process it once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest

from loans.eod import run_end_of_day
from loans.models import EndOfDayRun, Loan, LoanProduct, LoanSchedule
from loans.services import record_repayment
from tests.loans.eod_factories import make_active_loan, make_product
from tests.postgres_harness import closing_connection

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("transactional_reference_data"),
]


def _assert_consistent(loan: Loan) -> None:
    rows = list(LoanSchedule.objects.filter(loan=loan))
    for row in rows:
        components = row.principal_amount + row.interest_amount + row.fee_amount + row.penalty_amount
        paid = row.principal_paid + row.interest_paid + row.fee_paid + row.penalty_paid
        assert row.total_amount == components
        assert row.paid_amount == paid
        assert row.is_paid == (paid == components)
        assert not (row.is_overdue and row.is_paid)
    loan.account.refresh_from_db()
    assert loan.account.balance == sum((r.principal_amount - r.principal_paid for r in rows), Decimal("0.00"))


def test_repayments_racing_end_of_day_leave_every_row_consistent(branch):
    # given ten loans overdue since 31 January with a daily penalty (end of day writes their rows)
    product = make_product(
        penalty_rate=Decimal("0.1000"),
        penalty_frequency=LoanProduct.PenaltyFrequency.PER_DAY,
    )
    installments = [(date(2026, 1, 31), "1000.00", "100.00"), (date(2026, 2, 28), "1000.00", "90.00")]
    loans = [make_active_loan(branch, product=product, installments=installments) for _ in range(10)]
    run_end_of_day(as_of=date(2026, 2, 1))

    # when, on each of five days, a teller takes a repayment on every loan while end of day runs
    for offset in range(1, 6):
        day = date(2026, 2, 1) + timedelta(days=offset)
        barrier = threading.Barrier(len(loans) + 1)

        @closing_connection
        def repay(loan, day=day, barrier=barrier):
            barrier.wait()
            return record_repayment(
                actor=None, loan_id=loan.pk, amount=Decimal("150.00"), source="CASH", payment_date=day
            ).amount

        @closing_connection
        def end_of_day(day=day, barrier=barrier):
            barrier.wait()
            return run_end_of_day(as_of=day)

        with ThreadPoolExecutor(max_workers=len(loans) + 1) as pool:
            eod = pool.submit(end_of_day)
            paid = list(pool.map(repay, loans))
            stats = eod.result()

        # then every call succeeded and each day was processed once
        assert paid == [Decimal("150.00")] * len(loans)
        assert stats["processed"] == [day.isoformat()]

    # and every schedule row and loan balance is consistent; penalties were charged once a day
    assert EndOfDayRun.objects.count() == 6
    for loan in loans:
        _assert_consistent(loan)
        first = loan.schedule.get(installment_number=1)
        assert first.penalty_charged_through == date(2026, 2, 6)
    run_end_of_day(as_of=date(2026, 2, 7))
    for loan in Loan.objects.filter(pk__in=[loan.pk for loan in loans]):
        rows = loan.schedule.filter(is_overdue=True, is_paid=False)
        assert loan.arrears_amount == sum((r.total_amount - r.paid_amount for r in rows), Decimal("0.00"))


def test_two_runners_for_one_date_process_it_once(branch):
    product = make_product(penalty_rate=Decimal("5.0000"))
    loan = make_active_loan(branch, product=product, installments=[(date(2026, 1, 31), "1000.00", "100.00")])
    barrier = threading.Barrier(4)

    @closing_connection
    def runner(_):
        barrier.wait()
        return run_end_of_day(as_of=date(2026, 2, 1))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(runner, range(4)))

    assert sum(1 for r in results if r["processed"] == ["2026-02-01"]) == 1
    assert EndOfDayRun.objects.count() == 1
    assert loan.schedule.get(installment_number=1).penalty_amount == Decimal("55.00")
