from decimal import Decimal

import pytest

from cooperative.money import amount_in_words, money, parse_amount


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1500", Decimal("1500.00")),
        ("1500.5", Decimal("1500.50")),
        (" 0.01 ", Decimal("0.01")),
        ("1.500", Decimal("1.50")),
        (25, Decimal("25.00")),
    ],
)
def test_parse_amount_accepts_positive_kobo_amounts(raw, expected):
    assert parse_amount(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "greater than zero"),
        ("-5", "greater than zero"),
        ("1.001", "two decimal"),
        ("abc", "valid amount"),
        ("NaN", "valid amount"),
        ("Infinity", "valid amount"),
        ("1e400", "too large"),
        ("1" * 40, "too large"),
        ("1000000000000000", "too large"),
        (0.1, "strings"),
    ],
)
def test_parse_amount_refuses_bad_input_with_a_value_error(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_amount(raw)


def test_money_rounds_in_one_place():
    assert money("2.345") == Decimal("2.35")
    assert money("2.345", rounding="half_even") == Decimal("2.34")


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("1500.50", "One thousand five hundred naira and fifty kobo"),
        ("2000000.00", "Two million naira"),
        ("101.01", "One hundred and one naira and one kobo"),
        ("0.75", "Zero naira and seventy-five kobo"),
    ],
)
def test_amount_in_words_for_confirmation_pages(amount, words):
    assert amount_in_words(Decimal(amount)) == words
