"""The ground floor: staff users, branches and the append-only audit log.

Every domain row that belongs to a branch is scoped through `cooperative.permissions`; these models
import no domain app.
"""

import uuid
from typing import TYPE_CHECKING, ClassVar

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


class UUIDModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta:
        abstract = True


class TimeStampedModel(UUIDModel):
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Branch(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        INACTIVE = "INACTIVE", "Inactive"

    name = models.CharField(max_length=120)
    code = models.CharField(max_length=10, unique=True, help_text="Short code, e.g. MB001.")
    address = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=80, blank=True)
    state = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    separate_approve_and_disburse = models.BooleanField(
        "separate approving from disbursing",
        default=True,
        help_text="Separation of duties: whoever approved a loan cannot also disburse it, and whoever "
        "approved a write-off cannot post a recovery on that loan the same day.",
    )

    history = HistoricalRecords()

    # Scoping: a branch is visible to the staff who belong to it.
    branch_scope_field = "pk"

    class Meta:
        ordering = ("code",)
        verbose_name_plural = "branches"
        permissions = [("view_all_branches", "Can see and act on every branch's data")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


if TYPE_CHECKING:
    _UserManagerBase = BaseUserManager["User"]
else:  # not subscriptable at run time
    _UserManagerBase = BaseUserManager


class UserManager(_UserManagerBase):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if not (extra["is_staff"] and extra["is_superuser"]):
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin, UUIDModel):
    """A member of staff or a partner system's API user. The email is the login."""

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        SUSPENDED = "SUSPENDED", "Suspended"
        LEFT = "LEFT", "Left the cooperative"

    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    branches = models.ManyToManyField(Branch, blank=True, related_name="staff")
    is_staff = models.BooleanField(
        default=False, help_text="Can log into the admin (staff). Partner API users leave it off."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords(excluded_fields=["password", "last_login"])

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    branch_scope_field = "branches"

    class Meta:
        ordering = ("email",)
        permissions = [
            ("manage_roles", "Can change other users' roles, branches and individual permissions"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip().lower()
        # A suspended or departed person cannot log in, whatever is_active said.
        if self.status != self.Status.ACTIVE:
            self.is_active = False
        super().save(*args, **kwargs)

    @property
    def can_sign_in(self) -> bool:
        """Active and not suspended or departed, however either flag was set (save() keeps them in
        step, but a QuerySet.update() of `status` alone does not)."""
        return bool(self.is_active) and self.status == self.Status.ACTIVE

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email


class AuditLog(models.Model):
    """Append-only record of security events that are not model changes."""

    class Event(models.TextChoices):
        LOGIN_SUCCESS = "LOGIN_SUCCESS", "Login succeeded"
        LOGIN_FAILURE = "LOGIN_FAILURE", "Login failed"
        LOGOUT = "LOGOUT", "Logout"
        LOCKOUT = "LOCKOUT", "Locked out"
        TOKEN_ISSUED = "TOKEN_ISSUED", "API token issued"
        TOKEN_REFUSED = "TOKEN_REFUSED", "API token refused"
        PERMISSION_DENIED = "PERMISSION_DENIED", "Permission denied"
        MFA_ENROLLED = "MFA_ENROLLED", "MFA device enrolled"
        MFA_FAILURE = "MFA_FAILURE", "MFA code rejected"
        EXPORT = "EXPORT", "Data exported"
        APPROVAL_DECISION = "APPROVAL_DECISION", "Approval decision"
        ACCESS_CHANGED = "ACCESS_CHANGED", "Roles, branches or permissions changed"
        CHANGE_REQUEST = "CHANGE_REQUEST", "Change made (admin or API)"
        OTHER = "OTHER", "Other"

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    event = models.CharField(max_length=32, choices=Event.choices, db_index=True)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_logs"
    )
    username = models.CharField(max_length=254, blank=True, help_text="Login name as typed.")
    branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_logs"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    path = models.CharField(max_length=400, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    branch_scope_field = "branch"

    class Meta:
        ordering = ("-created_at", "-id")
        permissions = [("view_audit_log", "Can read the audit log")]
        indexes = [models.Index(fields=["user", "created_at"], name="auditlog_user_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.event} {self.username}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit log rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit log rows are append-only.")


class Sequence(models.Model):
    """Named gap-free counters (member numbers, account serials), incremented under a row lock."""

    name = models.CharField(max_length=60, primary_key=True)
    last_value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.last_value}"


class IdempotencyRecord(models.Model):
    """The first response to a money-moving request, replayed for the same Idempotency-Key.

    The row is inserted in the same transaction as the posting, so a racing duplicate blocks on
    the unique key until the first commits and then replays its response instead of posting again.
    """

    id = models.BigAutoField(primary_key=True)
    # Indexed by the (user, key) unique constraint.
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", db_index=False)
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=255, help_text="Method and path the key was used on.")
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.scope})"
