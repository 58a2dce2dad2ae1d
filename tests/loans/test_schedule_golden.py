"""Golden schedules worked out by hand: the arithmetic is in the comments, the engine must agree to the kobo.

Conventions in the comments: r = periodic rate, B = outstanding principal, I = interest, P = principal,
EMI = the equal installment; "->" is rounding to kobo (half-even unless the case says otherwise).
"""

from datetime import date
from decimal import Decimal

import pytest

from loans.schedule import ScheduleError, ScheduleTerms, add_months, build_schedule, flat_interest_total

D = Decimal


@pytest.fixture(autouse=True)
def _clear_cache():
    """Overrides tests/conftest.py's cache reset: the engine uses neither the cache nor the database."""
    return


def rows(schedule):
    return [
        (i.number, i.due_date, i.principal, i.interest, i.total, i.balance) for i in schedule.installments
    ]


def terms(**overrides) -> ScheduleTerms:
    values = {
        "principal": D("100000.00"),
        "annual_rate": D("12"),
        "installments": 12,
        "disbursed_on": date(2027, 1, 1),
    }
    values.update(overrides)
    return ScheduleTerms(**values)


def test_reducing_balance_equal_installments_100k_12_percent_12_months():
    # given 100,000 at 12% a year, 12 monthly installments: r = 12 / 12 / 100 = 0.01
    # EMI = 100000 x 0.01 / (1 - 1.01^-12) = 8884.8788678... -> 8884.88
    # when
    schedule = build_schedule(terms())

    # then
    first, second = schedule.installments[:2]
    # I1 = 100000 x 0.01 = 1000.00; P1 = 8884.88 - 1000.00 = 7884.88; B1 = 92115.12
    assert (first.interest, first.principal, first.total, first.balance) == (
        D("1000.00"),
        D("7884.88"),
        D("8884.88"),
        D("92115.12"),
    )
    # I2 = 92115.12 x 0.01 = 921.1512 -> 921.15; P2 = 8884.88 - 921.15 = 7963.73; B2 = 84151.39
    assert (second.interest, second.principal, second.balance) == (D("921.15"), D("7963.73"), D("84151.39"))
    assert all(i.total == D("8884.88") for i in schedule.installments[:-1])
    # B11 = 8796.88 is all repaid in #12: I12 = 87.9688 -> 87.97; total 8796.88 + 87.97 = 8884.85
    last = schedule.installments[-1]
    assert (last.principal, last.interest, last.total, last.balance) == (
        D("8796.88"),
        D("87.97"),
        D("8884.85"),
        D("0.00"),
    )
    # 11 x 8884.88 + 8884.85 = 106618.53 repaid, of which 6618.53 interest
    assert (schedule.total_principal, schedule.total_interest, schedule.total_repayment) == (
        D("100000.00"),
        D("6618.53"),
        D("106618.53"),
    )
    assert [i.due_date for i in schedule.installments[:3]] == [
        date(2027, 2, 1),
        date(2027, 3, 1),
        date(2027, 4, 1),
    ]


def test_installment_multiple_of_100_rounds_the_emi_and_shrinks_the_last_installment():
    # given the same loan with installments in multiples of 100 naira
    # EMI 8884.8788... / 100 = 88.85 -> 89 x 100 = 8900.00
    # when
    schedule = build_schedule(terms(installment_multiple=D("100")))

    # then
    assert all(i.total == D("8900.00") for i in schedule.installments[:-1])
    # I1 = 1000.00, P1 = 7900.00; I2 = 92100 x 0.01 = 921.00, P2 = 7979.00
    assert rows(schedule)[:2] == [
        (1, date(2027, 2, 1), D("7900.00"), D("1000.00"), D("8900.00"), D("92100.00")),
        (2, date(2027, 3, 1), D("7979.00"), D("921.00"), D("8900.00"), D("84121.00")),
    ]
    # paying 15.12 more a month leaves 8622.01 for #12: I12 = 86.2201 -> 86.22, total 8708.23
    assert rows(schedule)[-1] == (12, date(2028, 1, 1), D("8622.01"), D("86.22"), D("8708.23"), D("0.00"))
    assert schedule.total_principal == D("100000.00")


