"""How amounts read on the approval screens: ₦1,250,000.00 (cooperative.money.format_naira)."""

from cooperative.money import format_naira as naira

__all__ = ["naira"]
