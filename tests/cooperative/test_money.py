from decimal import Decimal

import pytest
from django import forms

from cooperative.forms import AmountField
from cooperative.money import amount_in_words, money, parse_amount, parse_typed_amount


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


@pytest.mark.parametrize(
    "typed",
    ["25,000.00", "25 000", "25\u00a0000", "₦25,000", "₦ 25,000.00", "NGN 25000", "N25,000", "25000"],
)
def test_amounts_as_staff_type_them_read_as_one_figure(typed):
    assert parse_typed_amount(typed) == Decimal("25000.00")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("₦-5", "greater than zero"),
        ("-25,000", "greater than zero"),
        ("25,000.001", "two decimal"),
        ("$25,000", "valid amount"),
        ("25.000,00", "valid amount"),
        ("1" * 40, "too large"),
    ],
)
def test_typed_amounts_keep_the_strict_rule(typed, message):
    with pytest.raises(ValueError, match=message):
        parse_typed_amount(typed)


def test_amount_form_field_turns_a_refusal_into_a_form_error():
    field = AmountField()
    assert field.clean("₦1,500.50") == Decimal("1500.50")
    with pytest.raises(forms.ValidationError, match="two decimal"):
        field.clean("1,500.505")
    assert AmountField(required=False).clean("") is None
