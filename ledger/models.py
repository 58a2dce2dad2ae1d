"""The double-entry core.

Every movement of money is one `JournalEntry` with two or more `Transaction` legs whose debits equal
credits. `Account.balance` is a cache of the account's legs, kept in the account's natural sign:
debit-normal accounts (cash, bank, loans receivable, expenses) grow with debits; credit-normal
accounts (member savings and shares, income, suspense) grow with credits. Only
`ledger.services.post_entry` writes legs and balances; legs are append-only (corrections are
reversing entries), enforced in code, in the admin and by a PostgreSQL trigger.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cooperative.models import TimeStampedModel, UUIDModel
from cooperative.money import AmountField


class Side(models.TextChoices):
    DEBIT = "DEBIT", "Debit"
    CREDIT = "CREDIT", "Credit"


class AccountType(models.TextChoices):
    # Member-owned
    SAVINGS = "SAVINGS", "Savings"
    SHARES = "SHARES", "Shares"
    CASH = "CASH", "Cash (member)"
    LOAN = "LOAN", "Loan"
    # Internal general-ledger accounts
    TELLER_CASH = "TELLER_CASH", "Teller cash"
    BANK = "BANK", "Bank"
    GATEWAY_CLEARING = "GATEWAY_CLEARING", "Payment gateway clearing"
    LOANS_RECEIVABLE = "LOANS_RECEIVABLE", "Loans receivable (control)"
    INTEREST_INCOME = "INTEREST_INCOME", "Interest income"
    FEE_INCOME = "FEE_INCOME", "Fee income"
    PENALTY_INCOME = "PENALTY_INCOME", "Penalty income"
    EXPENSE = "EXPENSE", "Expense"
    LOAN_LOSS_PROVISION = "LOAN_LOSS_PROVISION", "Loan-loss provision"
    SUSPENSE = "SUSPENSE", "Suspense"


MEMBER_ACCOUNT_TYPES = (AccountType.SAVINGS, AccountType.SHARES, AccountType.CASH, AccountType.LOAN)
DEBIT_NORMAL_TYPES = (
    AccountType.LOAN,
    AccountType.TELLER_CASH,
    AccountType.BANK,
    AccountType.GATEWAY_CLEARING,
    AccountType.LOANS_RECEIVABLE,
    AccountType.EXPENSE,
)


class Account(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        FROZEN = "FROZEN", "Frozen"
        CLOSED = "CLOSED", "Closed"

    account_number = models.CharField(max_length=10, unique=True, editable=False)
    name = models.CharField(max_length=160)
    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    type = models.CharField(max_length=24, choices=AccountType.choices)
    normal_balance = models.CharField(max_length=6, choices=Side.choices, editable=False)
    gl_code = models.CharField(
        max_length=40, blank=True, help_text="Internal accounts: stable code, e.g. TELLER_CASH."
    )
    till_teller = models.ForeignKey(
        "cooperative.User",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tills",
        help_text="Teller cash only: the staff member whose till (cash drawer) this is. "
        "Empty for the branch's vault.",
    )
    currency = models.CharField(max_length=3, default="NGN")
    branch = models.ForeignKey("cooperative.Branch", on_delete=models.PROTECT, related_name="accounts")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=255, blank=True)
    balance = AmountField(default=0, editable=False)
    held_amount = AmountField(default=0, editable=False, help_text="Liens, e.g. guarantor pledges.")
    minimum_balance = AmountField(default=0)
    daily_withdrawal_limit = AmountField(null=True, blank=True, help_text="Empty: no daily limit.")
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # The legs are the balance's history; keep the cached balance out of the audit trail.
    history = HistoricalRecords(excluded_fields=["balance"])

    branch_scope_field = "branch"

    class Meta:
        ordering = ("account_number",)
        permissions = [
            ("post_transaction", "Can post deposits and withdrawals"),
            ("transfer_funds", "Can transfer between member accounts"),
            ("reverse_transaction", "Can reverse a posted journal entry"),
            ("freeze_account", "Can freeze and unfreeze accounts"),
            ("close_account", "Can close accounts"),
            ("manage_holds", "Can place and release holds"),
            ("manage_tills", "Can move cash between the vault and tellers' tills"),
            ("export_statement", "Can export account statements"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(held_amount__gte=0), name="account_held_nonnegative"),
            models.CheckConstraint(condition=Q(minimum_balance__gte=0), name="account_minimum_nonnegative"),
            models.CheckConstraint(
                condition=Q(daily_withdrawal_limit__isnull=True) | Q(daily_withdrawal_limit__gt=0),
                name="account_daily_limit_positive",
            ),
            models.CheckConstraint(
                condition=(Q(type__in=[t.value for t in MEMBER_ACCOUNT_TYPES]) & Q(member__isnull=False))
                | (~Q(type__in=[t.value for t in MEMBER_ACCOUNT_TYPES]) & Q(member__isnull=True)),
                name="account_member_iff_member_type",
            ),
            # One account per GL code and branch (for teller cash: the vault), plus one till per
            # teller and branch.
            models.UniqueConstraint(
                fields=["branch", "gl_code"],
                condition=Q(member__isnull=True, till_teller__isnull=True),
                name="account_gl_code_unique",
            ),
            models.UniqueConstraint(
                fields=["branch", "till_teller"],
                condition=Q(till_teller__isnull=False),
                name="account_one_till_per_teller",
            ),
            models.CheckConstraint(
                condition=Q(till_teller__isnull=True) | Q(type="TELLER_CASH", gl_code="TELLER_CASH"),
                name="account_till_is_teller_cash",
            ),
            # A member has one open savings and one open shares account.
            models.UniqueConstraint(
                fields=["member", "type"],
                condition=Q(type__in=["SAVINGS", "SHARES"]) & ~Q(status="CLOSED"),
                name="account_one_open_savings_shares",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "type"], name="account_member_type_idx"),
            models.Index(fields=["branch", "type"], name="account_branch_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_number} {self.name}"

    @property
    def is_member_account(self) -> bool:
        return self.member_id is not None

    @property
    def available_balance(self):
        """What the member can take out: balance − holds − product minimum."""
        return self.balance - self.held_amount - self.minimum_balance


class JournalEntry(UUIDModel):
    class Kind(models.TextChoices):
        DEPOSIT = "DEPOSIT", "Deposit"
        WITHDRAWAL = "WITHDRAWAL", "Withdrawal"
        TRANSFER = "TRANSFER", "Transfer"
        REVERSAL = "REVERSAL", "Reversal"
        SWEEP = "SWEEP", "Closing sweep"
        OPENING = "OPENING", "Opening balance"
        LOAN_DISBURSEMENT = "LOAN_DISBURSEMENT", "Loan disbursement"
        LOAN_REPAYMENT = "LOAN_REPAYMENT", "Loan repayment"
        INTEREST = "INTEREST", "Interest"
        FEE = "FEE", "Fee"
        PENALTY = "PENALTY", "Penalty"
        WRITE_OFF = "WRITE_OFF", "Write-off"
        GATEWAY = "GATEWAY", "Gateway settlement"
        TILL_TRANSFER = "TILL_TRANSFER", "Cash between vault and tills"
        ADJUSTMENT = "ADJUSTMENT", "Adjustment"

    reference = models.CharField(max_length=40, unique=True, editable=False)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    narration = models.CharField(max_length=255)
    value_date = models.DateField(default=timezone.localdate, db_index=True)
    posted_at = models.DateTimeField(default=timezone.now, db_index=True)
    posted_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Indexed by entry_branch_posted_idx (branch first).
    branch = models.ForeignKey(
        "cooperative.Branch", on_delete=models.PROTECT, related_name="journal_entries", db_index=False
    )
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    reversal_reason = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    branch_scope_field = "branch"

    class Meta:
        ordering = ("-posted_at",)
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["branch", "posted_at"], name="entry_branch_posted_idx")]

    def __str__(self) -> str:
        return f"{self.reference} {self.get_kind_display()}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Journal entries are immutable; reverse the entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Journal entries cannot be deleted; reverse the entry instead.")


class Transaction(UUIDModel):
    """One leg of a journal entry."""

    class Status(models.TextChoices):
        POSTED = "POSTED", "Posted"

    class Reconciliation(models.TextChoices):
        UNRECONCILED = "UNRECONCILED", "Unreconciled"
        RECONCILED = "RECONCILED", "Reconciled"

    # Every leg insert updates each index of this table, so the composite indexes below stand in
    # for the single-column ones of the foreign keys (account, branch) and none is kept for the
    # people columns (looked up only when a user is deleted, which staff accounts never are).
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="legs")
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="transactions", db_index=False
    )
    branch = models.ForeignKey(
        "cooperative.Branch", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    type = models.CharField(max_length=6, choices=Side.choices)
    amount = AmountField()
    balance_after = AmountField(help_text="The account's balance just after this leg.")
    description = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=40)  # indexed below (exact matches only)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.POSTED)
    value_date = models.DateField(default=timezone.localdate)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    metadata = models.JSONField(default=dict, blank=True)
    # The only fields that may change after posting (bank reconciliation).
    reconciliation_status = models.CharField(
        max_length=12, choices=Reconciliation.choices, default=Reconciliation.UNRECONCILED
    )
    reconciled_at = models.DateTimeField(null=True, blank=True)
    reconciled_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    branch_scope_field = "branch"
    RECONCILIATION_FIELDS = ("reconciliation_status", "reconciled_at", "reconciled_by")

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="leg_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["account", "created_at", "id"], name="leg_account_time_idx"),
            models.Index(fields=["account", "value_date"], name="leg_account_value_date_idx"),
            models.Index(fields=["branch", "created_at"], name="leg_branch_time_idx"),
            models.Index(fields=["reference"], name="leg_reference_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.type} {self.amount}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if not update_fields or set(update_fields) - set(self.RECONCILIATION_FIELDS):
                raise PermissionError("Posted transactions are immutable; reverse the entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Posted transactions cannot be deleted; reverse the entry instead.")


class Hold(TimeStampedModel):
    """A lien on part of an account's balance (guarantor pledges, disputed amounts)."""

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        RELEASED = "RELEASED", "Released"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount = AmountField(help_text="What is still held.")
    original_amount = AmountField()
    reason = models.CharField(max_length=255)
    reference = models.CharField(max_length=80, blank=True, db_index=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    released_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    branch_scope_field = "account__branch"

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="hold_amount_nonnegative"),
            models.CheckConstraint(condition=Q(original_amount__gt=0), name="hold_original_positive"),
            models.CheckConstraint(
                condition=Q(amount__lte=models.F("original_amount")), name="hold_not_above_original"
            ),
        ]

    def __str__(self) -> str:
        return f"Hold {self.amount} on {self.account_id} ({self.reason})"