def test_equal_principal_100k_over_3_months():
    # given P = 100000 / 3 = 33333.333... -> 33333.33 a month, the last takes 33333.34
    # when
    schedule = build_schedule(terms(installments=3, amortization="equal_principal"))

    # then I1 = 1000.00; I2 = 66666.67 x 0.01 = 666.6667 -> 666.67; I3 = 33333.34 x 0.01 -> 333.33
    assert rows(schedule) == [
        (1, date(2027, 2, 1), D("33333.33"), D("1000.00"), D("34333.33"), D("66666.67")),
        (2, date(2027, 3, 1), D("33333.33"), D("666.67"), D("34000.00"), D("33333.34")),
        (3, date(2027, 4, 1), D("33333.34"), D("333.33"), D("33666.67"), D("0.00")),
    ]
    assert schedule.total_interest == D("2000.00")


def test_flat_rate_12_percent_12_months():
    # given flat 12%: interest = 100000 x 0.12 x 12/12 years = 12000.00, i.e. 1000.00 a month
    # principal 100000 / 12 = 8333.33 x 11, the last 100000 - 91666.63 = 8333.37
    # when
    schedule = build_schedule(terms(method="flat_rate"))

    # then
    assert flat_interest_total(schedule.terms) == D("12000.00")
    assert all(i.interest == D("1000.00") for i in schedule.installments)
    assert all(i.total == D("9333.33") for i in schedule.installments[:-1])
    assert rows(schedule)[-1] == (12, date(2028, 1, 1), D("8333.37"), D("1000.00"), D("9333.37"), D("0.00"))
    assert (schedule.total_interest, schedule.total_repayment) == (D("12000.00"), D("112000.00"))


def test_flat_rate_with_installment_multiple_of_100():
    # given flat 12% over 6 months: interest 100000 x 0.12 x 6/12 = 6000.00 -> 1000.00 a month
    # principal 100000 / 6 = 16666.67 -> multiple of 100: 166.67 -> 167 x 100 = 16700.00
    # when
    schedule = build_schedule(terms(installments=6, method="flat_rate", installment_multiple=D("100")))

    # then 5 x 17700.00, then the rest: 100000 - 5 x 16700 = 16500.00 + 1000.00
    assert all(i.total == D("17700.00") for i in schedule.installments[:-1])
    assert rows(schedule)[-1] == (6, date(2027, 7, 1), D("16500.00"), D("1000.00"), D("17500.00"), D("0.00"))


def test_grace_on_principal_gives_interest_only_installments():
    # given 6 installments with 2 months' grace on principal: #1 and #2 are interest only (1000.00),
    # then EMI over the 4 remaining periods: 100000 x 0.01 / (1 - 1.01^-4) = 25628.109... -> 25628.11
    # when
    schedule = build_schedule(terms(installments=6, grace_principal=2))

    # then
    assert rows(schedule)[:3] == [
        (1, date(2027, 2, 1), D("0.00"), D("1000.00"), D("1000.00"), D("100000.00")),
        (2, date(2027, 3, 1), D("0.00"), D("1000.00"), D("1000.00"), D("100000.00")),
        (3, date(2027, 4, 1), D("24628.11"), D("1000.00"), D("25628.11"), D("75371.89")),
    ]
    # I4 = 75371.89 x 0.01 = 753.7189 -> 753.72; the last: B5 = 25374.37, I6 = 253.7437 -> 253.74
    assert rows(schedule)[3][3] == D("753.72")
    assert rows(schedule)[-1] == (6, date(2027, 7, 1), D("25374.37"), D("253.74"), D("25628.11"), D("0.00"))
    assert schedule.total_interest == D("4512.44")


def test_grace_on_interest_payment_collects_the_deferred_interest_with_the_first_installment_after_it():
    # given 6 installments, 2 of them with grace on interest payment. The EMI (6 periods) is
    # 100000 x 0.01 / (1 - 1.01^-6) = 17254.837... -> 17254.84; principal each period = EMI - its interest
    # #1: I = 1000.00 deferred, P = 16254.84, B = 83745.16
    # #2: I = 837.4516 -> 837.45 deferred, P = 16417.39, B = 67327.77
    # #3: own I = 673.2777 -> 673.28, P = 16581.56; collects 1000.00 + 837.45 + 673.28 = 2510.73
    # when
    schedule = build_schedule(terms(installments=6, grace_interest_payment=2))

    # then
    assert rows(schedule)[:4] == [
        (1, date(2027, 2, 1), D("16254.84"), D("0.00"), D("16254.84"), D("83745.16")),
        (2, date(2027, 3, 1), D("16417.39"), D("0.00"), D("16417.39"), D("67327.77")),
        (3, date(2027, 4, 1), D("16581.56"), D("2510.73"), D("19092.29"), D("50746.21")),
        (4, date(2027, 5, 1), D("16747.38"), D("507.46"), D("17254.84"), D("33998.83")),
    ]
    # interest is only moved, never waived: the same total as without the grace
    assert schedule.total_interest == build_schedule(terms(installments=6)).total_interest


