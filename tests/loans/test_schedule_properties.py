"""Properties every schedule must have, whatever the product settings (hypothesis)."""

import calendar
from datetime import date, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loans.schedule import (
    PERIODS_PER_YEAR,
    Amortization,
    DaysInMonth,
    DaysInYear,
    Frequency,
    InterestPeriod,
    Method,
    Rounding,
    ScheduleTerms,
    annuity_payment,
    build_schedule,
    flat_interest_total,
)

D = Decimal
KOBO = D("0.01")
MULTIPLES = [D("0.01"), D("0.05"), D("1"), D("5"), D("100")]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Overrides tests/conftest.py's cache reset: the engine uses neither the cache nor the database."""
    return


@st.composite
def loan_terms(draw, min_kobo=100_00, min_basis_points=1, **fixed):
    installments = fixed.pop("installments", None) or draw(st.integers(min_value=1, max_value=72))
    grace = st.integers(min_value=0, max_value=installments - 1)
    disbursed_on = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)))
    first_due_on = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=75)))
    values = {
        "principal": D(draw(st.integers(min_value=min_kobo, max_value=500_000_000_00))) / 100,
        "annual_rate": D(draw(st.integers(min_value=min_basis_points, max_value=6000))) / 100,
        "installments": installments,
        "disbursed_on": disbursed_on,
        "first_due_on": None if first_due_on is None else disbursed_on + timedelta(days=first_due_on),
        "method": draw(st.sampled_from(Method)),
        "amortization": draw(st.sampled_from(Amortization)),
        "interest_period": draw(st.sampled_from(InterestPeriod)),
        "days_in_year": draw(st.sampled_from(DaysInYear)),
        "days_in_month": draw(st.sampled_from(DaysInMonth)),
        "frequency": draw(st.sampled_from(Frequency)),
        "grace_principal": draw(grace),
        "grace_interest_payment": draw(grace),
        "grace_interest_free": draw(grace),
        "rounding": draw(st.sampled_from(Rounding)),
        "installment_multiple": draw(st.sampled_from(MULTIPLES)),
    }
    values.update(fixed)
    return ScheduleTerms(**values)


def kobo(value: Fraction, rounding: str) -> Decimal:
    with localcontext() as context:
        context.prec = 80
        return (D(value.numerator) / D(value.denominator)).quantize(KOBO, rounding=rounding)


