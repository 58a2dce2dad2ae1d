"""`python manage.py loan_schedule`: print a loan's repayment schedule (table or JSON).

The command only parses options and prints; the arithmetic lives in loans/schedule.py and the
option handling in `render_schedule`, which tests (and the future API preview) call directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cooperative.money import format_amount
from loans.schedule import (
    Amortization,
    DaysInMonth,
    DaysInYear,
    Frequency,
    InterestPeriod,
    Method,
    Rounding,
    Schedule,
    ScheduleError,
    ScheduleTerms,
    build_schedule,
    due_dates,
)

# Weekly and fortnightly installments derived from --term-months when --installments is not given.
INSTALLMENTS_PER_MONTH = {Frequency.WEEKLY: Decimal(52) / 12, Frequency.FORTNIGHTLY: Decimal(26) / 12}


def _parse_decimal(value: Any, label: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ScheduleError(f"{label} must be a number, e.g. 100000 or 12.5 (got {value!r}).") from None
    if not number.is_finite():
        raise ScheduleError(f"{label} must be a number, e.g. 100000 or 12.5 (got {value!r}).")
    return number


def _parse_date(value: Any, label: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ScheduleError(f"{label} must be a date in the form YYYY-MM-DD (got {value!r}).") from None


def _parse_count(value: Any, label: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ScheduleError(f"{label} must be a whole number (got {value!r}).") from None
    return number


def _installment_count(options: Mapping[str, Any], frequency: Frequency) -> int:
    if options.get("installments") is not None:
        count = _parse_count(options["installments"], "--installments")
        if count <= 0:
            raise ScheduleError("--installments must be at least 1.")
        return count
    if options.get("term_months") is None:
        raise ScheduleError("Give the term with --term-months (or the count with --installments).")
    months = _parse_count(options["term_months"], "--term-months")
    if months <= 0:
        raise ScheduleError("--term-months must be at least 1.")
    if frequency is Frequency.MONTHLY:
        return months
    return int((months * INSTALLMENTS_PER_MONTH[frequency]).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def terms_from_options(options: Mapping[str, Any], *, today: date | None = None) -> ScheduleTerms:
    """Build ScheduleTerms from the command's options (strings or parsed values). Raises ScheduleError."""
    if options.get("principal") is None:
        raise ScheduleError("--principal is required, e.g. --principal 100000.")
    if options.get("annual_rate") is None:
        raise ScheduleError("--annual-rate is required, e.g. --annual-rate 12 (percent a year).")
    frequency = Frequency(options.get("frequency") or Frequency.MONTHLY)
    disbursed_on = _parse_date(options.get("disbursed_on"), "--disbursed-on") or today or timezone.localdate()
    first_due_on = _parse_date(options.get("first_due"), "--first-due")
    if first_due_on is not None and first_due_on <= disbursed_on:
        raise ScheduleError(
            f"--first-due ({first_due_on}) must be after the disbursement date ({disbursed_on})."
        )
    return ScheduleTerms(
        principal=_parse_decimal(options["principal"], "--principal"),
        annual_rate=_parse_decimal(options["annual_rate"], "--annual-rate"),
        installments=_installment_count(options, frequency),
        disbursed_on=disbursed_on,
        first_due_on=first_due_on,
        method=options.get("method") or Method.REDUCING_BALANCE,
        amortization=options.get("amortization") or Amortization.EQUAL_INSTALLMENTS,
        interest_period=options.get("interest_period") or InterestPeriod.SAME_AS_REPAYMENT,
        days_in_year=options.get("days_in_year") or DaysInYear.ACTUAL,
        days_in_month=options.get("days_in_month") or DaysInMonth.ACTUAL,
        frequency=frequency,
        grace_principal=_parse_count(options.get("grace_principal") or 0, "--grace-principal"),
        grace_interest_payment=_parse_count(
            options.get("grace_interest_payment") or 0, "--grace-interest-payment"
        ),
        grace_interest_free=_parse_count(options.get("grace_interest_free") or 0, "--grace-interest-free"),
        rounding=options.get("rounding") or Rounding.HALF_EVEN,
        installment_multiple=_parse_decimal(
            options.get("installment_multiple") or "0.01", "--installment-multiple"
        ),
    )