def test_interest_free_periods_charge_no_interest():
    # given 6 installments, the first 2 interest-free: EMI 17254.84 is all principal in #1 and #2
    # B2 = 100000 - 2 x 17254.84 = 65490.32; I3 = 654.9032 -> 654.90
    # when
    schedule = build_schedule(terms(installments=6, grace_interest_free=2))

    # then
    assert rows(schedule)[:3] == [
        (1, date(2027, 2, 1), D("17254.84"), D("0.00"), D("17254.84"), D("82745.16")),
        (2, date(2027, 3, 1), D("17254.84"), D("0.00"), D("17254.84"), D("65490.32")),
        (3, date(2027, 4, 1), D("16599.94"), D("654.90"), D("17254.84"), D("48890.38")),
    ]
    assert schedule.total_principal == D("100000.00")
    assert schedule.total_interest < build_schedule(terms(installments=6)).total_interest


def test_flat_interest_free_periods_drop_their_share_of_interest():
    # given flat 12% over 6 months = 6000.00, 1000.00 per installment, the first 2 interest-free
    # then interest 6000.00 - 2 x 1000.00 = 4000.00, spread over #3..#6
    schedule = build_schedule(terms(installments=6, method="flat_rate", grace_interest_free=2))

    assert [i.interest for i in schedule.installments] == [D("0.00")] * 2 + [D("1000.00")] * 4
    assert schedule.total_interest == D("4000.00")


def test_flat_grace_on_interest_payment_equal_installments_averages_equal_principal_defers():
    # given flat 12% over 6 months (6000.00) with 2 installments of grace on interest payment
    # when
    averaged = build_schedule(terms(installments=6, method="flat_rate", grace_interest_payment=2))
    deferred = build_schedule(
        terms(installments=6, method="flat_rate", amortization="equal_principal", grace_interest_payment=2)
    )

    # then equal installments (Fineract): 6000.00 / 4 paying periods = 1500.00 each
    assert [i.interest for i in averaged.installments] == [D("0.00")] * 2 + [D("1500.00")] * 4
    # and equal principal (Fineract): #3 collects 2 x 1000.00 deferred + its own 1000.00
    assert [i.interest for i in deferred.installments] == [D("0.00")] * 2 + [
        D("3000.00"),
        D("1000.00"),
        D("1000.00"),
        D("1000.00"),
    ]
    assert averaged.total_interest == deferred.total_interest == D("6000.00")


def test_daily_interest_365_uses_actual_days_31_29_31_in_a_leap_year():
    # given disbursement 1 Jan 2028 (leap year), 3 monthly installments, daily interest, 365-day year
    # EMI rate = 0.12 x 30 / 365 = 0.0098630137; EMI = 100000 x r / (1 - (1 + r)^-3) -> 33993.02
    # #1 1 Jan -> 1 Feb, 31 days: I = 100000 x 0.12 x 31/365 = 1019.178 -> 1019.18
    # #2 1 Feb -> 1 Mar, 29 days: I = 67026.16 x 0.12 x 29/365 = 233251.0368 / 365 = 639.0439 -> 639.04
    # #3 1 Mar -> 1 Apr, 31 days: I = 33672.18 x 0.12 x 31/365 = 343.1787 -> 343.18
    schedule = build_schedule(
        terms(installments=3, disbursed_on=date(2028, 1, 1), interest_period="daily", days_in_year="365")
    )

    assert rows(schedule) == [
        (1, date(2028, 2, 1), D("32973.84"), D("1019.18"), D("33993.02"), D("67026.16")),
        (2, date(2028, 3, 1), D("33353.98"), D("639.04"), D("33993.02"), D("33672.18")),
        (3, date(2028, 4, 1), D("33672.18"), D("343.18"), D("34015.36"), D("0.00")),
    ]


