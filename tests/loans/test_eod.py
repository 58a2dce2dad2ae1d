"""End of day: overdue, days past due, arrears, tolerance, penalties, classification, snapshots,
idempotency and catch-up (SQLite runs the portable penalty path, PostgreSQL the SQL one)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from cooperative.exceptions import Conflict
from loans.eod import penalty_due, penalty_months, run_end_of_day
from loans.models import ArrearsBucket, EndOfDayRun, Loan, LoanProduct, PortfolioSnapshot
from loans.tasks import run_end_of_day_task
from tests.loans.eod_factories import make_active_loan, make_product, pay_installment

pytestmark = pytest.mark.django_db

QUARTER = [
    (date(2026, 1, 31), "1000.00", "100.00"),
    (date(2026, 2, 28), "1000.00", "90.00"),
    (date(2026, 3, 31), "1000.00", "80.00"),
]


def _row(loan, number):
    return loan.schedule.get(installment_number=number)


def test_overdue_days_past_due_and_arrears(branch):
    # given a loan whose first two installments are unpaid and past due on 10 March
    loan = make_active_loan(branch, product=make_product(), installments=QUARTER)

    # when end of day runs for 10 March
    stats = run_end_of_day(as_of=date(2026, 3, 10))

    # then the two installments are overdue, the loan is 38 days past due (since 31 Jan) and substandard
    loan.refresh_from_db()
    assert [r.is_overdue for r in loan.schedule.order_by("installment_number")] == [True, True, False]
    assert loan.days_past_due == 38
    assert loan.arrears_amount == Decimal("2190.00")
    assert loan.arrears_bucket.code == "SUBSTANDARD"
    assert loan.last_end_of_day == date(2026, 3, 10)
    assert stats["installments_newly_overdue"] == 2
    assert stats["loans_in_arrears"] == 1
    assert stats["processed"] == ["2026-03-10"]


def test_due_today_is_not_overdue_yet(branch):
    loan = make_active_loan(branch, product=make_product(), installments=QUARTER)

    run_end_of_day(as_of=date(2026, 1, 31))

    loan.refresh_from_db()
    assert not _row(loan, 1).is_overdue
    assert loan.days_past_due == 0
    assert loan.arrears_bucket.code == "PERFORMING"


def test_paid_installment_leaves_arrears_and_dpd_counts_from_the_oldest_unpaid(branch):
    # given a loan 38 days past due
    loan = make_active_loan(branch, product=make_product(), installments=QUARTER)
    run_end_of_day(as_of=date(2026, 3, 10))

    # when the January installment is paid and the next end of day runs
    pay_installment(loan, 1, on=date(2026, 3, 11))
    run_end_of_day(as_of=date(2026, 3, 11))

    # then only February is in arrears: 11 days past due, pass & watch
    loan.refresh_from_db()
    assert not _row(loan, 1).is_overdue
    assert loan.days_past_due == 11
    assert loan.arrears_amount == Decimal("1090.00")
    assert loan.arrears_bucket.code == "PASS_WATCH"


def test_arrears_at_or_below_tolerance_are_not_arrears(branch):
    # given a product tolerating 50.00 and an installment with 50.00 left unpaid
    product = make_product(arrears_tolerance=Decimal("50.00"))
    loan = make_active_loan(branch, product=product, installments=[(date(2026, 1, 31), "1000.00", "50.00")])
    row = _row(loan, 1)
    row.principal_paid, row.paid_amount = Decimal("1000.00"), Decimal("1000.00")
    row.save()
    other = make_active_loan(branch, product=product, installments=[(date(2026, 1, 31), "1000.00", "50.01")])
    row = _row(other, 1)
    row.principal_paid, row.paid_amount = Decimal("1000.00"), Decimal("1000.00")
    row.save()

    run_end_of_day(as_of=date(2026, 2, 20))

    loan.refresh_from_db()
    other.refresh_from_db()
    assert (loan.days_past_due, loan.arrears_amount, loan.arrears_bucket.code) == (0, 0, "PERFORMING")
    assert (other.days_past_due, other.arrears_amount, other.arrears_bucket.code) == (
        20,
        Decimal("50.01"),
        "PASS_WATCH",
    )


def test_running_the_same_date_twice_changes_nothing(branch):
    # given a penalised overdue loan processed for 10 March
    product = make_product(penalty_rate=Decimal("5.0000"))
    loan = make_active_loan(branch, product=product, installments=QUARTER)
    first = run_end_of_day(as_of=date(2026, 3, 10))
    before = list(loan.schedule.order_by("installment_number").values())
    snapshots = list(PortfolioSnapshot.objects.values())

    # when it runs again for the same date
    second = run_end_of_day(as_of=date(2026, 3, 10))

    # then nothing was charged twice and the stored figures are the same
    assert second["already_processed"] is True
    assert second["processed"] == []
    assert second["penalty_amount"] == first["penalty_amount"]
    assert list(loan.schedule.order_by("installment_number").values()) == before
    assert list(PortfolioSnapshot.objects.values()) == snapshots
    assert EndOfDayRun.objects.count() == 1


def test_missed_days_catch_up_in_order(branch):
    # given end of day ran on 1 March and was missed on the 2nd and 3rd
    make_active_loan(branch, product=make_product(), installments=QUARTER)
    run_end_of_day(as_of=date(2026, 3, 1))

    # when it runs on 4 March
    stats = run_end_of_day(as_of=date(2026, 3, 4))

    # then the 2nd, 3rd and 4th were processed, oldest first, each with its snapshot
    assert stats["processed"] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert list(EndOfDayRun.objects.order_by("date").values_list("date", flat=True)) == [
        date(2026, 3, 1),
        date(2026, 3, 2),
        date(2026, 3, 3),
        date(2026, 3, 4),
    ]
    assert set(PortfolioSnapshot.objects.values_list("date", flat=True)) == {
        date(2026, 3, d) for d in (1, 2, 3, 4)
    }
    assert all(run.finished_at for run in EndOfDayRun.objects.all())


def test_catch_up_is_bounded_to_31_days(branch):
    make_active_loan(branch, product=make_product(), installments=QUARTER)
    run_end_of_day(as_of=date(2026, 1, 1))

    stats = run_end_of_day(as_of=date(2026, 3, 31))

    assert len(stats["processed"]) == 31
    assert stats["processed"][0] == "2026-03-01"


def test_an_earlier_date_than_the_last_run_is_refused(branch):
    run_end_of_day(as_of=date(2026, 3, 10))

    with pytest.raises(Conflict):
        run_end_of_day(as_of=date(2026, 3, 5))


def test_monthly_penalty_is_charged_once_per_month(branch):
    # given 5% a month on the overdue installment (1000 principal + 100 interest due 31 January)
    product = make_product(penalty_rate=Decimal("5.0000"))
    loan = make_active_loan(branch, product=product, installments=QUARTER[:1])

    # when end of day runs on 1 February, then every day until 28 February
    run_end_of_day(as_of=date(2026, 2, 1))
    first = _row(loan, 1)
    run_end_of_day(as_of=date(2026, 2, 28))
    same_month = _row(loan, 1)
    run_end_of_day(as_of=date(2026, 3, 1))
    second_month = _row(loan, 1)

    # then one month (55.00) is charged on 1 February, nothing more in February, another on 1 March
    assert (first.penalty_amount, first.penalty_charged_through) == (Decimal("55.00"), date(2026, 2, 28))
    assert first.total_amount == Decimal("1155.00")
    assert same_month.penalty_amount == Decimal("55.00")
    assert (second_month.penalty_amount, second_month.penalty_charged_through) == (
        Decimal("110.00"),
        date(2026, 3, 31),
    )
    assert second_month.total_amount == Decimal("1210.00")
    loan.refresh_from_db()
    assert loan.arrears_amount == Decimal("1210.00")


def test_daily_penalty_on_overdue_principal_after_grace_days(branch):
    # given 0.1% a day of the overdue principal, after 3 grace days
    product = make_product(
        penalty_rate=Decimal("0.1000"),
        penalty_frequency=LoanProduct.PenaltyFrequency.PER_DAY,
        penalty_basis=LoanProduct.PenaltyBasis.OVERDUE_PRINCIPAL,
        penalty_grace_days=3,
    )
    loan = make_active_loan(branch, product=product, installments=QUARTER[:1])

    # when end of day runs through the grace days (1–3 February), then on the 5th (4th missed)
    run_end_of_day(as_of=date(2026, 2, 3))
    in_grace = _row(loan, 1)
    run_end_of_day(as_of=date(2026, 2, 5))
    after = _row(loan, 1)

    # then nothing is charged in the grace days and 1.00 a day after them (4th and 5th)
    assert in_grace.penalty_amount == Decimal("0.00")
    assert in_grace.penalty_charged_through is None
    assert (after.penalty_amount, after.penalty_charged_through) == (Decimal("2.00"), date(2026, 2, 5))


@pytest.mark.parametrize(("mode", "expected"), [("half_even", "0.50"), ("half_up", "0.51")])
def test_penalty_rounding_follows_the_product(branch, mode, expected):
    # given a penalty of exactly half a kobo and a half: 1010.00 × 0.05% = 0.505
    product = make_product(
        penalty_rate=Decimal("0.0500"),
        penalty_frequency=LoanProduct.PenaltyFrequency.PER_DAY,
        penalty_basis=LoanProduct.PenaltyBasis.OVERDUE_PRINCIPAL,
        rounding_mode=mode,
    )
    loan = make_active_loan(branch, product=product, installments=[(date(2026, 1, 31), "1010.00", "10.00")])

    run_end_of_day(as_of=date(2026, 2, 1))

    assert _row(loan, 1).penalty_amount == Decimal(expected)


def test_penalty_months_and_rule():
    start = date(2026, 1, 31)
    assert penalty_months(start, start) == 0
    assert penalty_months(start, date(2026, 2, 1)) == 1
    assert penalty_months(start, date(2026, 2, 28)) == 1
    assert penalty_months(start, date(2026, 3, 1)) == 2
    amount, through, periods = penalty_due(
        frequency="PER_MONTH",
        start=start,
        covered=start,
        day=date(2026, 4, 15),
        basis=Decimal("1000.00"),
        rate=Decimal("2"),
        rounding="half_even",
    )
    assert (amount, through, periods) == (Decimal("60.00"), date(2026, 4, 30), 3)


def test_classification_follows_the_bucket_table(branch):
    # given loans 0, 15, 45, 75 and 120 days past due on 31 May
    product = make_product()
    dues = {
        0: date(2026, 5, 31),
        15: date(2026, 5, 16),
        45: date(2026, 4, 16),
        75: date(2026, 3, 17),
        120: date(2026, 1, 31),
    }
    loans = {
        dpd: make_active_loan(branch, product=product, installments=[(due, "500.00", "0.00")])
        for dpd, due in dues.items()
    }

    run_end_of_day(as_of=date(2026, 5, 31))

    codes = {dpd: Loan.objects.get(pk=loan.pk).arrears_bucket.code for dpd, loan in loans.items()}
    assert codes == {0: "PERFORMING", 15: "PASS_WATCH", 45: "SUBSTANDARD", 75: "DOUBTFUL", 120: "LOST"}
    assert {dpd: Loan.objects.get(pk=loan.pk).days_past_due for dpd, loan in loans.items()} == {
        d: d for d in dues
    }


def test_an_edited_bucket_table_is_used(branch):
    ArrearsBucket.objects.filter(code="PASS_WATCH").update(max_days=10)
    ArrearsBucket.objects.filter(code="SUBSTANDARD").update(min_days=11)
    loan = make_active_loan(
        branch, product=make_product(), installments=[(date(2026, 5, 16), "500.00", "0.00")]
    )

    run_end_of_day(as_of=date(2026, 5, 31))

    loan.refresh_from_db()
    assert loan.arrears_bucket.code == "SUBSTANDARD"


def test_snapshot_per_branch_and_bucket(branch, other_branch):
    # given two performing loans and one 45 days past due in the main branch, one in another branch
    product = make_product()
    make_active_loan(branch, product=product, installments=[(date(2026, 6, 30), "1000.00", "10.00")])
    make_active_loan(branch, product=product, installments=[(date(2026, 6, 30), "3000.00", "30.00")])
    make_active_loan(branch, product=product, installments=[(date(2026, 4, 16), "2000.00", "20.00")])
    make_active_loan(other_branch, product=product, installments=[(date(2026, 6, 30), "500.00", "5.00")])

    stats = run_end_of_day(as_of=date(2026, 5, 31))

    # then each branch has a row per bucket; outstanding is the LOAN account balance; provisions apply
    main = {s.bucket.code: s for s in PortfolioSnapshot.objects.filter(date=date(2026, 5, 31), branch=branch)}
    assert len(main) == 5
    assert (main["PERFORMING"].loan_count, main["PERFORMING"].principal_outstanding) == (
        2,
        Decimal("4000.00"),
    )
    assert main["PERFORMING"].provision_amount == Decimal("40.00")
    assert (main["SUBSTANDARD"].loan_count, main["SUBSTANDARD"].principal_outstanding) == (
        1,
        Decimal("2000.00"),
    )
    assert main["SUBSTANDARD"].arrears_amount == Decimal("2020.00")
    assert main["SUBSTANDARD"].provision_amount == Decimal("400.00")
    assert main["LOST"].loan_count == 0
    assert PortfolioSnapshot.objects.filter(branch=other_branch).count() == 5
    assert stats["snapshots"] == 10
    assert stats["by_bucket"]["PERFORMING"] == 3


def test_closed_and_pending_loans_are_left_out(branch):
    product = make_product()
    closed = make_active_loan(branch, product=product, installments=QUARTER, status=Loan.Status.CLOSED)

    stats = run_end_of_day(as_of=date(2026, 3, 10))

    closed.refresh_from_db()
    assert stats["active_loans"] == 0
    assert closed.days_past_due == 0
    assert not closed.schedule.filter(is_overdue=True).exists()


def test_command_runs_a_date_and_prints_stats(branch, capsys):
    make_active_loan(branch, product=make_product(), installments=QUARTER)

    call_command("run_end_of_day", "--date", "2026-03-10")

    stats = json.loads(capsys.readouterr().out)
    assert stats["date"] == "2026-03-10"
    assert stats["loans_in_arrears"] == 1


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2999-01-01"])
def test_command_refuses_bad_dates(bad):
    with pytest.raises(CommandError):
        call_command("run_end_of_day", "--date", bad)


def test_command_defaults_to_todays_business_date(branch, capsys):
    from loans.eod import business_date

    call_command("run_end_of_day")

    assert json.loads(capsys.readouterr().out)["date"] == business_date().isoformat()


def test_task_runs_end_of_day(branch):
    make_active_loan(branch, product=make_product(), installments=QUARTER)

    stats = run_end_of_day_task.delay("2026-03-10").get()

    assert stats["loans_in_arrears"] == 1
    assert EndOfDayRun.objects.filter(date=date(2026, 3, 10)).exists()


def test_nightly_schedule_is_in_the_admin_tables():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="loans.tasks.run_end_of_day_task")
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == (
        "23",
        "30",
        "Africa/Lagos",
    )


def test_penalties_cover_days_older_than_the_catch_up_window(branch):
    # given 0.1% a day on 1000.00 principal overdue since 31 January, and end of day last run on 1 February
    product = make_product(
        penalty_rate=Decimal("0.1000"),
        penalty_frequency=LoanProduct.PenaltyFrequency.PER_DAY,
        penalty_basis=LoanProduct.PenaltyBasis.OVERDUE_PRINCIPAL,
    )
    loan = make_active_loan(branch, product=product, installments=QUARTER[:1])
    run_end_of_day(as_of=date(2026, 2, 1))

    # when it next runs on 31 May (118 days later; only the last 31 are replayed)
    stats = run_end_of_day(as_of=date(2026, 5, 31))

    # then every day since 1 February is charged once: 1 + 119 days = 120 × 1.00
    assert len(stats["processed"]) == 31
    assert _row(loan, 1).penalty_amount == Decimal("120.00")
    assert _row(loan, 1).penalty_charged_through == date(2026, 5, 31)


def test_command_refuses_a_date_before_the_last_run(branch):
    run_end_of_day(as_of=date(2026, 3, 10))

    with pytest.raises(CommandError, match="already run for 2026-03-10"):
        call_command("run_end_of_day", "--date", "2026-03-01")


def test_a_redelivered_task_does_nothing(branch):
    product = make_product(penalty_rate=Decimal("5.0000"))
    loan = make_active_loan(branch, product=product, installments=QUARTER)
    run_end_of_day_task.delay("2026-03-10").get()

    again = run_end_of_day_task.delay("2026-03-10").get()

    assert again["already_processed"] is True
    assert _row(loan, 1).penalty_amount == Decimal("110.00")
