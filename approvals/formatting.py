"""How amounts read on the approval screens: ₦1,250,000.00."""

from decimal import Decimal


def naira(amount: Decimal | int | str | None) -> str:
    if amount is None:
        return "—"
    return f"₦{Decimal(amount):,.2f}"