def test_daily_interest_actual_days_in_year_divides_by_366_in_a_leap_year():
    # given the same loan with days in year = actual: 2028 has 366 days
    # #1: 100000 x 0.12 x 31/366 = 1016.3934 -> 1016.39 (EMI still 33993.02: its rate uses 30/365)
    # #2: 67023.37 x 0.12 x 29/366 = 637.2683 -> 637.27
    schedule = build_schedule(terms(installments=3, disbursed_on=date(2028, 1, 1), interest_period="daily"))

    assert [i.interest for i in schedule.installments] == [D("1016.39"), D("637.27"), D("342.20")]
    assert schedule.installments[0].total == D("33993.02")


def test_daily_interest_across_new_year_splits_the_period_by_year_length():
    # given disbursement 31 Dec 2027, first due 31 Jan 2028, days in year actual
    # 1 day in 2027 (/365) and 30 days in 2028 (/366): 100000 x 0.12 x (1/365 + 30/366) = 1016.4834 -> 1016.48
    schedule = build_schedule(
        terms(
            installments=2,
            disbursed_on=date(2027, 12, 31),
            first_due_on=date(2028, 1, 31),
            interest_period="daily",
        )
    )

    assert schedule.installments[0].interest == D("1016.48")
    assert schedule.installments[1].due_date == date(2028, 2, 29)


def test_daily_interest_with_30_day_months_and_360_day_year_is_one_twelfth_a_month():
    # given days in month 30, days in year 360: 30/360 = 1/12 whatever the month's length
    schedule = build_schedule(
        terms(
            installments=3,
            disbursed_on=date(2028, 1, 1),
            interest_period="daily",
            days_in_year="360",
            days_in_month="30",
        )
    )

    # I1 = 100000 x 0.12 x 30/360 = 1000.00; EMI = annuity at exactly 0.01 over 3 = 34002.2115 -> 34002.21
    assert rows(schedule)[0] == (
        1,
        date(2028, 2, 1),
        D("33002.21"),
        D("1000.00"),
        D("34002.21"),
        D("66997.79"),
    )
    # I2 = 66997.79 x 0.01 = 669.9779 -> 669.98 (February's 29 days do not matter)
    assert schedule.installments[1].interest == D("669.98")


def test_month_end_due_dates_are_clamped_from_the_first_due_date_each_time():
    # given first due 31 Jan 2027: 28 Feb 2027, then back to 31 Mar (not 28 Mar), 30 Apr, 31 May
    schedule = build_schedule(
        terms(installments=5, disbursed_on=date(2026, 12, 31), first_due_on=date(2027, 1, 31))
    )

    assert [i.due_date for i in schedule.installments] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
    ]
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)


def test_default_first_due_date_is_one_month_after_a_month_end_disbursement():
    # given disbursement on 31 Jan 2027 and no first due date: 28 Feb, 31 Mar, 30 Apr (Fineract's seed day)
    schedule = build_schedule(terms(installments=3, disbursed_on=date(2027, 1, 31)))

    assert [i.due_date for i in schedule.installments] == [
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]
    assert schedule.installments[0].interest == D("1000.00")  # a whole month, however short February is


def test_long_first_period_is_pro_rated_by_days():
    # given disbursement 10 Jan 2027, first due 28 Feb 2027 (one month and 18 days)
    # Fineract counts 1 whole month (10 Jan -> 10 Feb) + 18 days of the 28-day month 10 Feb -> 10 Mar
    # I1 = 100000 x 0.01 x (1 + 18/28) = 1642.857 -> 1642.86; EMI over 3 at 0.01 = 34002.21
    schedule = build_schedule(
        terms(installments=3, disbursed_on=date(2027, 1, 10), first_due_on=date(2027, 2, 28))
    )

    assert rows(schedule)[0] == (
        1,
        date(2027, 2, 28),
        D("32359.35"),
        D("1642.86"),
        D("34002.21"),
        D("67640.65"),
    )
    assert [i.due_date for i in schedule.installments[1:]] == [date(2027, 3, 28), date(2027, 4, 28)]