def format_table(schedule: Schedule) -> str:
    """A plain-text table with a header line describing the terms and a totals row."""
    terms = schedule.terms
    method = "reducing balance" if terms.method is Method.REDUCING_BALANCE else "flat rate"
    if terms.method is Method.REDUCING_BALANCE:
        method += f", {terms.amortization.value.replace('_', ' ')}"
    interest = terms.interest_period.value.replace("_", " ")
    if terms.interest_period is InterestPeriod.DAILY:
        interest += f" (days in year {terms.days_in_year.value}, days in month {terms.days_in_month.value})"
    lines = [
        f"Loan {format_amount(terms.principal)} at {terms.annual_rate.normalize():f}% a year, "
        f"{terms.installments} {terms.frequency.value} installments, {method}; interest {interest}.",
        f"Disbursed {terms.disbursed_on.isoformat()}, first due {due_dates(terms)[0].isoformat()}; "
        f"rounding {terms.rounding.value}, installments in multiples of {terms.installment_multiple}.",
    ]
    graces = [
        f"{value} {label}"
        for label, value in (
            ("on principal", terms.grace_principal),
            ("on interest payment", terms.grace_interest_payment),
            ("interest-free", terms.grace_interest_free),
        )
        if value
    ]
    if graces:
        lines.append("Grace (installments): " + ", ".join(graces) + ".")
    rows = [
        (
            str(i.number),
            i.due_date.isoformat(),
            *map(format_amount, (i.principal, i.interest, i.total, i.balance)),
        )
        for i in schedule.installments
    ]
    header = ("No.", "Due date", "Principal", "Interest", "Total", "Balance")
    totals = (
        "Total",
        "",
        format_amount(schedule.total_principal),
        format_amount(schedule.total_interest),
        format_amount(schedule.total_repayment),
        "",
    )
    widths = [max(len(row[col]) for row in (header, totals, *rows)) for col in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        left = [cells[0].rjust(widths[0]), cells[1].ljust(widths[1])]
        right = [cell.rjust(width) for cell, width in zip(cells[2:], widths[2:], strict=True)]
        return "  ".join(left + right).rstrip()

    rule = "  ".join("-" * width for width in widths)
    lines += ["", line(header), rule, *(line(row) for row in rows), rule, line(totals)]
    return "\n".join(lines)


def render_schedule(options: Mapping[str, Any], *, today: date | None = None) -> str:
    """What `loan_schedule` prints for these options: the table, or the JSON list with --json."""
    schedule = build_schedule(terms_from_options(options, today=today))
    if options.get("json"):
        return json.dumps(schedule.as_list(), indent=2)
    return format_table(schedule)


class Command(BaseCommand):
    help = (
        "Print a loan repayment schedule. Monthly: --term-months is the number of installments; "
        "weekly/fortnightly: pass --installments, or the count is derived from --term-months "
        "(52 or 26 a year). Amounts in --json output are strings."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--principal", required=True, help="Loan amount, e.g. 100000 or 250000.50.")
        parser.add_argument("--annual-rate", required=True, help="Percent a year, e.g. 12 for 12%%.")
        parser.add_argument("--term-months", help="Term in months (= the installments when monthly).")
        parser.add_argument("--installments", help="Number of installments (overrides --term-months).")
        parser.add_argument("--method", required=True, choices=[m.value for m in Method])
        parser.add_argument(
            "--amortization", choices=[a.value for a in Amortization], default=Amortization.EQUAL_INSTALLMENTS
        )
        parser.add_argument(
            "--interest-period",
            choices=[p.value for p in InterestPeriod],
            default=InterestPeriod.SAME_AS_REPAYMENT,
        )
        parser.add_argument(
            "--days-in-year", choices=[d.value for d in DaysInYear], default=DaysInYear.ACTUAL
        )
        parser.add_argument(
            "--days-in-month", choices=[d.value for d in DaysInMonth], default=DaysInMonth.ACTUAL
        )
        parser.add_argument("--frequency", choices=[f.value for f in Frequency], default=Frequency.MONTHLY)
        parser.add_argument(
            "--installment-multiple", default="0.01", help="Round the installment to this multiple (0.01)."
        )
        parser.add_argument("--rounding", choices=[r.value for r in Rounding], default=Rounding.HALF_EVEN)
        parser.add_argument("--grace-principal", default=0, help="Interest-only installments at the start.")
        parser.add_argument(
            "--grace-interest-payment",
            default=0,
            help="Installments whose interest is deferred to the first installment after them.",
        )
        parser.add_argument("--grace-interest-free", default=0, help="Installments that charge no interest.")
        parser.add_argument("--disbursed-on", help="YYYY-MM-DD (default: today).")
        parser.add_argument("--first-due", help="YYYY-MM-DD (default: one period after disbursement).")
        parser.add_argument("--json", action="store_true", help="Print a JSON list instead of a table.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            output = render_schedule(options)
        except ScheduleError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(output)
