"""Approvals: policies (amount bands → ordered levels), requests on any subject, and decisions.

A policy row is one amount band of one scope (action type + optional branch + optional product): it
matches when `min_amount < amount <= max_amount` (no maximum = no upper limit). Its levels say who
must approve, in order, and how many distinct people per level. A request snapshots the matched
levels, so editing a policy never changes a request already in flight.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cooperative.models import TimeStampedModel, UUIDModel
from cooperative.money import AmountField
from cooperative.money import format_naira as naira

from .registry import action_label


class ApprovalPolicy(TimeStampedModel):
    class OnTimeout(models.TextChoices):
        ESCALATE = "ESCALATE", "Escalate (the escalation roles may decide too)"
        EXPIRE = "EXPIRE", "Expire (the request lapses; the requester must ask again)"

    action_type = models.CharField(
        max_length=40, db_index=True, help_text="What needs approving (loan approval, withdrawal …)."
    )
    branch = models.ForeignKey(
        "cooperative.Branch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="approval_policies",
        help_text="Leave empty for every branch. A branch's own bands win over the all-branches ones.",
    )
    product_ref = models.CharField(
        "product",
        max_length=64,
        blank=True,
        help_text="Leave empty for every product. A product's own bands win over the all-products ones.",
    )
    min_amount = AmountField(
        verbose_name="above (₦)",
        default=0,
        help_text="The band starts just above this amount (exclusive). Amounts at or below the lowest "
        "band of a scope need no approval.",
    )
    max_amount = AmountField(
        verbose_name="up to and including (₦)",
        null=True,
        blank=True,
        help_text="Inclusive upper bound. Leave empty for no upper limit (the highest band must be open).",
    )
    active = models.BooleanField(default=True, help_text="Switch a band off instead of deleting it.")
    remind_after_hours = models.PositiveIntegerField(
        default=24, help_text="Remind the current approvers once after this many hours (0 = never)."
    )
    timeout_after_hours = models.PositiveIntegerField(
        default=72,
        help_text="After this many hours at one level, escalate or expire the request (0 = never).",
    )
    on_timeout = models.CharField(max_length=10, choices=OnTimeout.choices, default=OnTimeout.ESCALATE)
    escalation_roles = models.JSONField(
        default=list,
        blank=True,
        help_text="Roles that may also decide the current level once the request is escalated.",
    )

    history = HistoricalRecords()

    # Policies are configuration (ADMIN edits them): not branch data, so not branch-scoped.

    class Meta:
        verbose_name = "approval policy band"
        verbose_name_plural = "approval policies"
        ordering = ("action_type", "branch__code", "product_ref", "min_amount")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_amount__gte=0), name="approvalpolicy_min_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(max_amount__isnull=True) | models.Q(max_amount__gt=models.F("min_amount")),
                name="approvalpolicy_max_above_min",
            ),
        ]
        indexes = [models.Index(fields=["action_type", "active"], name="approvalpolicy_type_active")]

    def __str__(self) -> str:
        return f"{self.action_label}: {self.scope_label}, {self.band_label}"

    @property
    def action_label(self) -> str:
        return action_label(self.action_type)

    @property
    def scope_label(self) -> str:
        branch = self.branch.code if self.branch_id else "all branches"
        product = self.product_ref or "all products"
        return f"{branch}, {product}"

    @property
    def band_label(self) -> str:
        if self.max_amount is None:
            return f"above {naira(self.min_amount)}"
        return f"above {naira(self.min_amount)} up to {naira(self.max_amount)}"


class ApprovalLevel(models.Model):
    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="levels")
    order = models.PositiveSmallIntegerField(help_text="1 decides first, then 2, …")
    roles = models.JSONField(default=list, help_text="Anyone holding one of these roles may approve.")
    required_approvals = models.PositiveSmallIntegerField(
        default=1, help_text="How many different people of these roles must approve at this level."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ("policy", "order")
        constraints = [
            models.UniqueConstraint(fields=["policy", "order"], name="approvallevel_unique_order"),
            models.CheckConstraint(
                condition=models.Q(required_approvals__gte=1), name="approvallevel_at_least_one"
            ),
            models.CheckConstraint(condition=models.Q(order__gte=1), name="approvallevel_order_positive"),
        ]

    def __str__(self) -> str:
        return f"Level {self.order}: {self.required_approvals} × {' or '.join(self.roles)}"


class ApprovalRequest(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        APPROVED = "APPROVED", "Approved"
        REJECTED = "REJECTED", "Rejected"
        CANCELLED = "CANCELLED", "Cancelled"
        EXPIRED = "EXPIRED", "Expired"

    action_type = models.CharField(max_length=40)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    subject = GenericForeignKey("content_type", "object_id")
    branch = models.ForeignKey(
        "cooperative.Branch", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amount = AmountField(default=0)
    product_ref = models.CharField("product", max_length=64, blank=True)
    title = models.CharField(max_length=200)
    member_display = models.CharField("member", max_length=200, blank=True)
    reason = models.TextField(blank=True, help_text="Why the requester asks.")
    metadata = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_requests"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    policy = models.ForeignKey(
        ApprovalPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    levels = models.JSONField(
        default=list,
        help_text="Snapshot of the levels when requested: [{order, roles, required, permission}].",
    )
    excluded_user_ids = models.JSONField(default=list, blank=True)
    # The current level (1-based), its approver count and roles (copied from `levels`).
    approval_level = models.PositiveSmallIntegerField(default=1)
    required_approvers = models.PositiveSmallIntegerField(default=1)
    approver_roles = models.JSONField(default=list, blank=True)
    approver_permission = models.CharField(
        max_length=100, blank=True, help_text="A fallback level: anyone holding this permission decides."
    )
    # "|MANAGER|ADMIN|" and "|<user id>|…": plain text so the queue filters in SQL on every database.
    approver_roles_key = models.CharField(max_length=400, blank=True, editable=False)
    excluded_key = models.TextField(blank=True, editable=False)
    # Timing of the current level (snapshotted from the policy).
    level_started_at = models.DateTimeField(default=timezone.now)
    remind_at = models.DateTimeField(null=True, blank=True)
    timeout_at = models.DateTimeField(null=True, blank=True)
    on_timeout = models.CharField(
        max_length=10, choices=ApprovalPolicy.OnTimeout.choices, default=ApprovalPolicy.OnTimeout.ESCALATE
    )
    escalation_roles = models.JSONField(default=list, blank=True)
    remind_after_hours = models.PositiveIntegerField(default=0)
    timeout_after_hours = models.PositiveIntegerField(default=0)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_reason = models.TextField(blank=True, help_text="Why it was cancelled or expired.")
    transaction = models.ForeignKey(
        "ledger.JournalEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The journal entry the approved action posted.",
    )

    history = HistoricalRecords()

    branch_scope_field = "branch"

    class Meta:
        ordering = ("created_at",)
        permissions = [("view_branch_approvals", "Can see every approval request of their branches")]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "action_type"],
                condition=models.Q(status="PENDING"),
                name="approvalrequest_one_pending_per_subject",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="approvalrequest_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(approval_level__gte=1), name="approvalrequest_level_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="approvalrequest_queue"),
            models.Index(fields=["branch", "status"], name="approvalrequest_branch_status"),
            models.Index(fields=["content_type", "object_id"], name="approvalrequest_subject"),
            models.Index(fields=["status", "remind_at"], name="approvalrequest_remind"),
            models.Index(fields=["status", "timeout_at"], name="approvalrequest_timeout"),
        ]

    def __str__(self) -> str:
        return f"{self.action_label}: {self.title}"

    @property
    def action_label(self) -> str:
        return action_label(self.action_type)

    @property
    def level_count(self) -> int:
        return len(self.levels) or 1

    @property
    def level_label(self) -> str:
        return f"{self.approval_level} of {self.level_count}"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class Approval(UUIDModel):
    class Decision(models.TextChoices):
        APPROVED = "APPROVED", "Approved"
        REJECTED = "REJECTED", "Rejected"

    request = models.ForeignKey(ApprovalRequest, on_delete=models.PROTECT, related_name="approvals")
    level = models.PositiveSmallIntegerField()
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approvals")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField("time", default=timezone.now)
    via_escalation = models.BooleanField(default=False)

    history = HistoricalRecords()

    branch_scope_field = "request__branch"

    class Meta:
        ordering = ("decided_at",)
        constraints = [
            models.UniqueConstraint(fields=["request", "approver"], name="approval_one_decision_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by {self.approver} (level {self.level})"


class Notice(models.Model):
    """An in-app message on the dashboard (until the notifications app delivers them elsewhere).

    A technical row without history: it is written once and only its read time changes."""

    id = models.BigAutoField(primary_key=True)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=400, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["recipient", "read_at"], name="notice_recipient_unread")]

    def __str__(self) -> str:
        return self.title
