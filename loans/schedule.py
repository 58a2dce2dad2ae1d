"""Loan schedule engine: the installment list for a loan, from its terms alone (pure Python, no ORM).

`build_schedule(ScheduleTerms(...))` returns a `Schedule`: one `Installment(number, due_date, principal,
interest, total, balance)` per repayment, plus totals. Everything is `Decimal`, rounded to kobo with
the terms' rounding mode. The semantics follow Apache Fineract / Mifos X's "cumulative" schedule
generators (the reference the acceptance cases come from); docs/loan-schedules.md gives the formulas,
worked examples and every place where we deliberately differ.

In short:

* **Due dates** are "first due date + k periods": monthly dates are computed from the anchor each time
  and clamped to the month end (31 Jan -> 28/29 Feb -> 31 Mar), weekly +7k days, fortnightly +14k days.
  Without a first due date the anchor is the disbursement date (first due = one period later).
* **Reducing balance, equal installments**: the installment (EMI) is the annuity on the periodic rate
  over the periods that repay principal, rounded to the installment multiple; each period's interest
  is outstanding x periodic rate rounded to kobo; principal = EMI - interest; the last installment
  takes whatever principal is left, so principal sums exactly to the loan amount.
* **Reducing balance, equal principal**: principal / (periods that repay principal) each period, the
  last absorbing the rounding residue; interest on the outstanding balance.
* **Flat**: total interest = principal x annual rate x term in years, spread equally over the
  installments; principal spread equally; the last installment absorbs both residues.
* **Interest period**: `same_as_repayment` charges annual rate / periods per year each period (a
  first period longer or shorter than one period is pro-rated by days); `daily` charges
  annual rate x days / days-in-year, with actual days between due dates (the first period counts from
  the disbursement date) or 30-day months.
* **Grace**: on principal (interest-only installments), on interest payment (interest accrues and is
  collected with the first installment after the grace), interest-free periods (no interest at all).
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Context, Decimal, localcontext
from fractions import Fraction

from cooperative.exceptions import ValidationFailed
from cooperative.money import KOBO, ROUNDING_MODES

ZERO = Decimal("0.00")
MAX_INSTALLMENTS = 1200  # 100 years of monthly payments: anything longer is a typo
MAX_PRINCIPAL = Decimal("1000000000000000")  # same ceiling as cooperative.money.parse_amount


class ScheduleError(ValidationFailed):
    """The terms cannot produce a schedule (bad amount, rate, term, dates or grace)."""


class Method(enum.StrEnum):
    REDUCING_BALANCE = "reducing_balance"
    FLAT_RATE = "flat_rate"


class Amortization(enum.StrEnum):
    EQUAL_INSTALLMENTS = "equal_installments"
    EQUAL_PRINCIPAL = "equal_principal"


class InterestPeriod(enum.StrEnum):
    SAME_AS_REPAYMENT = "same_as_repayment"
    DAILY = "daily"


class DaysInYear(enum.StrEnum):
    ACTUAL = "actual"
    DAYS_360 = "360"
    DAYS_365 = "365"


class DaysInMonth(enum.StrEnum):
    ACTUAL = "actual"
    DAYS_30 = "30"


class Frequency(enum.StrEnum):
    MONTHLY = "monthly"
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"


class Rounding(enum.StrEnum):
    HALF_EVEN = "half_even"
    HALF_UP = "half_up"


PERIODS_PER_YEAR = {Frequency.MONTHLY: 12, Frequency.WEEKLY: 52, Frequency.FORTNIGHTLY: 26}
# Days in one period when a "daily" product needs a nominal period (the EMI's rate; 30-day months).
NOMINAL_PERIOD_DAYS = {Frequency.MONTHLY: 30, Frequency.WEEKLY: 7, Frequency.FORTNIGHTLY: 14}
GRACE_LABELS = {
    "grace_principal": "Grace on principal",
    "grace_interest_payment": "Grace on interest payment",
    "grace_interest_free": "Interest-free grace",
}


def _choice(enum_cls: type[enum.StrEnum], value: object, name: str) -> enum.StrEnum:
    try:
        return enum_cls(str(value))
    except ValueError:
        allowed = ", ".join(member.value for member in enum_cls)
        raise ScheduleError(f"{name} must be one of: {allowed} (got {value!r}).", field=name) from None


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, float):
        raise ScheduleError(f"{name} must be a Decimal or a string, not a float.", field=name)
    try:
        result = Decimal(str(value).strip())
    except ArithmeticError:
        raise ScheduleError(f"{name} must be a number (got {value!r}).", field=name) from None
    if not result.is_finite():
        raise ScheduleError(f"{name} must be a finite number.", field=name)
    return result


@dataclass(frozen=True)
class ScheduleTerms:
    """Everything the schedule depends on. Choice fields accept the enum or its string value.

    `installments` is the number of repayments (for monthly loans, the term in months).
    `annual_rate` is a percentage: Decimal("12") means 12% a year.
    """

    principal: Decimal
    annual_rate: Decimal
    installments: int
    disbursed_on: date
    first_due_on: date | None = None
    method: Method = Method.REDUCING_BALANCE
    amortization: Amortization = Amortization.EQUAL_INSTALLMENTS
    interest_period: InterestPeriod = InterestPeriod.SAME_AS_REPAYMENT
    days_in_year: DaysInYear = DaysInYear.ACTUAL
    days_in_month: DaysInMonth = DaysInMonth.ACTUAL
    frequency: Frequency = Frequency.MONTHLY
    grace_principal: int = 0
    grace_interest_payment: int = 0
    grace_interest_free: int = 0
    rounding: Rounding = Rounding.HALF_EVEN
    installment_multiple: Decimal = Decimal("0.01")

    def __post_init__(self) -> None:
        coerce = {
            "method": Method,
            "amortization": Amortization,
            "interest_period": InterestPeriod,
            "days_in_year": DaysInYear,
            "days_in_month": DaysInMonth,
            "frequency": Frequency,
            "rounding": Rounding,
        }
        for name, enum_cls in coerce.items():
            object.__setattr__(self, name, _choice(enum_cls, getattr(self, name), name))
        for name in ("principal", "annual_rate", "installment_multiple"):
            object.__setattr__(self, name, _decimal(getattr(self, name), name))

        if self.principal <= 0:
            raise ScheduleError("The principal must be greater than zero.", field="principal")
        if self.principal >= MAX_PRINCIPAL:
            raise ScheduleError("The principal is too large.", field="principal")
        if self.principal % KOBO != 0:
            raise ScheduleError("The principal has at most two decimal places (kobo).", field="principal")
        if self.annual_rate <= 0 or self.annual_rate > 100:
            raise ScheduleError(
                "The annual interest rate must be above 0 and at most 100 (percent a year).",
                field="annual_rate",
            )
        if self.installment_multiple < KOBO or self.installment_multiple % KOBO != 0:
            raise ScheduleError(
                "The installment multiple must be a positive amount in whole kobo, e.g. 0.01, 1 or 100.",
                field="installment_multiple",
            )
        for name in ("installments", "grace_principal", "grace_interest_payment", "grace_interest_free"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ScheduleError(f"{name} must be a whole number.", field=name)
        if not 1 <= self.installments <= MAX_INSTALLMENTS:
            raise ScheduleError(
                f"The number of installments must be between 1 and {MAX_INSTALLMENTS}.", field="installments"
            )
        for name, label in GRACE_LABELS.items():
            value = getattr(self, name)
            if value < 0:
                raise ScheduleError(f"{label} cannot be negative.", field=name)
            if value >= self.installments:
                raise ScheduleError(
                    f"{label} ({value} installments) must be fewer than the number of installments "
                    f"({self.installments}).",
                    field=name,
                )
        if not isinstance(self.disbursed_on, date):
            raise ScheduleError("The disbursement date is required.", field="disbursed_on")
        if self.first_due_on is not None and self.first_due_on <= self.disbursed_on:
            raise ScheduleError(
                "The first due date must be after the disbursement date.", field="first_due_on"
            )

    @property
    def rounding_mode(self) -> str:
        return ROUNDING_MODES[self.rounding.value]


@dataclass(frozen=True)
class Installment:
    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    total: Decimal
    balance: Decimal  # principal outstanding after this installment is paid

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: amounts as strings ("8884.88"), the date in ISO format."""
        return {
            "number": self.number,
            "due_date": self.due_date.isoformat(),
            "principal": str(self.principal),
            "interest": str(self.interest),
            "total": str(self.total),
            "balance": str(self.balance),
        }


