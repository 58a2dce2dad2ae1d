"""A catch-up over missed dates gives what daily runs would have given, or refuses and says why.

One scenario is played twice on the same database state (the first play is rolled back): once with
end of day every day, once with end of day missed on 2, 3 and 4 March 2026 and caught up on the 5th.
Every figure is compared: the snapshots and stats of every date, each installment (penalties to the
kobo), each loan's days past due, arrears and bucket, every repayment and auto-debit, and the savings
balances by value date.

The loans (end of day last ran for 1 March in both plays):
- "new": disbursed on 3 March, after the missed 2 March, so not in 2 March's snapshot;
- "auto": auto-debit, 1,100.00 due on 2 March and empty savings until 2,000.00 arrives with value
  date 4 March: daily runs collect on 4 March (1 day past due on the 3rd), never back-dated to the 2nd;
- "prepaid": performing, repaid in full on 3 March: performing with its outstanding on the 2nd;
- "late" (the refused case): 1,000.00 + 90.00 due 28 February, 0.5 % a day of the overdue
  installment (5.45 a day), 1,095.45 paid on 3 March. Daily runs charge 2 March's 5.45 before that
  repayment, which then leaves 5.45 of principal unpaid (1 day of 0.03 more, pass and watch); the
  old catch-up let the repayment pay it all and never charged the missed days (performing). That
  cannot be replayed after the fact, so the catch-up refuses, naming the loan and the way out; the
  way out it names gives the daily figures exactly.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from ledger import services as ledger
from ledger.models import Account, AccountType
from loans.eod import CatchUpRefused, run_end_of_day
from loans.models import EndOfDayRun, Loan, LoanPayment, LoanProduct, PortfolioSnapshot
from loans.selectors import settlement_quote
from loans.services import record_repayment, reverse_repayment
from tests.loans.eod_factories import make_active_loan, make_product

pytestmark = pytest.mark.django_db

LAST_RUN = date(2026, 3, 1)
MISSED = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
CATCH_UP = date(2026, 3, 5)
TIMINGS = ("seconds", "step_seconds")


class Scenario:
    """The loans and what happens to them each day; `business(day)` is that day's counter work."""

    def __init__(self, branch, *, late: bool):
        self.branch = branch
        self.loans: dict[str, Loan] = {}
        self.payments: dict[str, list] = {}
        plain = make_product(name="Plain")
        self.auto_product = make_product(name="Auto-debit", auto_debit_savings=True)
        self.new_product = plain
        self.loans["auto"] = make_active_loan(
            branch,
            product=self.auto_product,
            disbursed_on=date(2026, 2, 1),
            installments=[(date(2026, 3, 2), "1000.00", "100.00"), (date(2026, 3, 31), "1000.00", "90.00")],
        )
        self.loans["prepaid"] = make_active_loan(
            branch,
            product=plain,
            disbursed_on=date(2026, 1, 15),
            installments=[(date(2026, 3, 15), "500.00", "10.00"), (date(2026, 4, 15), "500.00", "5.00")],
        )
        if late:
            penalised = make_product(
                name="Penalised",
                penalty_rate=Decimal("0.5000"),
                penalty_frequency=LoanProduct.PenaltyFrequency.PER_DAY,
            )
            self.loans["late"] = make_active_loan(
                branch,
                product=penalised,
                disbursed_on=date(2026, 1, 28),
                installments=[
                    (date(2026, 2, 28), "1000.00", "90.00"),
                    (date(2026, 3, 31), "1000.00", "80.00"),
                ],
            )

    def business(self, day: date) -> None:
        if day == date(2026, 3, 3):
            self.loans["new"] = make_active_loan(
                self.branch,
                product=self.new_product,
                disbursed_on=day,
                installments=[(date(2026, 4, 3), "3000.00", "30.00")],
            )
            prepaid = self.loans["prepaid"]
            self.repay("prepaid", settlement_quote(loan=prepaid, as_of=day).total, day)
            if "late" in self.loans:
                self.repay("late", Decimal("1095.45"), day)
        if day == date(2026, 3, 4):
            savings = Account.objects.get(member=self.loans["auto"].member, type=AccountType.SAVINGS)
            ledger.deposit(
                account_id=savings.pk, amount=Decimal("2000.00"), description="Salary", value_date=day
            )

    def repay(self, name: str, amount: Decimal, day: date) -> None:
        payment = record_repayment(
            actor=None, loan_id=self.loans[name].pk, amount=amount, source="CASH", payment_date=day
        )
        self.payments.setdefault(name, []).append(payment)


def _balance_by_value_date(account: Account, day: date) -> Decimal:
    total = Decimal("0.00")
    for leg in account.transactions.filter(value_date__lte=day):
        total += leg.amount if leg.type == account.normal_balance else -leg.amount
    return total