def test_short_first_period_is_pro_rated_by_days():
    # given disbursement 20 Jan 2027, first due 31 Jan 2027: 11 days of the month 20 Jan -> 20 Feb (31 days)
    # I1 = 100000 x 0.01 x 11/31 = 354.8387 -> 354.84
    schedule = build_schedule(
        terms(installments=2, disbursed_on=date(2027, 1, 20), first_due_on=date(2027, 1, 31))
    )

    assert schedule.installments[0].interest == D("354.84")


def test_flat_rate_long_first_period_charges_the_longer_term():
    # given flat 12% with the first due date 1 month + 18/28 after disbursement, 3 installments
    # term = (1 + 18/28 + 2) months = 3.642857 months -> 100000 x 0.12 x 3.642857/12 = 3642.857 -> 3642.86
    schedule = build_schedule(
        terms(
            installments=3, method="flat_rate", disbursed_on=date(2027, 1, 10), first_due_on=date(2027, 2, 28)
        )
    )

    assert schedule.total_interest == D("3642.86")
    # 3642.86 / 3 = 1214.2867 -> 1214.29 twice, the last takes 3642.86 - 2428.58 = 1214.28
    assert [i.interest for i in schedule.installments] == [D("1214.29"), D("1214.29"), D("1214.28")]


def test_weekly_installments_use_a_52nd_of_the_rate_and_7_day_steps():
    # given 10,000 at 26% a year, weekly: r = 26 / 52 / 100 = 0.005
    # EMI = 10000 x 0.005 / (1 - 1.005^-4) = 2531.3279 -> 2531.33; I1 = 50.00
    schedule = build_schedule(
        terms(principal=D("10000"), annual_rate=D("26"), installments=4, frequency="weekly")
    )

    assert rows(schedule)[0] == (1, date(2027, 1, 8), D("2481.33"), D("50.00"), D("2531.33"), D("7518.67"))
    assert [i.due_date for i in schedule.installments] == [
        date(2027, 1, 8),
        date(2027, 1, 15),
        date(2027, 1, 22),
        date(2027, 1, 29),
    ]


def test_fortnightly_installments_use_a_26th_of_the_rate_and_14_day_steps():
    # given r = 26 / 26 / 100 = 0.01 a fortnight: I1 = 100.00; EMI = 10000 x 0.01 / (1 - 1.01^-4) -> 2562.81
    schedule = build_schedule(
        terms(principal=D("10000"), annual_rate=D("26"), installments=4, frequency="fortnightly")
    )

    assert rows(schedule)[0] == (1, date(2027, 1, 15), D("2462.81"), D("100.00"), D("2562.81"), D("7537.19"))
    assert schedule.installments[-1].due_date == date(2027, 2, 26)


def test_flat_weekly_interest_is_rate_times_weeks_over_52():
    # given 10,000 flat 26% for 13 weeks: 10000 x 0.26 x 13/52 = 650.00, i.e. 50.00 a week
    schedule = build_schedule(
        terms(
            principal=D("10000"), annual_rate=D("26"), installments=13, frequency="weekly", method="flat_rate"
        )
    )

    assert schedule.total_interest == D("650.00")
    assert {i.interest for i in schedule.installments} == {D("50.00")}


@pytest.mark.parametrize(("rounding", "interest"), [("half_even", D("10.00")), ("half_up", D("10.01"))])
def test_rounding_mode_decides_half_kobo_interest(rounding, interest):
    # given 1000.50 for one month at 12%: I = 1000.50 x 0.01 = 10.005, exactly half a kobo
    schedule = build_schedule(terms(principal=D("1000.50"), installments=1, rounding=rounding))

    assert schedule.installments[0].interest == interest


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"principal": D("-1")}, "greater than zero"),
        ({"principal": D("100.001")}, "two decimal places"),
        ({"annual_rate": D("0")}, "above 0"),
        ({"annual_rate": D("100.5")}, "at most 100"),
        ({"installments": 0}, "between 1"),
        ({"grace_principal": 12}, "fewer than the number of installments"),
        ({"grace_interest_free": -1}, "cannot be negative"),
        ({"first_due_on": date(2027, 1, 1)}, "after the disbursement date"),
        ({"method": "compound"}, "method must be one of"),
        ({"installment_multiple": D("0.005")}, "whole kobo"),
        ({"annual_rate": 12.5}, "not a float"),
    ],
)
def test_bad_terms_are_refused_with_a_clear_message(overrides, message):
    with pytest.raises(ScheduleError, match=message):
        terms(**overrides)