@dataclass(frozen=True)
class Schedule:
    terms: ScheduleTerms
    installments: tuple[Installment, ...]
    total_principal: Decimal = field(init=False)
    total_interest: Decimal = field(init=False)
    total_repayment: Decimal = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_principal", sum((i.principal for i in self.installments), ZERO))
        object.__setattr__(self, "total_interest", sum((i.interest for i in self.installments), ZERO))
        object.__setattr__(self, "total_repayment", sum((i.total for i in self.installments), ZERO))

    def as_list(self) -> list[dict[str, object]]:
        return [installment.as_dict() for installment in self.installments]


# --- dates -------------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """`day` + `months` calendar months, on the same day of the month clamped to the month end."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(terms: ScheduleTerms) -> list[date]:
    """Due date of every installment: the anchor + k periods, never chained from the previous date.

    Monthly: clamped to the month end from the anchor's day each time (31 Jan, 28 Feb, 31 Mar, 30 Apr).
    Without a first due date the anchor is the disbursement date and the first due date is one
    period after it (Fineract does the same: the disbursement day is the "seed" day).
    """
    n = terms.installments
    if terms.frequency is Frequency.MONTHLY:
        if terms.first_due_on is not None:
            return [add_months(terms.first_due_on, k) for k in range(n)]
        return [add_months(terms.disbursed_on, k + 1) for k in range(n)]
    step = timedelta(days=NOMINAL_PERIOD_DAYS[terms.frequency])
    first = terms.first_due_on or terms.disbursed_on + step
    return [first + step * k for k in range(n)]