def figures(scenario: Scenario) -> dict:
    """Every figure end of day leaves behind, keyed by the scenario's names (not by ids)."""
    runs = {}
    for run in EndOfDayRun.objects.order_by("date"):
        runs[run.date.isoformat()] = {k: v for k, v in run.stats.items() if k not in TIMINGS}
    snapshots = {
        (s.date.isoformat(), s.bucket.code): (
            s.loan_count,
            s.principal_outstanding,
            s.arrears_amount,
            s.provision_amount,
        )
        for s in PortfolioSnapshot.objects.filter(branch=scenario.branch).select_related("bucket")
    }
    loans = {}
    for name, loan in scenario.loans.items():
        loan = Loan.objects.select_related("arrears_bucket").get(pk=loan.pk)
        savings = Account.objects.get(member=loan.member, type=AccountType.SAVINGS)
        loans[name] = {
            "status": loan.status,
            "days_past_due": loan.days_past_due,
            "arrears": loan.arrears_amount,
            "bucket": loan.arrears_bucket.code if loan.arrears_bucket else None,
            "last_end_of_day": loan.last_end_of_day,
            "schedule": list(
                loan.schedule.order_by("installment_number").values(
                    "installment_number",
                    "penalty_amount",
                    "total_amount",
                    "principal_paid",
                    "interest_paid",
                    "penalty_paid",
                    "paid_amount",
                    "penalty_charged_through",
                    "is_overdue",
                    "is_paid",
                    "paid_on",
                )
            ),
            "payments": list(
                LoanPayment.objects.filter(loan=loan, reversed_at__isnull=True)
                .order_by("payment_date", "created_at")
                .values(
                    "source",
                    "amount",
                    "payment_date",
                    "principal_portion",
                    "interest_portion",
                    "penalty_portion",
                )
            ),
            "loan_balance": loan.account.balance,
            "savings_by_value_date": [
                _balance_by_value_date(savings, LAST_RUN + timedelta(days=n)) for n in range(6)
            ],
        }
    return {"runs": runs, "snapshots": snapshots, "loans": loans}


def play_daily(branch, *, late: bool) -> dict:
    """End of day every day, rolled back afterwards: returns its figures."""
    with transaction.atomic():
        scenario = Scenario(branch, late=late)
        run_end_of_day(as_of=LAST_RUN)
        for day in [*MISSED, CATCH_UP]:
            scenario.business(day)
            run_end_of_day(as_of=day)
        result = figures(scenario)
        transaction.set_rollback(True)
    return result


def miss_end_of_day(branch, *, late: bool) -> Scenario:
    """End of day runs on 1 March, then business goes on until 5 March without it."""
    scenario = Scenario(branch, late=late)
    run_end_of_day(as_of=LAST_RUN)
    for day in [*MISSED, CATCH_UP]:
        scenario.business(day)
    return scenario


def test_a_catch_up_gives_what_daily_runs_give(branch):
    daily = play_daily(branch, late=False)

    # when end of day is missed on 2-4 March while business goes on, and runs on 5 March
    scenario = miss_end_of_day(branch, late=False)
    stats = run_end_of_day(as_of=CATCH_UP)

    # then the missed dates were processed and every figure is the daily one
    assert stats["processed"] == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
    caught_up = figures(scenario)
    assert caught_up["snapshots"] == daily["snapshots"]
    assert caught_up["runs"] == daily["runs"]
    assert caught_up["loans"] == daily["loans"]
    # worked figures of the daily runs: the new loan is not in 2 March's snapshot; the auto-debit
    # waits for the money (value date 4 March) and the loan was 1 day past due on the 3rd
    performing = daily["snapshots"][("2026-03-02", "PERFORMING")]
    assert performing[:2] == (2, Decimal("3000.00"))  # auto 2,000 + prepaid 1,000; not new's 3,000
    assert daily["snapshots"][("2026-03-03", "PASS_WATCH")][:2] == (1, Decimal("2000.00"))
    auto = daily["loans"]["auto"]
    assert [(p["source"], p["amount"], p["payment_date"]) for p in auto["payments"]] == [
        ("AUTO_DEBIT", Decimal("1100.00"), date(2026, 3, 4))
    ]
    assert min(auto["savings_by_value_date"]) >= 0


