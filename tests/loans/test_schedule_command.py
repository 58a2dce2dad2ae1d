"""`python manage.py loan_schedule`: the contract in DESIGN §5 (table with totals, --json, clear errors).

The command is called as an instance through call_command, so these tests need neither the database
nor "loans" in INSTALLED_APPS.
"""

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from loans.management.commands.loan_schedule import Command, render_schedule, terms_from_options
from loans.schedule import Frequency, ScheduleError

CONTRACT_ARGS = ["--principal", "100000", "--annual-rate", "12", "--term-months", "12"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Overrides tests/conftest.py's cache reset: the command uses neither the cache nor the database."""
    return


def run(*args: str) -> str:
    out = StringIO()
    call_command(Command(), *args, stdout=out)
    return out.getvalue()


def test_json_output_is_a_list_of_installments_with_amounts_as_strings():
    # when
    output = run(*CONTRACT_ARGS, "--method", "reducing_balance", "--disbursed-on", "2027-01-01", "--json")

    # then
    rows = json.loads(output)
    assert len(rows) == 12
    assert rows[0] == {
        "number": 1,
        "due_date": "2027-02-01",
        "principal": "7884.88",
        "interest": "1000.00",
        "total": "8884.88",
        "balance": "92115.12",
    }
    assert rows[-1]["balance"] == "0.00"
    assert sum(Decimal(row["principal"]) for row in rows) == Decimal("100000.00")


def test_plain_output_is_a_table_with_a_totals_row():
    output = run(*CONTRACT_ARGS, "--method", "reducing_balance", "--disbursed-on", "2027-01-01")

    lines = output.splitlines()
    assert lines[0].startswith("Loan 100,000.00 at 12% a year, 12 monthly installments, reducing balance")
    assert any(line.split()[:2] == ["1", "2027-02-01"] and "8,884.88" in line for line in lines)
    assert lines[-1].split() == ["Total", "100,000.00", "6,618.53", "106,618.53"]


def test_every_contract_option_is_accepted():
    output = run(
        "--principal",
        "250000",
        "--annual-rate",
        "18.5",
        "--term-months",
        "10",
        "--method",
        "flat_rate",
        "--amortization",
        "equal_principal",
        "--interest-period",
        "daily",
        "--days-in-year",
        "365",
        "--days-in-month",
        "30",
        "--installment-multiple",
        "100",
        "--rounding",
        "half_up",
        "--grace-principal",
        "2",
        "--grace-interest-payment",
        "1",
        "--grace-interest-free",
        "1",
        "--disbursed-on",
        "2027-03-15",
        "--first-due",
        "2027-04-30",
        "--json",
    )

    rows = json.loads(output)
    assert [row["due_date"] for row in rows[:3]] == [
        "2027-04-30",
        "2027-05-30",
        "2027-06-30",
    ]  # anchored on the 30th
    assert rows[0]["principal"] == rows[1]["principal"] == "0.00"  # grace on principal
    assert rows[0]["interest"] == "0.00"  # interest-free first period
    assert sum(Decimal(row["principal"]) for row in rows) == Decimal("250000.00")


def test_flat_rate_cli_matches_the_hand_computed_flat_interest():
    rows = json.loads(run(*CONTRACT_ARGS, "--method", "flat_rate", "--disbursed-on", "2027-01-01", "--json"))

    # 100000 x 12% x 1 year = 12000.00, 1000.00 a month
    assert {row["interest"] for row in rows} == {"1000.00"}


def test_weekly_installments_come_from_installments_or_52_a_year():
    by_count = json.loads(
        run(*CONTRACT_ARGS, "--method", "flat_rate", "--frequency", "weekly", "--installments", "8", "--json")
    )
    by_months = json.loads(
        run(*CONTRACT_ARGS, "--method", "flat_rate", "--frequency", "fortnightly", "--json")
    )

    assert len(by_count) == 8
    assert len(by_months) == 26  # 12 months of fortnights


def test_disbursement_defaults_to_today_and_first_due_to_one_period_later():
    output = render_schedule(
        {
            "principal": "1000",
            "annual_rate": "12",
            "term_months": "2",
            "method": "reducing_balance",
            "json": True,
        },
        today=date(2027, 1, 31),
    )

    assert [row["due_date"] for row in json.loads(output)] == ["2027-02-28", "2027-03-31"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--principal", "-100"], "principal must be greater than zero"),
        (["--principal", "abc"], "--principal must be a number"),
        (["--annual-rate", "0"], "annual interest rate must be above 0"),
        (["--annual-rate", "150"], "at most 100"),
        (["--term-months", "0"], "--term-months must be at least 1"),
        (["--term-months", "twelve"], "--term-months must be a whole number"),
        (["--disbursed-on", "2027-02-30"], "--disbursed-on must be a date in the form YYYY-MM-DD"),
        (
            ["--disbursed-on", "2027-03-01", "--first-due", "2027-02-01"],
            "must be after the disbursement date",
        ),
        (["--grace-principal", "12"], "Grace on principal"),
        (["--installment-multiple", "0"], "installment multiple"),
    ],
)
def test_bad_input_is_a_clear_command_error_not_a_traceback(args, message):
    options = dict(zip(CONTRACT_ARGS[::2], CONTRACT_ARGS[1::2], strict=True))
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = [item for pair in options.items() for item in pair] + ["--method", "reducing_balance"]

    with pytest.raises(CommandError, match=message):
        run(*argv)


def test_unknown_choice_is_refused_by_the_parser():
    with pytest.raises(CommandError, match="invalid choice"):
        run(*CONTRACT_ARGS, "--method", "compound")


def test_terms_from_options_refuses_a_missing_term():
    with pytest.raises(ScheduleError, match="--term-months"):
        terms_from_options({"principal": "1000", "annual_rate": "12"}, today=date(2027, 1, 1))


def test_terms_from_options_reads_the_frequency():
    terms = terms_from_options(
        {"principal": "1000", "annual_rate": "12", "term_months": "3", "frequency": "weekly"},
        today=date(2027, 1, 1),
    )

    assert terms.frequency is Frequency.WEEKLY
    assert terms.installments == 13  # 3 x 52 / 12 = 13