def _months_between(start: date, end: date) -> int:
    """Complete months from start to end (java.time ChronoUnit.MONTHS.between, which Fineract uses)."""
    months = (end.year * 12 + end.month) - (start.year * 12 + start.month)
    if end.day < start.day:
        months -= 1
    return months


def _seed_adjusted(day: date, seed_day: int) -> date:
    # Fineract's CalendarUtils.adjustDate: a month-end date moves back onto the seed day when it can.
    if seed_day > 28 and day.day >= 28:
        return day.replace(day=min(seed_day, calendar.monthrange(day.year, day.month)[1]))
    return day


def _first_period_in_months(start: date, end: date, seed_day: int) -> Fraction:
    """Length of disbursement -> first due date in months, as Fineract's calculatePeriodsBetweenDates.

    Whole months counted forward from the disbursement date, then the days left over as a fraction of
    the month that follows: 10 Jan -> 28 Feb = 1 + 18/28.
    """
    months = _months_between(start, end)
    after_months = _seed_adjusted(add_months(start, months), seed_day)
    month_later = _seed_adjusted(add_months(start, months + 1), seed_day)
    days_left = (end - after_months).days
    return months + Fraction(days_left, (month_later - after_months).days)


# --- arithmetic --------------------------------------------------------------------------------------
#
# Rates and day counts are exact fractions (no 19- or 28-digit truncation), so an amount that is exactly
# half a kobo really is a tie for the rounding mode. Amounts are rounded to kobo at the same points as in
# Fineract: each period's interest, the installment, the principal share, the flat total and its shares.


def _kobo(value: Decimal | Fraction, terms: ScheduleTerms) -> Decimal:
    if isinstance(value, Fraction):
        with localcontext(Context(prec=80)):
            value = Decimal(value.numerator) / Decimal(value.denominator)
    return value.quantize(KOBO, rounding=terms.rounding_mode)


def _to_multiple(value: Decimal, terms: ScheduleTerms) -> Decimal:
    """Round to the installment multiple (Fineract Money.roundToMultiplesOf), then to kobo."""
    multiple = terms.installment_multiple
    units = (value / multiple).quantize(Decimal(1), rounding=terms.rounding_mode)
    return _kobo(units * multiple, terms)


def _year_fraction_actual(start: date, end: date) -> Fraction:
    """Actual/actual: days in each calendar year over that year's length (365 or 366)."""
    fraction = Fraction(0)
    cursor = start
    while cursor < end:
        segment_end = min(end, date(cursor.year + 1, 1, 1))
        fraction += Fraction((segment_end - cursor).days, 366 if calendar.isleap(cursor.year) else 365)
        cursor = segment_end
    return fraction


def _year_basis(terms: ScheduleTerms) -> int:
    # "actual" only means something with actual days; with 30-day months (and for the EMI's nominal
    # rate) Fineract's cumulative engine uses 365 for it, and so do we.
    return 360 if terms.days_in_year is DaysInYear.DAYS_360 else 365


