"""Shapes of the loans API. Serializers check shape; `loans.services` decides.

Money goes out as strings with two decimals and comes in through the ledger API's `AmountField`
(strings or exact JSON numbers, at most two decimals).
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from approvals.selectors import pending_request_for
from cooperative.api.fields import ScopedPrimaryKeyRelatedField
from cooperative.permissions import scope_queryset
from ledger.api.serializers import AmountField, BranchSummarySerializer, MemberSummarySerializer
from members.models import Member

from ..models import Guarantor, Loan, LoanEvent, LoanPayment, LoanProduct, LoanSchedule
from ..selectors import loan_summary


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True, **kwargs)


def _status(choices, **kwargs) -> serializers.ChoiceField:
    """A read-only status. Its values are given as a pattern rather than an enum: an enum here
    would become one more `StatusEnum` component colliding with the other apps' statuses."""
    values = [value for value, _ in choices]

    @extend_schema_field(
        {"type": "string", "pattern": f"^({'|'.join(values)})$", "description": "One of " + ", ".join(values)}
    )
    class InlineChoiceField(serializers.ChoiceField):
        pass

    return InlineChoiceField(choices=choices, read_only=True, **kwargs)


# --- Products -------------------------------------------------------------------------------------


class LoanProductSerializer(serializers.ModelSerializer):
    """Every product setting; amounts and rates as strings."""

    interest_rate = serializers.DecimalField(
        max_digits=7,
        decimal_places=4,
        min_value=0,
        max_value=100,
        coerce_to_string=True,
        help_text="Annual rate in percent (greater than 0, at most 100).",
    )
    min_amount = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=0)
    max_amount = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=0)
    installment_multiple = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        default=Decimal("0.01"),
        help_text="Installments are rounded to this multiple (0.01, 1, 100 ...).",
    )

    class Meta:
        model = LoanProduct
        fields = (
            "id",
            "name",
            "description",
            "active",
            "interest_rate",
            "min_amount",
            "max_amount",
            "min_term",
            "max_term",
            "calculation_method",
            "amortization",
            "interest_period",
            "days_in_year",
            "days_in_month",
            "repayment_frequency",
            "grace_on_principal",
            "grace_on_interest_payment",
            "interest_free_periods",
            "rounding_mode",
            "installment_multiple",
            "processing_fee_type",
            "processing_fee_value",
            "penalty_rate",
            "penalty_basis",
            "penalty_frequency",
            "penalty_grace_days",
            "allocation_order",
            "arrears_tolerance",
            "overpayment_policy",
            "auto_debit_savings",
            "min_membership_months",
            "savings_multiple",
            "ceiling_includes_shares",
            "max_active_loans",
            "required_guarantors",
            "guarantor_coverage_percent",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")

    def validate_interest_rate(self, value):
        if value <= 0:
            raise serializers.ValidationError("The rate must be greater than 0 (percent a year).")
        return value

    def validate_allocation_order(self, value: str) -> str:
        parts = [part.strip() for part in value.split(",")]
        if sorted(parts) != sorted(["penalty", "fee", "interest", "principal"]):
            raise serializers.ValidationError(
                "List penalty, fee, interest and principal once each, comma-separated."
            )
        return ",".join(parts)

    def validate(self, attrs):
        current = self.instance

        def value(name):
            return attrs.get(name, getattr(current, name, None))

        if value("min_amount") is not None and value("min_amount") <= 0:
            raise serializers.ValidationError({"min_amount": "The minimum amount must be above 0."})
        low, high = value("min_amount"), value("max_amount")
        if low is not None and high is not None and high < low:
            raise serializers.ValidationError({"max_amount": "Below the minimum amount."})
        if value("min_term") is not None and value("min_term") < 1:
            raise serializers.ValidationError({"min_term": "At least one installment."})
        low, high = value("min_term"), value("max_term")
        if low is not None and high is not None and high < low:
            raise serializers.ValidationError({"max_term": "Below the minimum term."})
        if value("installment_multiple") is not None and value("installment_multiple") <= 0:
            raise serializers.ValidationError({"installment_multiple": "Must be above 0."})
        coverage = value("guarantor_coverage_percent")
        if coverage is not None and not 0 <= coverage <= 100:
            raise serializers.ValidationError({"guarantor_coverage_percent": "Between 0 and 100."})
        for name in ("processing_fee_value", "penalty_rate", "arrears_tolerance", "savings_multiple"):
            if value(name) is not None and value(name) < 0:
                raise serializers.ValidationError({name: "Must not be negative."})
        return attrs


class SchedulePreviewInputSerializer(serializers.Serializer):
    principal = AmountField(help_text="The loan amount, within the product's limits.")
    term = serializers.IntegerField(min_value=1, max_value=1200, help_text="Number of installments.")
    disbursed_on = serializers.DateField(required=False, help_text="Default: today.")
    first_due_on = serializers.DateField(required=False, help_text="Default: one period after disbursement.")


class InstallmentSerializer(serializers.Serializer):
    """One row of `manage.py loan_schedule --json`."""

    number = serializers.IntegerField()
    due_date = serializers.DateField()
    principal = serializers.CharField(help_text='Amount as a string, e.g. "8884.88".')
    interest = serializers.CharField()
    total = serializers.CharField()
    balance = serializers.CharField(help_text="Principal outstanding after this installment.")


# --- Loans ----------------------------------------------------------------------------------------


class ProductSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = LoanProduct
        fields = ("id", "name")
        read_only_fields = fields


class LoanSerializer(serializers.ModelSerializer):
    member = MemberSummarySerializer(read_only=True)
    product = ProductSummarySerializer(read_only=True)
    branch = BranchSummarySerializer(read_only=True)
    principal = _money()
    processing_fee = _money()
    arrears_amount = _money()
    arrears_bucket = serializers.SlugRelatedField(slug_field="code", read_only=True)
    loan_officer = serializers.SlugRelatedField(slug_field="email", read_only=True)
    status = _status(Loan.Status.choices)

    class Meta:
        model = Loan
        fields = (
            "id",
            "loan_number",
            "status",
            "member",
            "product",
            "branch",
            "loan_officer",
            "purpose",
            "principal",
            "annual_rate",
            "term",
            "processing_fee",
            "disbursement_date",
            "first_due_date",
            "days_past_due",
            "arrears_amount",
            "arrears_bucket",
            "decision_reason",
            "submitted_at",
            "decided_at",
            "disbursed_at",
            "closed_at",
            "written_off_at",
            "created_at",
        )
        read_only_fields = fields


class LoanSummarySerializer(serializers.Serializer):
    principal_outstanding = _money()
    total_due = _money(help_text="Everything on the schedule: principal, interest, fees, penalties.")
    total_paid = _money()
    overdue_amount = _money()
    next_due_date = serializers.DateField(allow_null=True)
    next_due_amount = _money(allow_null=True)
    installments_paid = serializers.IntegerField()
    installments = serializers.IntegerField()


class PendingApprovalSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    action_type = serializers.CharField(help_text="loan_approval, loan_disbursement or write_off.")
    level = serializers.IntegerField(source="approval_level")
    levels = serializers.IntegerField(source="level_count")
    required_approvers = serializers.IntegerField(help_text="Distinct approvals needed at this level.")
    approver_roles = serializers.ListField(child=serializers.CharField())


class LoanDetailSerializer(LoanSerializer):
    summary = serializers.SerializerMethodField()
    pending_approval = serializers.SerializerMethodField(
        help_text="The approval request the loan waits for (decide it at /approvals/{id}/decide/), or null."
    )

    class Meta(LoanSerializer.Meta):
        fields = (*LoanSerializer.Meta.fields, "summary", "pending_approval")
        read_only_fields = fields

    @extend_schema_field(PendingApprovalSerializer(allow_null=True))
    def get_pending_approval(self, obj: Loan) -> dict | None:
        request = pending_request_for(subject=obj)
        return PendingApprovalSerializer(request).data if request is not None else None

    @extend_schema_field(LoanSummarySerializer)
    def get_summary(self, obj: Loan) -> dict:
        return LoanSummarySerializer(loan_summary(obj)).data


class LoanCreateSerializer(serializers.Serializer):
    member = serializers.PrimaryKeyRelatedField(
        queryset=Member.objects.all(), pk_field=serializers.UUIDField(), help_text="Borrower (member id)."
    )
    product = serializers.PrimaryKeyRelatedField(
        queryset=LoanProduct.objects.all(), pk_field=serializers.UUIDField(), help_text="Loan product id."
    )
    principal = AmountField(help_text="Loan amount, within the product's limits.")
    term = serializers.IntegerField(min_value=1, max_value=1200, help_text="Number of installments.")
    purpose = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    first_due_date = serializers.DateField(required=False, allow_null=True, default=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["member"].queryset = scope_queryset(Member.objects.all(), request.user)


class CommentInputSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class DisburseInputSerializer(serializers.Serializer):
    disbursement_date = serializers.DateField(required=False, allow_null=True, default=None)
    first_due_date = serializers.DateField(required=False, allow_null=True, default=None)


class ScheduleRowSerializer(serializers.ModelSerializer):
    number = serializers.IntegerField(source="installment_number", read_only=True)
    principal = _money(source="principal_amount")
    interest = _money(source="interest_amount")
    fee = _money(source="fee_amount")
    penalty = _money(source="penalty_amount")
    total = _money(source="total_amount")
    balance = _money(source="principal_balance")
    principal_paid = _money()
    interest_paid = _money()
    fee_paid = _money()
    penalty_paid = _money()
    paid_amount = _money()

    class Meta:
        model = LoanSchedule
        fields = (
            "number",
            "due_date",
            "principal",
            "interest",
            "fee",
            "penalty",
            "total",
            "balance",
            "principal_paid",
            "interest_paid",
            "fee_paid",
            "penalty_paid",
            "paid_amount",
            "is_paid",
            "paid_on",
            "is_overdue",
        )
        read_only_fields = fields


class RepaymentSerializer(serializers.ModelSerializer):
    amount = _money()
    principal_portion = _money()
    interest_portion = _money()
    fee_portion = _money()
    penalty_portion = _money()
    prepaid_principal = _money(help_text="Overpayment applied to future principal.")
    journal_entry = serializers.SlugRelatedField(slug_field="reference", read_only=True)
    received_by = serializers.SlugRelatedField(slug_field="email", read_only=True)
    reversed = serializers.SerializerMethodField()

    class Meta:
        model = LoanPayment
        fields = (
            "id",
            "amount",
            "source",
            "payment_date",
            "principal_portion",
            "interest_portion",
            "fee_portion",
            "penalty_portion",
            "prepaid_principal",
            "reference",
            "journal_entry",
            "received_by",
            "reversed",
            "reversed_at",
            "created_at",
        )
        read_only_fields = fields

    def get_reversed(self, obj: LoanPayment) -> bool:
        return obj.reversed_at is not None


class RepaymentInputSerializer(serializers.Serializer):
    SOURCES = (
        (LoanPayment.Source.CASH, LoanPayment.Source.CASH.label),
        (LoanPayment.Source.SAVINGS, LoanPayment.Source.SAVINGS.label),
        (LoanPayment.Source.BANK, LoanPayment.Source.BANK.label),
    )
    amount = AmountField()
    source = serializers.ChoiceField(choices=SOURCES, default=LoanPayment.Source.CASH)
    payment_date = serializers.DateField(required=False, allow_null=True, default=None)
    reference = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")


class GuarantorSerializer(serializers.ModelSerializer):
    member = MemberSummarySerializer(read_only=True)
    pledged_amount = _money()
    recovered_amount = _money()
    status = _status(Guarantor.Status.choices)

    class Meta:
        model = Guarantor
        fields = ("id", "member", "pledged_amount", "status", "recovered_amount", "created_at")
        read_only_fields = fields


class GuarantorInputSerializer(serializers.Serializer):
    # Only members the caller can see (a member of another branch is "not found", like a wrong id).
    member = ScopedPrimaryKeyRelatedField(
        queryset=Member.objects.all(),
        pk_field=serializers.UUIDField(),
        help_text="Guarantor (member id), in a branch you can see.",
        error_messages={"does_not_exist": "No member with id {pk_value} in the branches you can see."},
    )
    amount = AmountField(help_text="Pledged amount, at most the guarantor's free savings.")


class SettlementQuoteSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    principal = _money()
    interest = _money()
    fees = _money()
    penalties = _money()
    total = _money(help_text="Pay this on `as_of` to close the loan.")


class LoanEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="email", read_only=True)

    class Meta:
        model = LoanEvent
        fields = ("at", "actor", "action", "from_status", "to_status", "comment")
        read_only_fields = fields


class ReportColumnSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField(help_text="text, int, money or percent.")


class LoanReportSerializer(serializers.Serializer):
    report = serializers.CharField()
    title = serializers.CharField()
    subtitle = serializers.CharField()
    scope = serializers.CharField(help_text="The branches the figures cover.")
    columns = ReportColumnSerializer(many=True)
    rows = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField(allow_null=True)),
        help_text="One object per row, keyed by column key; numbers and amounts as strings.",
    )
    totals = serializers.DictField(child=serializers.CharField(allow_null=True), allow_null=True)
