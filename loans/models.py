"""Cooperative lending: products, loans, their schedules, repayments, guarantors and arrears.

A loan's money lives in the ledger: its own LOAN account (debit-normal, member-owned) holds the
principal outstanding; disbursement, repayments, penalties and write-offs are journal entries posted
through `ledger.services.post_entry`. The rows here record the contract (schedule), what was paid
against each installment, and the loan's state.
"""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cooperative.models import TimeStampedModel
from cooperative.money import AmountField

from .schedule import Amortization, DaysInMonth, DaysInYear, Frequency, InterestPeriod, Method, Rounding


def _choices(enum_cls) -> list[tuple[str, str]]:
    return [(member.value, member.value.replace("_", " ").capitalize()) for member in enum_cls]


class LoanProduct(TimeStampedModel):
    class FeeType(models.TextChoices):
        PERCENT = "PERCENT", "Percent of principal"
        FLAT = "FLAT", "Flat amount"

    class PenaltyBasis(models.TextChoices):
        OVERDUE_INSTALLMENT = "OVERDUE_INSTALLMENT", "Overdue installment amount"
        OVERDUE_PRINCIPAL = "OVERDUE_PRINCIPAL", "Overdue principal"

    class PenaltyFrequency(models.TextChoices):
        PER_MONTH = "PER_MONTH", "Per month overdue"
        PER_DAY = "PER_DAY", "Per day overdue"

    class Overpayment(models.TextChoices):
        REDUCE_TERM = "REDUCE_TERM", "Prepay principal, shorten the term"
        REDUCE_INSTALLMENT = "REDUCE_INSTALLMENT", "Prepay principal, lower the installments"
        REFUSE = "REFUSE", "Refuse overpayments"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    # Pricing and limits
    interest_rate = models.DecimalField(
        max_digits=7, decimal_places=4, help_text="Annual rate in percent, e.g. 12.0000 for 12%."
    )
    min_amount = AmountField()
    max_amount = AmountField()
    min_term = models.PositiveSmallIntegerField(help_text="Installments.")
    max_term = models.PositiveSmallIntegerField(help_text="Installments.")

    # Schedule settings (the vocabulary of loans/schedule.py)
    calculation_method = models.CharField(
        max_length=20, choices=_choices(Method), default=Method.REDUCING_BALANCE
    )
    amortization = models.CharField(
        max_length=20, choices=_choices(Amortization), default=Amortization.EQUAL_INSTALLMENTS
    )
    interest_period = models.CharField(
        max_length=20, choices=_choices(InterestPeriod), default=InterestPeriod.SAME_AS_REPAYMENT
    )
    days_in_year = models.CharField(max_length=8, choices=_choices(DaysInYear), default=DaysInYear.ACTUAL)
    days_in_month = models.CharField(max_length=8, choices=_choices(DaysInMonth), default=DaysInMonth.ACTUAL)
    repayment_frequency = models.CharField(
        max_length=12, choices=_choices(Frequency), default=Frequency.MONTHLY
    )
    grace_on_principal = models.PositiveSmallIntegerField(default=0)
    grace_on_interest_payment = models.PositiveSmallIntegerField(default=0)
    interest_free_periods = models.PositiveSmallIntegerField(default=0)
    rounding_mode = models.CharField(max_length=10, choices=_choices(Rounding), default=Rounding.HALF_EVEN)
    installment_multiple = models.DecimalField(
        max_digits=10, decimal_places=2, default="0.01", validators=[MinValueValidator(0.01)]
    )

    # Fees, penalties, allocation
    processing_fee_type = models.CharField(max_length=8, choices=FeeType.choices, default=FeeType.PERCENT)
    processing_fee_value = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    penalty_rate = models.DecimalField(
        max_digits=7, decimal_places=4, default=0, help_text="Percent per penalty period."
    )
    penalty_basis = models.CharField(
        max_length=20, choices=PenaltyBasis.choices, default=PenaltyBasis.OVERDUE_INSTALLMENT
    )
    penalty_frequency = models.CharField(
        max_length=10, choices=PenaltyFrequency.choices, default=PenaltyFrequency.PER_MONTH
    )
    penalty_grace_days = models.PositiveSmallIntegerField(default=0)
    allocation_order = models.CharField(
        max_length=60,
        default="penalty,fee,interest,principal",
        help_text="Comma-separated order in which a repayment pays components, oldest installment first.",
    )
    arrears_tolerance = AmountField(default=0, help_text="Overdue amounts up to this are not arrears.")
    overpayment_policy = models.CharField(
        max_length=20, choices=Overpayment.choices, default=Overpayment.REDUCE_TERM
    )
    auto_debit_savings = models.BooleanField(
        default=False, help_text="End of day collects due installments from the member's savings."
    )

    # Eligibility
    min_membership_months = models.PositiveSmallIntegerField(default=0)
    savings_multiple = models.DecimalField(
        max_digits=6, decimal_places=2, default=0, help_text="Loan ceiling = this × savings (0: no ceiling)."
    )
    ceiling_includes_shares = models.BooleanField(default=False)
    max_active_loans = models.PositiveSmallIntegerField(default=1)
    required_guarantors = models.PositiveSmallIntegerField(default=0)
    guarantor_coverage_percent = models.DecimalField(max_digits=6, decimal_places=2, default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=Q(interest_rate__gt=0, interest_rate__lte=100), name="product_rate_sane"
            ),
            models.CheckConstraint(
                condition=Q(min_amount__gt=0) & Q(max_amount__gte=F("min_amount")), name="product_amounts"
            ),
            models.CheckConstraint(
                condition=Q(min_term__gte=1) & Q(max_term__gte=F("min_term")), name="product_terms"
            ),
            models.CheckConstraint(condition=Q(installment_multiple__gt=0), name="product_multiple_positive"),
            models.CheckConstraint(condition=Q(processing_fee_value__gte=0), name="product_fee_nonnegative"),
            models.CheckConstraint(condition=Q(penalty_rate__gte=0), name="product_penalty_nonnegative"),
            models.CheckConstraint(
                condition=Q(guarantor_coverage_percent__gte=0, guarantor_coverage_percent__lte=100),
                name="product_coverage_percent",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ArrearsBucket(models.Model):
    """Classification table (days past due -> class, provision %). Defaults to the CBN MFB table."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=60)
    min_days = models.PositiveIntegerField()
    max_days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no upper bound.")
    provision_percent = models.DecimalField(max_digits=6, decimal_places=2)

    history = HistoricalRecords()

    class Meta:
        ordering = ("min_days",)
        constraints = [
            models.CheckConstraint(
                condition=Q(max_days__isnull=True) | Q(max_days__gte=F("min_days")), name="bucket_range"
            ),
            models.CheckConstraint(
                condition=Q(provision_percent__gte=0, provision_percent__lte=100), name="bucket_percent"
            ),
        ]

    def __str__(self) -> str:
        upper = f"{self.max_days}" if self.max_days is not None else "+"
        return f"{self.name} ({self.min_days}–{upper} days, {self.provision_percent}%)"


class Loan(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        SUBMITTED = "SUBMITTED", "Submitted"
        APPROVED = "APPROVED", "Approved"
        REJECTED = "REJECTED", "Rejected"
        DISBURSED = "DISBURSED", "Disbursed (active)"
        CLOSED = "CLOSED", "Closed"
        WITHDRAWN = "WITHDRAWN", "Withdrawn by applicant"
        WRITTEN_OFF = "WRITTEN_OFF", "Written off"

    loan_number = models.CharField(max_length=12, unique=True, editable=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="loans")
    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="loans")
    branch = models.ForeignKey("cooperative.Branch", on_delete=models.PROTECT, related_name="loans")
    loan_officer = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="loans_managed"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)
    purpose = models.CharField(max_length=255, blank=True)

    principal = AmountField()
    annual_rate = models.DecimalField(max_digits=7, decimal_places=4)
    term = models.PositiveSmallIntegerField(help_text="Number of installments.")
    schedule_terms = models.JSONField(
        default=dict, blank=True, help_text="The product's schedule settings copied at application."
    )
    processing_fee = AmountField(default=0)
    disbursement_date = models.DateField(null=True, blank=True)
    first_due_date = models.DateField(null=True, blank=True)

    account = models.OneToOneField(
        "ledger.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="loan"
    )
    disbursement_entry = models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    created_by = models.ForeignKey("cooperative.User", null=True, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=255, blank=True)
    disbursed_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    disbursed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    written_off_at = models.DateTimeField(null=True, blank=True)
    written_off_amount = AmountField(default=0, help_text="Principal written off to loan-loss expense.")
    recovered_amount = AmountField(default=0, help_text="Recovered after the write-off.")

    # Kept current by end of day (set-based SQL)
    days_past_due = models.PositiveIntegerField(default=0)
    arrears_amount = AmountField(default=0)
    arrears_bucket = models.ForeignKey(
        ArrearsBucket, null=True, blank=True, on_delete=models.PROTECT, related_name="loans"
    )
    last_end_of_day = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    branch_scope_field = "branch"

    class Meta:
        ordering = ("-created_at",)
        permissions = [
            ("submit_loan", "Can submit a loan application"),
            ("approve_loan", "Can approve or reject a loan"),
            ("disburse_loan", "Can disburse a loan"),
            ("record_repayment", "Can record loan repayments"),
            ("reverse_repayment", "Can reverse a loan repayment"),
            ("write_off_loan", "Can write off a loan"),
            ("recover_from_guarantors", "Can recover a defaulted loan from guarantors"),
            ("view_loan_reports", "Can view loan portfolio reports"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(principal__gt=0), name="loan_principal_positive"),
            models.CheckConstraint(
                condition=Q(annual_rate__gt=0, annual_rate__lte=100), name="loan_rate_sane"
            ),
            models.CheckConstraint(condition=Q(term__gte=1), name="loan_term_positive"),
            models.CheckConstraint(condition=Q(processing_fee__gte=0), name="loan_fee_nonnegative"),
        ]
        indexes = [
            models.Index(fields=["branch", "status"], name="loan_branch_status_idx"),
            models.Index(fields=["member", "status"], name="loan_member_status_idx"),
            models.Index(fields=["status", "days_past_due"], name="loan_status_dpd_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.loan_number} {self.member}"


class LoanSchedule(models.Model):
    """One installment of a loan's contract, and what has been paid against it."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="schedule")
    installment_number = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    principal_amount = AmountField()
    interest_amount = AmountField()
    fee_amount = AmountField(default=0)
    penalty_amount = AmountField(default=0)
    total_amount = AmountField()
    principal_balance = AmountField(help_text="Principal outstanding after this installment.")
    principal_paid = AmountField(default=0)
    interest_paid = AmountField(default=0)
    fee_paid = AmountField(default=0)
    penalty_paid = AmountField(default=0)
    paid_amount = AmountField(default=0)
    is_paid = models.BooleanField(default=False)
    paid_on = models.DateField(null=True, blank=True)
    is_overdue = models.BooleanField(default=False)
    penalty_charged_through = models.DateField(
        null=True, blank=True, help_text="Penalties are charged up to this date (end of day)."
    )

    history = HistoricalRecords()

    branch_scope_field = "loan__branch"

    class Meta:
        ordering = ("loan", "installment_number")
        constraints = [
            models.UniqueConstraint(fields=["loan", "installment_number"], name="schedule_number_unique"),
            models.CheckConstraint(
                condition=Q(
                    principal_amount__gte=0, interest_amount__gte=0, fee_amount__gte=0, penalty_amount__gte=0
                ),
                name="schedule_amounts_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(
                    principal_paid__lte=F("principal_amount"),
                    interest_paid__lte=F("interest_amount"),
                    fee_paid__lte=F("fee_amount"),
                    penalty_paid__lte=F("penalty_amount"),
                ),
                name="schedule_paid_not_above_due",
            ),
        ]
        indexes = [
            models.Index(fields=["due_date", "is_paid"], name="schedule_due_unpaid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} #{self.installment_number} due {self.due_date}"

    @property
    def outstanding(self):
        return self.total_amount - self.paid_amount


class LoanPayment(TimeStampedModel):
    class Source(models.TextChoices):
        CASH = "CASH", "Cash at the counter"
        SAVINGS = "SAVINGS", "From the member's savings"
        BANK = "BANK", "Bank transfer"
        GATEWAY = "GATEWAY", "Payment gateway"
        GUARANTOR = "GUARANTOR", "Recovered from a guarantor"
        AUTO_DEBIT = "AUTO_DEBIT", "End-of-day auto-debit"

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="payments")
    amount = AmountField()
    source = models.CharField(max_length=12, choices=Source.choices)
    payment_date = models.DateField(default=timezone.localdate)
    principal_portion = AmountField(default=0)
    interest_portion = AmountField(default=0)
    fee_portion = AmountField(default=0)
    penalty_portion = AmountField(default=0)
    prepaid_principal = AmountField(default=0, help_text="Overpayment applied to future principal.")
    allocation = models.JSONField(default=list, blank=True, help_text="Per installment and component.")
    journal_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, related_name="loan_payment"
    )
    reversal_entry = models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reference = models.CharField(max_length=80, blank=True, db_index=True)

    history = HistoricalRecords()

    branch_scope_field = "loan__branch"

    class Meta:
        ordering = ("-payment_date", "-created_at")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} on {self.loan_id} ({self.payment_date})"


