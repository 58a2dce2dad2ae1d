"""Money helpers: one place for amount size, parsing and the cooperative's rounding rule."""

import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import models

KOBO = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000000000000")  # 10^15: anything larger is a typo, not a deposit
ROUNDING_MODES = {"half_even": ROUND_HALF_EVEN, "half_up": ROUND_HALF_UP}


def money(value: Decimal | int | str, rounding: str = "half_up") -> Decimal:
    """Quantise to kobo. Every amount the system stores passes through here."""
    return Decimal(value).quantize(KOBO, rounding=ROUNDING_MODES[rounding])


def parse_amount(value: object) -> Decimal:
    """Parse user input strictly: a positive amount with at most two decimals, below 10^15."""
    if isinstance(value, float):
        raise ValueError("Send amounts as strings, not floating-point numbers.")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError("Enter a valid amount, e.g. 1500.00.") from exc
    if not amount.is_finite():
        raise ValueError("Enter a valid amount, e.g. 1500.00.")
    if amount <= 0:
        raise ValueError("The amount must be greater than zero.")
    # Size before decimals: quantize() raises InvalidOperation (not ValueError) past 28 digits.
    if amount >= MAX_AMOUNT:
        raise ValueError("The amount is too large.")
    exponent = amount.as_tuple().exponent  # an int: the amount is finite
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(KOBO):
        raise ValueError("Amounts have at most two decimal places (kobo).")
    return amount.quantize(KOBO)


# Thousands grouped by one separator (comma, space, no-break space) in threes: '25,000', '1 250 000.50'.
_GROUPED = re.compile(r"^\d{1,3}(?P<sep>[, \u00a0\u202f])\d{3}(?:(?P=sep)\d{3})*(?:\.\d+)?$")
_CURRENCY_MARKS = ("₦", "NGN", "N")


def parse_typed_amount(text: object) -> Decimal:
    """An amount as staff type it: '25,000.00', '25 000', '₦25,000' or 'NGN 25000' -> 25000.00.

    A leading naira sign is dropped, and thousands separators only where they group digits in threes
    ('25.000,00' is refused, not read as 25). The rest is parse_amount's strict rule; the API keeps the
    strict form, since partner systems send plain decimal strings.
    """
    value = str(text).strip()
    for mark in _CURRENCY_MARKS:
        if value.upper().startswith(mark):
            value = value[len(mark) :].strip()
            break
    if value.startswith(("-", "(")):
        raise ValueError("The amount must be greater than zero.")
    if _GROUPED.match(value):
        value = re.sub(r"[, \u00a0\u202f]", "", value)
    elif any(sep in value for sep in ", \u00a0\u202f"):
        raise ValueError("Enter a valid amount, e.g. 25,000.00.")
    return parse_amount(value)


def AmountField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    return models.DecimalField(max_digits=18, decimal_places=2, **kwargs)


_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def _words_below_thousand(n: int) -> str:
    parts = []
    if n >= 100:
        parts.append(f"{_ONES[n // 100]} hundred")
        n %= 100
        if n:
            parts.append("and")
    if n >= 20:
        parts.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not parts:
        parts.append(_ONES[n])
    return " ".join(parts)


def _int_to_words(n: int) -> str:
    if n < 1000:
        return _words_below_thousand(n)
    for scale, name in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            words = f"{_int_to_words(head)} {name}"
            if rest:
                words += (" and " if rest < 100 else " ") + _int_to_words(rest)
            return words
    return _words_below_thousand(n)


def amount_in_words(amount: Decimal, currency: str = "NGN") -> str:
    """'1500.50' -> 'One thousand five hundred naira and fifty kobo' (shown on confirmations)."""
    amount = money(amount)
    naira, kobo = divmod(int(amount * 100), 100)
    major, minor = ("naira", "kobo") if currency == "NGN" else (currency, "cents")
    words = f"{_int_to_words(naira)} {major}"
    if kobo:
        words += f" and {_int_to_words(kobo)} {minor}"
    return words[0].upper() + words[1:]


def format_amount(amount: Decimal | int | str | None, *, blank: str = "") -> str:
    """'1250000' -> '1,250,000.00': how every amount reads on a page, a form or a table."""
    if amount is None:
        return blank
    return f"{Decimal(amount):,.2f}"


def format_naira(amount: Decimal | int | str | None, *, blank: str = "—") -> str:
    """'1250000' -> '₦1,250,000.00': an amount in a sentence or on a decision page."""
    if amount is None:
        return blank
    return f"₦{format_amount(amount)}"
