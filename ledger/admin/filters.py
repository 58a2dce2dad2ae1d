"""List filters of the ledger admin: amount bands and branches the user may see."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin

from cooperative.permissions import scope_queryset

from ..models import Account


class AmountRangeFilter(admin.SimpleListFilter):
    """Amount bands. `amount_field` names the field (or annotation) to compare."""

    title = "amount"
    parameter_name = "amount_range"
    amount_field = "amount"
    RANGES = {
        "lt1k": ("Below 1,000", None, Decimal("1000")),
        "1k-10k": ("1,000 – 9,999.99", Decimal("1000"), Decimal("10000")),
        "10k-100k": ("10,000 – 99,999.99", Decimal("10000"), Decimal("100000")),
        "100k-1m": ("100,000 – 999,999.99", Decimal("100000"), Decimal("1000000")),
        "1m+": ("1,000,000 and above", Decimal("1000000"), None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _low, _high) in self.RANGES.items()]

    def queryset(self, request, queryset):
        band = self.RANGES.get(self.value() or "")
        if band is None:
            return queryset
        _label, low, high = band
        if low is not None:
            queryset = queryset.filter(**{f"{self.amount_field}__gte": low})
        if high is not None:
            queryset = queryset.filter(**{f"{self.amount_field}__lt": high})
        return queryset


class BranchFilter(admin.SimpleListFilter):
    """Branch choices limited to the branches the user may see (the plain filter lists them all)."""

    title = "branch"
    parameter_name = "branch"
    field_path = "branch"

    def lookups(self, request, model_admin):
        branch_model = Account._meta.get_field("branch").remote_field.model
        branches = scope_queryset(branch_model._default_manager.order_by("code"), request.user)
        return [(str(b.pk), f"{b.name} ({b.code})") for b in branches]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{f"{self.field_path}__pk": self.value()})
        return queryset


class HoldBranchFilter(BranchFilter):
    field_path = "account__branch"


class EntryAmountRangeFilter(AmountRangeFilter):
    amount_field = "total_amount"