PROPERTY_SETTINGS = settings(
    max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(terms=loan_terms())
def test_principal_sums_exactly_to_the_loan_amount(terms):
    schedule = build_schedule(terms)

    assert schedule.total_principal == terms.principal
    assert schedule.total_repayment == schedule.total_principal + schedule.total_interest


@PROPERTY_SETTINGS
@given(terms=loan_terms())
def test_balance_never_increases_and_ends_at_zero(terms):
    schedule = build_schedule(terms)

    balance = terms.principal
    for installment in schedule.installments:
        assert installment.balance == balance - installment.principal
        assert installment.balance <= balance
        balance = installment.balance
    assert balance == 0
    assert all(i.balance > 0 for i in schedule.installments[:-1])  # nothing due after the loan is repaid


@PROPERTY_SETTINGS
@given(terms=loan_terms())
def test_no_negative_amounts_and_everything_in_kobo(terms):
    schedule = build_schedule(terms)

    for installment in schedule.installments:
        amounts = (installment.principal, installment.interest, installment.total, installment.balance)
        assert all(amount >= 0 for amount in amounts)
        assert all(amount == amount.quantize(KOBO) for amount in amounts)
        assert installment.total == installment.principal + installment.interest


@PROPERTY_SETTINGS
@given(terms=loan_terms())
def test_due_dates_strictly_increase_and_are_numbered_from_one(terms):
    schedule = build_schedule(terms)

    dues = [i.due_date for i in schedule.installments]
    assert dues[0] > terms.disbursed_on
    assert all(earlier < later for earlier, later in zip(dues, dues[1:], strict=False))
    assert [i.number for i in schedule.installments] == list(range(1, len(dues) + 1))
    assert 1 <= len(dues) <= terms.installments


@PROPERTY_SETTINGS
@given(terms=loan_terms(frequency=Frequency.MONTHLY))
def test_monthly_due_dates_keep_the_anchor_day_clamped_to_the_month_end(terms):
    schedule = build_schedule(terms)

    anchor = (terms.first_due_on or terms.disbursed_on).day
    for installment in schedule.installments:
        due = installment.due_date
        assert due.day == min(anchor, calendar.monthrange(due.year, due.month)[1])


@PROPERTY_SETTINGS
@given(
    terms=loan_terms(
        method=Method.FLAT_RATE, interest_period=InterestPeriod.SAME_AS_REPAYMENT, first_due_on=None
    )
)
def test_flat_interest_total_is_principal_times_rate_times_term(terms):
    schedule = build_schedule(terms)

    # exact rational arithmetic, rounded once: principal x rate x installments / periods a year
    exact = Fraction(terms.principal) * Fraction(terms.annual_rate) / 100 * Fraction(terms.installments)
    exact /= PERIODS_PER_YEAR[terms.frequency]
    whole_term = kobo(exact, terms.rounding_mode)
    per_installment = kobo(Fraction(whole_term) / terms.installments, terms.rounding_mode)
    assert flat_interest_total(terms) == whole_term
    assert schedule.total_interest == max(whole_term - per_installment * terms.grace_interest_free, 0)


@PROPERTY_SETTINGS
@given(
    terms=loan_terms(
        method=Method.FLAT_RATE, grace_interest_free=0, grace_interest_payment=0, installment_multiple=KOBO
    )
)
def test_flat_interest_total_without_interest_free_periods_equals_the_whole_term(terms):
    assert build_schedule(terms).total_interest == flat_interest_total(terms)


@PROPERTY_SETTINGS
@given(terms=loan_terms(method=Method.FLAT_RATE, min_kobo=10_000_00, min_basis_points=100))
def test_flat_installments_are_equal_except_grace_periods_and_the_last(terms):
    # (a realistic loan: with a few kobo of interest per installment, rounding each share up would use
    # the interest up before the last installment, exactly as in Fineract)
    schedule = build_schedule(terms)

    grace = max(terms.grace_principal, terms.grace_interest_payment, terms.grace_interest_free)
    if (
        terms.amortization is Amortization.EQUAL_PRINCIPAL
        and terms.grace_interest_payment > terms.grace_interest_free
    ):
        grace += 1  # the first installment after the deferral collects the deferred interest
    regular = {i.total for i in schedule.installments[grace:-1] if i.balance > 0}
    assert len(regular) <= 1


@PROPERTY_SETTINGS
@given(
    terms=loan_terms(
        method=Method.REDUCING_BALANCE, amortization=Amortization.EQUAL_INSTALLMENTS, grace_interest_payment=0
    )
)
def test_equal_installments_are_equal_except_grace_periods_and_the_last(terms):
    schedule = build_schedule(terms)

    for installment in schedule.installments[: terms.grace_principal]:
        assert installment.principal == 0
    # one amount after the grace, except where a long first period's interest exceeds it (no principal)
    totals = {i.total for i in schedule.installments[terms.grace_principal : -1] if i.principal > 0}
    assert len(totals) <= 1


@PROPERTY_SETTINGS
@given(
    terms=loan_terms(
        method=Method.REDUCING_BALANCE,
        amortization=Amortization.EQUAL_INSTALLMENTS,
        interest_period=InterestPeriod.SAME_AS_REPAYMENT,
        grace_interest_payment=0,
        grace_interest_free=0,
        installment_multiple=KOBO,
        first_due_on=None,
    )
)
def test_equal_installment_is_the_annuity_on_the_periodic_rate(terms):
    schedule = build_schedule(terms)

    rate = terms.annual_rate / PERIODS_PER_YEAR[terms.frequency] / 100
    emi = annuity_payment(terms.principal, rate, terms.installments - terms.grace_principal)
    expected = emi.quantize(KOBO, rounding=terms.rounding_mode)
    assert len(schedule.installments) == terms.installments
    for installment in schedule.installments[terms.grace_principal : -1]:
        assert installment.total == expected
    # the last installment only absorbs rounding: at most a kobo a period (EMI and interest rounding),
    # compounded at the periodic rate over the remaining periods
    tolerance = sum((KOBO * (1 + rate) ** k for k in range(terms.installments)), D(0))
    assert abs(schedule.installments[-1].total - expected) <= tolerance


@PROPERTY_SETTINGS
@given(terms=loan_terms(method=Method.REDUCING_BALANCE, amortization=Amortization.EQUAL_PRINCIPAL))
def test_equal_principal_repays_the_same_principal_each_period_but_the_last(terms):
    schedule = build_schedule(terms)

    repaying = schedule.installments[terms.grace_principal : -1]
    assert len({i.principal for i in repaying}) <= 1
    assert len(schedule.installments) == terms.installments


@PROPERTY_SETTINGS
@given(terms=loan_terms(grace_interest_free=0))
def test_grace_on_interest_payment_moves_interest_but_never_waives_it(terms):
    without_grace = ScheduleTerms(**{**terms.__dict__, "grace_interest_payment": 0})

    with_grace = build_schedule(terms)
    plain = build_schedule(without_grace)

    assert with_grace.total_interest == plain.total_interest
    for installment in with_grace.installments[: terms.grace_interest_payment]:
        if installment.balance > 0:  # (an installment that retires the loan early collects everything)
            assert installment.interest == 0
