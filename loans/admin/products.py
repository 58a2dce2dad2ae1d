"""Loan products (settings in fieldsets, with a sample schedule) and arrears buckets in the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse

from cooperative.admin_scoping import ScopedHistoryAdmin

from ..forms import PreviewError, preview_schedule
from ..models import ArrearsBucket, LoanProduct
from .common import _schedule_table


@admin.register(LoanProduct)
class LoanProductAdmin(ScopedHistoryAdmin):
    list_display = (
        "name",
        "active",
        "interest_rate",
        "calculation_method",
        "repayment_frequency",
        "min_amount",
        "max_amount",
        "min_term",
        "max_term",
    )
    list_filter = ("active", "calculation_method", "repayment_frequency")
    search_fields = ("name",)
    readonly_fields = ("sample_schedule",)
    fieldsets = (
        (None, {"fields": ("name", "description", "active")}),
        (
            "Pricing and limits",
            {
                "fields": ("interest_rate", ("min_amount", "max_amount"), ("min_term", "max_term")),
                "description": "The rate is a yearly percentage; terms count installments.",
            },
        ),
        (
            "Schedule",
            {
                "fields": (
                    "calculation_method",
                    "amortization",
                    "repayment_frequency",
                    "interest_period",
                    ("days_in_year", "days_in_month"),
                    ("grace_on_principal", "grace_on_interest_payment", "interest_free_periods"),
                    ("rounding_mode", "installment_multiple"),
                ),
                "description": "Reducing balance charges interest on the balance; flat rate on the original "
                "amount for the whole term. Daily interest counts the days between due dates (days in year "
                "and month apply only then). Grace on principal = interest-only installments; grace on "
                "interest payment = interest collected with the first installment after the grace; "
                "interest-free = no interest charged. The last installment absorbs rounding.",
            },
        ),
        (
            "Fees, penalties and repayments",
            {
                "fields": (
                    ("processing_fee_type", "processing_fee_value"),
                    ("penalty_rate", "penalty_basis", "penalty_frequency", "penalty_grace_days"),
                    "allocation_order",
                    "arrears_tolerance",
                    "overpayment_policy",
                    "auto_debit_savings",
                ),
                "description": "The processing fee is deducted at disbursement (percent of principal or "
                "a flat amount). Penalties are charged by end of day after the grace days.",
            },
        ),
        (
            "Eligibility and guarantors",
            {
                "fields": (
                    "min_membership_months",
                    ("savings_multiple", "ceiling_includes_shares"),
                    "max_active_loans",
                    ("required_guarantors", "guarantor_coverage_percent"),
                ),
                "description": "Ceiling = savings multiple × the member's savings (plus shares when "
                "ticked); 0 means no ceiling. Guarantors' pledges must cover this percent of the loan.",
            },
        ),
        ("Sample schedule", {"fields": ("sample_schedule",), "classes": ("collapse",)}),
    )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        may_preview = request.user.has_perm("loans.view_loan") or request.user.has_perm("loans.add_loan")
        extra_context = {
            **(extra_context or {}),
            "loans_preview_url": reverse("admin:loans_loan_preview") if may_preview else "",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Sample schedule (minimum amount, minimum term, disbursed today)")
    def sample_schedule(self, obj: LoanProduct | None):
        if obj is None or obj.pk is None:
            return "Save the product to see a sample schedule."
        try:
            schedule = preview_schedule(obj, principal=obj.min_amount, term=obj.min_term)
        except PreviewError as exc:
            return str(exc)
        return _schedule_table(
            [
                (i.number, i.due_date, i.principal, i.interest, i.total, i.balance)
                for i in schedule.installments
            ],
            ("No.", "Due", "Principal", "Interest", "Total", "Balance"),
            totals=(schedule.total_principal, schedule.total_interest, schedule.total_repayment),
        )


@admin.register(ArrearsBucket)
class ArrearsBucketAdmin(ScopedHistoryAdmin):
    list_display = ("code", "name", "min_days", "max_days", "provision_percent")
    ordering = ("min_days",)