def test_a_catch_up_that_cannot_be_replayed_is_refused_and_the_way_out_gives_the_daily_figures(branch):
    daily = play_daily(branch, late=True)

    # given end of day missed on 2-4 March while the late loan was repaid on the 3rd
    scenario = miss_end_of_day(branch, late=True)

    # when it runs on 5 March, it refuses, naming the dates, the loan, its repayment and the way out
    with pytest.raises(CatchUpRefused) as refused:
        run_end_of_day(as_of=CATCH_UP)
    message = str(refused.value)
    assert "last ran for 2026-03-01" in message
    assert "2026-03-02 to 2026-03-04" in message
    assert f"loan {scenario.loans['late'].loan_number}" in message
    assert "1095.45 dated 2026-03-03" in message
    assert "reverse those repayments" in message
    assert "--skip-missed" in message
    assert scenario.loans["prepaid"].loan_number not in message  # that one replays exactly
    assert EndOfDayRun.objects.count() == 1

    # and following the way out (reverse, run end of day to the day before, record it again)
    (payment,) = scenario.payments["late"]
    reverse_repayment(actor=None, payment_id=payment.pk, reason="Recorded while end of day was behind")
    run_end_of_day(as_of=date(2026, 3, 2))
    scenario.repay("late", Decimal("1095.45"), date(2026, 3, 3))
    run_end_of_day(as_of=CATCH_UP)

    # gives exactly the daily figures
    caught_up = figures(scenario)
    assert caught_up["snapshots"] == daily["snapshots"]
    assert caught_up["runs"] == daily["runs"]
    assert caught_up["loans"] == daily["loans"]
    late = daily["loans"]["late"]
    first = late["schedule"][0]
    # 5.45 on 1 and 2 March; 1,095.45 pays 10.90 penalty, 90.00 interest, 994.55 principal;
    # 0.5 % of the 5.45 left = 0.03 on 3, 4 and 5 March
    assert (first["penalty_amount"], first["principal_paid"]) == (Decimal("10.99"), Decimal("994.55"))
    assert (late["days_past_due"], late["bucket"]) == (5, "PASS_WATCH")


def test_skip_missed_processes_the_date_alone_and_records_what_was_not_replayed(branch, capsys):
    from django.core.management import call_command

    scenario = miss_end_of_day(branch, late=True)

    call_command("run_end_of_day", "--date", "2026-03-05", "--skip-missed")

    assert list(EndOfDayRun.objects.order_by("date").values_list("date", flat=True)) == [LAST_RUN, CATCH_UP]
    stats = EndOfDayRun.objects.get(date=CATCH_UP).stats
    assert stats["not_replayed"] == {"from": "2026-03-02", "to": "2026-03-04"}
    # today's figures, as the operator chose: the repayment paid the installment in full, and the
    # missed days' penalties are not charged
    first = scenario.loans["late"].schedule.get(installment_number=1)
    assert (first.penalty_amount, first.is_paid) == (Decimal("5.45"), True)


def test_the_command_and_the_task_say_why_a_catch_up_is_refused(branch):
    from django.core.management import CommandError, call_command

    from loans.tasks import run_end_of_day_task

    scenario = miss_end_of_day(branch, late=True)

    with pytest.raises(CommandError, match="cannot process 2026-03-02 to 2026-03-04"):
        call_command("run_end_of_day", "--date", "2026-03-05")
    with pytest.raises(CatchUpRefused, match=scenario.loans["late"].loan_number):
        run_end_of_day_task.delay("2026-03-05").get()


def test_an_auto_debit_never_makes_savings_negative_by_value_date(branch):
    # given 1,100.00 due on 2 March, savings of 1,500.00 on the 2nd and 1,000.00 taken out on the 4th
    loan = make_active_loan(
        branch,
        product=make_product(auto_debit_savings=True),
        disbursed_on=date(2026, 2, 1),
        installments=[(date(2026, 3, 2), "1000.00", "100.00")],
    )
    run_end_of_day(as_of=LAST_RUN)
    savings = Account.objects.get(member=loan.member, type=AccountType.SAVINGS)
    ledger.deposit(account_id=savings.pk, amount=Decimal("1500.00"), value_date=date(2026, 3, 2))
    ledger.withdraw(account_id=savings.pk, amount=Decimal("1000.00"), value_date=date(2026, 3, 4))

    # when end of day catches up 2-5 March
    run_end_of_day(as_of=CATCH_UP)

    # then the 2 March collection took only what kept every later balance by value date at or above zero
    payments = list(LoanPayment.objects.filter(loan=loan).order_by("payment_date"))
    assert [(p.amount, p.payment_date) for p in payments] == [(Decimal("500.00"), date(2026, 3, 2))]
    savings.refresh_from_db()
    assert [_balance_by_value_date(savings, date(2026, 3, d)) for d in (2, 3, 4, 5)] == [
        Decimal("1000.00"),
        Decimal("1000.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    ]


def test_a_write_off_during_the_gap_is_refused(branch):
    from loans.eod import business_date
    from loans.services import write_off_loan

    # given end of day last ran three days ago, and a loan written off today
    today = business_date()
    loan = make_active_loan(
        branch,
        product=make_product(),
        disbursed_on=today - timedelta(days=200),
        installments=[(today - timedelta(days=100), "1000.00", "10.00")],
    )
    run_end_of_day(as_of=today - timedelta(days=3))
    write_off_loan(actor=None, loan_id=loan.pk, reason="Member cannot be traced")

    # when end of day catches up, it refuses: the missed dates would have classified the loan
    with pytest.raises(CatchUpRefused, match=f"loan {loan.loan_number} was written off on {today:%Y-%m-%d}"):
        run_end_of_day(as_of=today)

    # and the operator may process today alone
    stats = run_end_of_day(as_of=today, skip_missed=True)
    assert stats["processed"] == [today.isoformat()]