class PostingRequest(TimeStampedModel):
    """A withdrawal, transfer or cash deposit waiting for approval (the subject of its
    `ApprovalRequest`).

    Keeps what the teller asked for, so the final approval posts exactly that through the normal
    services (`ledger.approval_actions`), once: the posting's idempotency key is derived from this
    row's id. While a withdrawal or transfer waits, a hold reserves the amount on the paying account,
    so the money cannot be spent meanwhile; the hold is released on rejection, cancellation or
    expiry and consumed by the posting. A deposit holds nothing (no money leaves the account)."""

    class Kind(models.TextChoices):
        WITHDRAWAL = "WITHDRAWAL", "Withdrawal"
        TRANSFER = "TRANSFER", "Transfer"
        DEPOSIT = "DEPOSIT", "Deposit"

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending approval"
        # A cash withdrawal approved while the requester's till could not pay it: its amount stays
        # held until a teller of the branch pays it out from their till (`pay_approved_withdrawal`).
        APPROVED = "APPROVED", "Approved, ready to pay"
        POSTED = "POSTED", "Posted"
        REJECTED = "REJECTED", "Rejected"
        CANCELLED = "CANCELLED", "Cancelled"
        EXPIRED = "EXPIRED", "Expired"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="posting_requests")
    to_account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Transfers."
    )
    amount = AmountField()
    description = models.CharField(max_length=255, blank=True)
    channel = models.CharField(max_length=8, blank=True, help_text="Withdrawals: cash or bank.")
    branch = models.ForeignKey("cooperative.Branch", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey("cooperative.User", on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        unique=True,
        help_text="The requester's key: a replay finds it.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    hold = models.OneToOneField(Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="posting_request"
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    branch_scope_field = "branch"

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="postingrequest_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["PENDING", "APPROVED", "POSTED", "REJECTED", "CANCELLED", "EXPIRED"]),
                name="postingrequest_status_valid",
            ),
            models.CheckConstraint(
                condition=(Q(kind="TRANSFER") & Q(to_account__isnull=False))
                | (Q(kind__in=["WITHDRAWAL", "DEPOSIT"]) & Q(to_account__isnull=True)),
                name="postingrequest_transfer_has_destination",
            ),
            models.CheckConstraint(
                condition=(Q(status="POSTED") & Q(entry__isnull=False))
                | (~Q(status="POSTED") & Q(entry__isnull=True)),
                name="postingrequest_posted_iff_entry",
            ),
        ]
        indexes = [models.Index(fields=["account", "status"], name="postingrequest_account_status")]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} of {self.amount} from {self.account_id} ({self.get_status_display()})"
        )

    @property
    def approval_key(self) -> str:
        """The idempotency key of the posting the final approval makes (never posts twice)."""
        return f"posting-request:{self.pk}"