def _first_period_factor(terms: ScheduleTerms, start: date, end: date) -> Fraction:
    """The first period's length in periods (1 when the first due date is one period after disbursement)."""
    if terms.frequency is Frequency.MONTHLY:
        if terms.first_due_on is None:
            return Fraction(1)
        return _first_period_in_months(start, end, seed_day=terms.first_due_on.day)
    return Fraction((end - start).days, NOMINAL_PERIOD_DAYS[terms.frequency])


def _interest_for(terms: ScheduleTerms, factor: Fraction, start: date, end: date) -> Fraction:
    """Annual rate (as a fraction) x the length of start -> end in years, by the interest-period rules.

    `factor` is the period's length in repayment periods (1 except for an odd first period).
    """
    annual = Fraction(terms.annual_rate) / 100
    if terms.interest_period is InterestPeriod.SAME_AS_REPAYMENT:
        return annual / PERIODS_PER_YEAR[terms.frequency] * factor
    if terms.frequency is Frequency.MONTHLY and terms.days_in_month is DaysInMonth.DAYS_30:
        return annual / _year_basis(terms) * (factor * NOMINAL_PERIOD_DAYS[Frequency.MONTHLY])
    if terms.days_in_year is DaysInYear.ACTUAL:
        return annual * _year_fraction_actual(start, end)
    return annual / _year_basis(terms) * (end - start).days


def _period_rate(terms: ScheduleTerms, number: int, start: date, end: date) -> Fraction:
    """Interest rate (a fraction, not percent) for installment `number`, from `start` to `end`."""
    factor = _first_period_factor(terms, start, end) if number == 1 else Fraction(1)
    return _interest_for(terms, factor, start, end)


def _emi_rate(terms: ScheduleTerms) -> Fraction:
    """The periodic rate the equal installment is computed with (Fineract pmtForInstallment).

    Same-as-repayment: annual rate / periods a year. Daily: annual rate x a nominal period (30, 7 or
    14 days) / days in year, whatever the actual months: the installment is a level amount.
    """
    annual = Fraction(terms.annual_rate) / 100
    if terms.interest_period is InterestPeriod.SAME_AS_REPAYMENT:
        return annual / PERIODS_PER_YEAR[terms.frequency]
    return annual / _year_basis(terms) * NOMINAL_PERIOD_DAYS[terms.frequency]


def annuity_payment(principal: Decimal, rate: Decimal | Fraction, periods: int) -> Decimal:
    """Unrounded level payment that repays `principal` over `periods` at `rate` per period:
    principal x rate / (1 - (1 + rate)^-periods), to 50 significant digits."""
    with localcontext(Context(prec=50)):
        if isinstance(rate, Fraction):
            rate = Decimal(rate.numerator) / Decimal(rate.denominator)
        if rate == 0:
            return principal / periods
        return principal * rate / (1 - (1 + rate) ** -periods)


def flat_interest_total(terms: ScheduleTerms) -> Decimal:
    """Flat interest for the whole term before interest-free periods: principal x rate x term, in kobo.

    The term is the installments' periods (the first one pro-rated when it is odd), or with daily
    interest the days from disbursement to the last due date.
    """
    dues = due_dates(terms)
    first = _first_period_factor(terms, terms.disbursed_on, dues[0])
    if terms.interest_period is InterestPeriod.SAME_AS_REPAYMENT or (
        terms.frequency is Frequency.MONTHLY and terms.days_in_month is DaysInMonth.DAYS_30
    ):
        rate_for_term = _interest_for(terms, first + terms.installments - 1, terms.disbursed_on, dues[-1])
    else:
        rate_for_term = _interest_for(terms, Fraction(1), terms.disbursed_on, dues[-1])
    return _kobo(Fraction(terms.principal) * rate_for_term, terms)


# --- generators --------------------------------------------------------------------------------------


def _installment(
    number: int, due: date, principal: Decimal, interest: Decimal, balance: Decimal
) -> Installment:
    return Installment(number, due, principal, interest, principal + interest, balance)


