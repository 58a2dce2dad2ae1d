"""Members of the cooperative and their KYC.

BVN and NIN are never stored in clear: an encrypted copy (for authorised export to regulators), a
keyed hash (uniqueness and exact search) and the last four digits (display, masked).
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cooperative.models import TimeStampedModel


class Member(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        DORMANT = "DORMANT", "Dormant"
        SUSPENDED = "SUSPENDED", "Suspended"
        EXITED = "EXITED", "Exited"

    class Gender(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        UNSPECIFIED = "U", "Prefer not to say"

    class KycStatus(models.TextChoices):
        PENDING = "PENDING", "Pending"
        VERIFIED = "VERIFIED", "Verified"
        REJECTED = "REJECTED", "Rejected"

    member_number = models.CharField(max_length=12, unique=True, editable=False)
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=16, help_text="E.164, e.g. +2348031234567")
    date_of_birth = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=1, choices=Gender.choices, default=Gender.UNSPECIFIED)
    occupation = models.CharField(max_length=120, blank=True)
    employer = models.CharField(max_length=120, blank=True)
    address = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=80, blank=True)
    state = models.CharField(max_length=80, blank=True)
    country = models.CharField(max_length=80, default="Nigeria")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=255, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    join_date = models.DateField(default=timezone.localdate)
    branch = models.ForeignKey("cooperative.Branch", on_delete=models.PROTECT, related_name="members")

    bvn_encrypted = models.TextField(blank=True, editable=False)
    bvn_hash = models.CharField(max_length=64, blank=True, editable=False)
    bvn_last4 = models.CharField(max_length=4, blank=True, editable=False)
    nin_encrypted = models.TextField(blank=True, editable=False)
    nin_hash = models.CharField(max_length=64, blank=True, editable=False)
    nin_last4 = models.CharField(max_length=4, blank=True, editable=False)

    next_of_kin_name = models.CharField(max_length=160, blank=True)
    next_of_kin_relationship = models.CharField(max_length=60, blank=True)
    next_of_kin_phone = models.CharField(max_length=16, blank=True)

    kyc_status = models.CharField(max_length=10, choices=KycStatus.choices, default=KycStatus.PENDING)
    kyc_reviewed_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kyc_reviewed_at = models.DateTimeField(null=True, blank=True)
    kyc_rejection_reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        "cooperative.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords(excluded_fields=["bvn_encrypted", "nin_encrypted"])

    branch_scope_field = "branch"

    class Meta:
        ordering = ("member_number",)
        permissions = [
            ("verify_kyc", "Can verify or reject a member's KYC"),
            ("exit_member", "Can exit a member from the cooperative"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["phone"], condition=~Q(status="EXITED"), name="member_phone_unique_active"
            ),
            models.UniqueConstraint(
                fields=["email"],
                condition=~Q(status="EXITED") & ~Q(email=""),
                name="member_email_unique_active",
            ),
            models.UniqueConstraint(
                fields=["bvn_hash"],
                condition=~Q(status="EXITED") & ~Q(bvn_hash=""),
                name="member_bvn_unique_active",
            ),
            models.UniqueConstraint(
                fields=["nin_hash"],
                condition=~Q(status="EXITED") & ~Q(nin_hash=""),
                name="member_nin_unique_active",
            ),
        ]
        indexes = [
            models.Index(fields=["phone"], name="member_phone_idx"),
            models.Index(fields=["email"], name="member_email_idx"),
            models.Index(fields=["bvn_hash"], name="member_bvn_idx"),
            models.Index(fields=["nin_hash"], name="member_nin_idx"),
            models.Index(fields=["last_name", "first_name"], name="member_name_idx"),
            models.Index(fields=["branch", "status"], name="member_branch_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.member_number} {self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def bvn_masked(self) -> str:
        return f"*******{self.bvn_last4}" if self.bvn_last4 else ""

    @property
    def nin_masked(self) -> str:
        return f"*******{self.nin_last4}" if self.nin_last4 else ""
