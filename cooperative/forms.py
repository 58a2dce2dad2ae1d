"""Form fields every app's admin forms share."""

from __future__ import annotations

from django import forms

from .money import parse_typed_amount

MAX_TYPED_LENGTH = 30


class AmountField(forms.Field):
    """A money amount typed by a person: '1500', '1,500.50', '25 000', '₦25,000'. Strict otherwise."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "inputmode": "decimal",
                    "autocomplete": "off",
                    "size": 18,
                    "maxlength": MAX_TYPED_LENGTH,
                }
            ),
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        value = "" if value is None else str(value).strip()
        if value in self.empty_values:
            return None
        if len(value) > MAX_TYPED_LENGTH:
            raise forms.ValidationError("Enter a valid amount, e.g. 1500.00.", code="invalid_amount")
        try:
            return parse_typed_amount(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid_amount") from exc