def _reducing_balance(terms: ScheduleTerms, dues: list[date]) -> list[Installment]:
    n = terms.installments
    repaying_periods = n - terms.grace_principal
    emi = fixed_principal = None
    if terms.amortization is Amortization.EQUAL_INSTALLMENTS:
        emi = _to_multiple(annuity_payment(terms.principal, _emi_rate(terms), repaying_periods), terms)
    else:
        fixed_principal = _kobo(terms.principal / repaying_periods, terms)

    rows: list[Installment] = []
    balance = terms.principal
    deferred = ZERO  # interest accrued during the grace on interest payment, not yet collected
    start = terms.disbursed_on
    for number, due in enumerate(dues, start=1):
        accrued = _kobo(Fraction(balance) * _period_rate(terms, number, start, due), terms)
        if number <= terms.grace_interest_free:
            accrued = ZERO
        if number <= terms.grace_interest_payment and number > terms.grace_interest_free:
            deferred += accrued
            collected = ZERO
        else:
            collected, deferred = accrued + deferred, ZERO

        if number <= terms.grace_principal:
            principal = ZERO
        elif emi is not None:
            # Fineract: principal = EMI - this period's own interest, even while interest is deferred.
            # When a long first period's interest exceeds the EMI, no principal is due that period.
            principal = max(emi - accrued, ZERO)
        else:
            principal = fixed_principal
        if number == n or principal >= balance:
            principal = balance  # the last installment absorbs every residue
        balance -= principal
        rows.append(_installment(number, due, principal, collected, balance))
        start = due
        if balance == 0:
            break  # a rounded-up installment can retire the loan early, as in Fineract
    if deferred:
        last = rows[-1]
        rows[-1] = _installment(
            last.number, last.due_date, last.principal, last.interest + deferred, last.balance
        )
    return rows


def _flat_interest_amounts(terms: ScheduleTerms) -> list[Decimal]:
    """Interest per installment for a flat-rate loan, the last one taking the rounding residue."""
    n = terms.installments
    whole_term = flat_interest_total(terms)
    per_installment = _kobo(whole_term / n, terms)
    free, deferred_periods = terms.grace_interest_free, terms.grace_interest_payment
    # Interest-free periods are simply not charged (never below zero, for a few kobo of interest).
    total = max(whole_term - per_installment * free, ZERO)

    amounts: list[Decimal] = []
    if terms.amortization is Amortization.EQUAL_INSTALLMENTS:
        # Fineract averages the interest over the periods that collect it, so installments stay equal.
        collecting = n - max(free, deferred_periods)
        share = _kobo(total / collecting, terms)
        amounts = [ZERO if k <= max(free, deferred_periods) else share for k in range(1, n + 1)]
    else:
        carried = ZERO
        for k in range(1, n + 1):
            if k <= free:
                amounts.append(ZERO)
            elif k <= deferred_periods:
                carried += per_installment
                amounts.append(ZERO)
            else:
                amounts.append(per_installment + carried)
                carried = ZERO
    charged_before_last = ZERO
    for k in range(n - 1):
        amounts[k] = max(min(amounts[k], total - charged_before_last), ZERO)
        charged_before_last += amounts[k]
    amounts[-1] = total - charged_before_last
    return amounts


def _flat_rate(terms: ScheduleTerms, dues: list[date]) -> list[Installment]:
    n = terms.installments
    interest = _flat_interest_amounts(terms)
    principal_each = _kobo(terms.principal / (n - terms.grace_principal), terms)
    rounded_principal = _to_multiple(principal_each, terms)

    rows: list[Installment] = []
    balance = terms.principal
    for number, due in enumerate(dues, start=1):
        period_interest = interest[number - 1]
        if number <= terms.grace_principal:
            principal = ZERO
        else:
            # Fineract: round principal and interest to the multiple separately; the principal takes the
            # interest's rounding so the installment is a whole multiple (417 + 13 - 12.50 = 417.50).
            principal = max(rounded_principal + _to_multiple(period_interest, terms) - period_interest, ZERO)
        if number == n or principal >= balance:
            principal = balance
        balance -= principal
        if balance == 0 and number < n:
            # A principal rounded up to the multiple has retired the loan early: this installment is the
            # last and collects the interest still due, so the loan still earns its whole flat interest.
            period_interest += sum(interest[number:], ZERO)
        rows.append(_installment(number, due, principal, period_interest, balance))
        if balance == 0:
            break
    return rows


def build_schedule(terms: ScheduleTerms) -> Schedule:
    """The full repayment schedule for `terms` (see the module docstring for the rules)."""
    dues = due_dates(terms)
    generate = _flat_rate if terms.method is Method.FLAT_RATE else _reducing_balance
    rows = generate(terms, dues)
    return Schedule(terms=terms, installments=tuple(rows))