class Guarantor(TimeStampedModel):
    class Status(models.TextChoices):
        PLEDGED = "PLEDGED", "Pledged"
        ACTIVE = "ACTIVE", "Active (savings on hold)"
        RELEASED = "RELEASED", "Released"
        INVOKED = "INVOKED", "Invoked (recovered from)"
        WITHDRAWN = "WITHDRAWN", "Withdrawn"

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="guarantors")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="guarantees")
    pledged_amount = AmountField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLEDGED)
    hold = models.OneToOneField(
        "ledger.Hold", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recovered_amount = AmountField(default=0)
    created_by = models.ForeignKey("cooperative.User", null=True, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    branch_scope_field = "loan__branch"

    class Meta:
        ordering = ("loan", "created_at")
        constraints = [
            models.UniqueConstraint(fields=["loan", "member"], name="guarantor_once_per_loan"),
            models.CheckConstraint(condition=Q(pledged_amount__gt=0), name="guarantor_pledge_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.member} guarantees {self.pledged_amount} of {self.loan_id}"


class LoanEvent(models.Model):
    """The loan's timeline: every transition with who, when and why."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    comment = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    branch_scope_field = "loan__branch"

    class Meta:
        ordering = ("at", "id")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


class PortfolioSnapshot(models.Model):
    """End-of-day portfolio figures per branch and arrears bucket (for PAR and provisioning history)."""

    date = models.DateField()
    branch = models.ForeignKey("cooperative.Branch", on_delete=models.PROTECT, related_name="+")
    bucket = models.ForeignKey(ArrearsBucket, on_delete=models.PROTECT, related_name="+")
    loan_count = models.PositiveIntegerField(default=0)
    principal_outstanding = AmountField(default=0)
    arrears_amount = AmountField(default=0)
    provision_amount = AmountField(default=0)

    branch_scope_field = "branch"

    class Meta:
        ordering = ("-date", "branch", "bucket")
        constraints = [
            models.UniqueConstraint(fields=["date", "branch", "bucket"], name="snapshot_unique_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.branch_id} {self.bucket_id}"


class EndOfDayRun(models.Model):
    """One row per processed date: makes end of day idempotent and lets a missed day catch up."""

    date = models.DateField(unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    stats = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-date",)

    def __str__(self) -> str:
        return f"End of day {self.date}"
