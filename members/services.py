"""Every change to a member: registration, profile updates, KYC decisions, status and exit.

Rules live here, not in the admin or the API. Each function checks the actor's permission and branch,
validates and normalises its input, and writes in one transaction. `actor=None` means the system
itself (demo seed, data migrations); KYC decisions always need a person.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from cooperative.exceptions import Conflict, NotFoundError, ValidationFailed
from cooperative.models import Branch
from cooperative.money import format_amount
from cooperative.permissions import require_permission
from cooperative.sequences import next_value
from ledger.lock_objects import accounts_for_update
from ledger.selectors import member_accounts_with_money
from ledger.services import close_account

from . import identity
from .models import Member
from .workflow import KYC_MACHINE

MEMBER_NUMBER_SEQUENCE = "member_number"
DEFAULT_MINIMUM_AGE = 16
OLDEST_BIRTH_YEAR = 1900

# Fields `update_member` may change. Branch moves, status and KYC have their own rules.
UPDATABLE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "gender",
    "occupation",
    "employer",
    "address",
    "city",
    "state",
    "country",
    "next_of_kin_name",
    "next_of_kin_relationship",
    "next_of_kin_phone",
    "bvn",
    "nin",
)
# Changing any of these on a verified member sends KYC back to PENDING for a new review.
IDENTITY_FIELDS = ("first_name", "last_name", "date_of_birth", "bvn", "nin")
TEXT_LIMITS = {
    "first_name": 80,
    "last_name": 80,
    "occupation": 120,
    "employer": 120,
    "address": 255,
    "city": 80,
    "state": 80,
    "country": 80,
    "next_of_kin_name": 160,
    "next_of_kin_relationship": 60,
}
SETTABLE_STATUSES = (Member.Status.ACTIVE, Member.Status.DORMANT, Member.Status.SUSPENDED)


# --- helpers -----------------------------------------------------------------------------------------
def _require(actor, perm: str, branch_id=None) -> None:
    require_permission(actor, perm, branch_id=branch_id, subject="member", field="branch")


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed("Give a reason.", field="reason")
    if len(text) > 255:
        raise ValidationFailed("Keep the reason under 255 characters.", field="reason")
    return text


def minimum_age() -> int:
    return int(getattr(settings, "MEMBER_MINIMUM_AGE", DEFAULT_MINIMUM_AGE))


def _age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _clean_dob(value) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value))
        except ValueError as exc:
            raise ValidationFailed(
                "Date of birth must be a date (YYYY-MM-DD).", field="date_of_birth"
            ) from exc
    today = timezone.localdate()
    if value > today:
        raise ValidationFailed("Date of birth cannot be in the future.", field="date_of_birth")
    if value.year < OLDEST_BIRTH_YEAR:
        raise ValidationFailed("Date of birth is too far in the past.", field="date_of_birth")
    if _age_on(value, today) < minimum_age():
        raise ValidationFailed(f"Members must be at least {minimum_age()} years old.", field="date_of_birth")
    return value


def _clean_text(name: str, value, *, required: bool = False) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise ValidationFailed(f"{name.replace('_', ' ').capitalize()} is required.", field=name)
    limit = TEXT_LIMITS.get(name)
    if limit and len(text) > limit:
        raise ValidationFailed(f"Keep {name.replace('_', ' ')} under {limit} characters.", field=name)
    return text


EMAIL_MAX_LENGTH = Member._meta.get_field("email").max_length


def _clean_email(value) -> str:
    text = str(value or "").strip().lower()
    if not text:
        return ""
    if len(text) > EMAIL_MAX_LENGTH:  # the column's size: longer would be a database error
        raise ValidationFailed(f"An email address has at most {EMAIL_MAX_LENGTH} characters.", field="email")
    try:
        validate_email(text)
    except DjangoValidationError as exc:
        raise ValidationFailed(f"'{value}' is not a valid email address.", field="email") from exc
    return text


def _clean_gender(value) -> str:
    value = value or Member.Gender.UNSPECIFIED
    if value not in Member.Gender.values:
        raise ValidationFailed(f"Gender must be one of {', '.join(Member.Gender.values)}.", field="gender")
    return value


def _clean_field(name: str, value) -> Any:
    """Normalised value for one member field; raises ValidationFailed naming the field."""
    if name in ("first_name", "last_name"):
        return _clean_text(name, value, required=True)
    if name == "phone":
        if not str(value or "").strip():
            raise ValidationFailed("Phone is required.", field="phone")
        return identity.normalise_phone(value, field="phone")
    if name == "next_of_kin_phone":
        return identity.normalise_phone(value, field=name) if str(value or "").strip() else ""
    if name == "email":
        return _clean_email(value)
    if name == "date_of_birth":
        return _clean_dob(value)
    if name == "gender":
        return _clean_gender(value)
    if name == "country":
        return _clean_text(name, value) or "Nigeria"
    if name == "bvn":
        return identity.clean_identity_number(value, field="bvn", label="BVN") if value else ""
    if name == "nin":
        return identity.clean_identity_number(value, field="nin", label="NIN") if value else ""
    return _clean_text(name, value)


def _apply_identity(member: Member, kind: str, digits: str) -> None:
    protected = identity.protected_identity(digits) if digits else {"encrypted": "", "hash": "", "last4": ""}
    setattr(member, f"{kind}_encrypted", protected["encrypted"])
    setattr(member, f"{kind}_hash", protected["hash"])
    setattr(member, f"{kind}_last4", protected["last4"])


_DUPLICATE_LABELS = {"phone": "phone number", "email": "email address", "bvn": "BVN", "nin": "NIN"}


def _check_duplicates(member: Member) -> None:
    """The same phone, email, BVN or NIN cannot belong to two members who have not exited."""
    others = Member.objects.exclude(status=Member.Status.EXITED)
    if member.pk:
        others = others.exclude(pk=member.pk)
    checks = (
        ("phone", "phone", member.phone),
        ("email", "email", member.email),
        ("bvn", "bvn_hash", member.bvn_hash),
        ("nin", "nin_hash", member.nin_hash),
    )
    for field, column, value in checks:
        if not value:
            continue
        existing = others.filter(**{column: value}).values_list("member_number", flat=True).first()
        if existing:
            raise Conflict(
                f"This {_DUPLICATE_LABELS[field]} already belongs to member {existing}.",
                field=field,
                code="DuplicateMemberIdentity",
            )


def _save_checked(member: Member, **save_kwargs) -> None:
    """Save, turning a unique-constraint race into the same clear duplicate error."""
    try:
        with transaction.atomic():
            member.save(**save_kwargs)
    except IntegrityError as exc:
        _check_duplicates(member)  # names the member that won the race
        raise Conflict(
            "This member's phone, email, BVN or NIN is already in use by another member.",
            code="DuplicateMemberIdentity",
        ) from exc


def _locked_member(member_id) -> Member:
    try:
        return Member.objects.select_for_update(of=("self",)).get(pk=member_id)
    except (Member.DoesNotExist, ValueError, DjangoValidationError) as exc:
        raise NotFoundError("No such member.", field="member") from exc


def _branch_of(branch) -> Branch:
    if isinstance(branch, Branch):
        return branch
    try:
        return Branch.objects.get(pk=branch)
    except (Branch.DoesNotExist, ValueError, DjangoValidationError) as exc:
        raise ValidationFailed("Choose an existing branch.", field="branch") from exc


def _stamp(member: Member, actor, reason: str) -> None:
    member._change_reason = reason[:100]
    if actor is not None:
        member._history_user = actor


# --- use cases ----------------------------------------------------------------------------------------
def register_member(
    *,
    actor,
    branch,
    first_name: str,
    last_name: str,
    phone: str,
    email: str = "",
    date_of_birth: date | None = None,
    gender: str = Member.Gender.UNSPECIFIED,
    occupation: str = "",
    employer: str = "",
    address: str = "",
    city: str = "",
    state: str = "",
    country: str = "Nigeria",
    join_date: date | None = None,
    bvn: str = "",
    nin: str = "",
    next_of_kin_name: str = "",
    next_of_kin_relationship: str = "",
    next_of_kin_phone: str = "",
) -> Member:
    """Register a member in `branch` with the next member number (MEM00001, ...)."""
    branch = _branch_of(branch)
    _require(actor, "members.add_member", branch.pk)
    if branch.status != Branch.Status.ACTIVE:
        raise ValidationFailed(f"{branch} is not active; members cannot join it.", field="branch")
    given = {
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "email": email,
        "date_of_birth": date_of_birth,
        "gender": gender,
        "occupation": occupation,
        "employer": employer,
        "address": address,
        "city": city,
        "state": state,
        "country": country,
        "next_of_kin_name": next_of_kin_name,
        "next_of_kin_relationship": next_of_kin_relationship,
        "next_of_kin_phone": next_of_kin_phone,
    }
    cleaned = {name: _clean_field(name, value) for name, value in given.items()}
    bvn_digits, nin_digits = _clean_field("bvn", bvn), _clean_field("nin", nin)
    today = timezone.localdate()
    join_date = join_date or today
    if join_date > today:
        raise ValidationFailed("Join date cannot be in the future.", field="join_date")

    member = Member(branch=branch, join_date=join_date, created_by=actor, **cleaned)
    _apply_identity(member, "bvn", bvn_digits)
    _apply_identity(member, "nin", nin_digits)
    with transaction.atomic():
        # The sequence row stays locked until commit, so registrations queue here: numbers never
        # repeat, and a failed registration (duplicate below) gives its number back.
        member.member_number = f"MEM{next_value(MEMBER_NUMBER_SEQUENCE):05d}"
        _check_duplicates(member)
        _stamp(member, actor, "registered")
        _save_checked(member, force_insert=True)
    return member


def update_member(*, actor, member_id, **changes) -> Member:
    """Change profile fields. Unknown fields are refused; BVN/NIN are given in clear and stored
    protected. Changing a verified member's identity sends KYC back for review."""
    unknown = sorted(set(changes) - set(UPDATABLE_FIELDS))
    if unknown:
        raise ValidationFailed(f"{unknown[0]} cannot be changed here.", field=unknown[0])
    with transaction.atomic():
        member = _locked_member(member_id)
        _require(actor, "members.change_member", member.branch_id)
        if member.status == Member.Status.EXITED:
            raise Conflict(f"Member {member.member_number} has exited; their record is closed.")
        changed: list[str] = []
        identity_changed = False
        for name, raw in changes.items():
            value = _clean_field(name, raw)
            if name in ("bvn", "nin"):
                new_hash = identity.identity_hash(value) if value else ""
                if new_hash == getattr(member, f"{name}_hash"):
                    continue
                _apply_identity(member, name, value)
                changed += [f"{name}_encrypted", f"{name}_hash", f"{name}_last4"]
            else:
                if value == getattr(member, name):
                    continue
                setattr(member, name, value)
                changed.append(name)
            identity_changed |= name in IDENTITY_FIELDS
        if not changed:
            return member
        reason = "profile updated"
        if identity_changed and KYC_MACHINE.allows(member, "reopen"):
            KYC_MACHINE.apply(member, "reopen")
            member.kyc_reviewed_by = None
            member.kyc_reviewed_at = None
            member.kyc_rejection_reason = ""
            changed += ["kyc_status", "kyc_reviewed_by", "kyc_reviewed_at", "kyc_rejection_reason"]
            reason = "identity changed; KYC back to pending"
        _check_duplicates(member)
        _stamp(member, actor, reason)
        _save_checked(member, update_fields=[*changed, "updated_at"])
    return member


def _decide_kyc(*, actor, member_id, step: str, reason: str) -> Member:
    """Verify or reject, as members/workflow.py allows (permission and branch, state, a named
    reviewer who did not register the member, not exited, an identity on record)."""
    with transaction.atomic():
        member = _locked_member(member_id)
        KYC_MACHINE.apply(member, step, actor=actor)
        member.kyc_reviewed_by = actor
        member.kyc_reviewed_at = timezone.now()
        member.kyc_rejection_reason = reason
        _stamp(member, actor, f"KYC {member.kyc_status.lower()}")
        member.save(
            update_fields=[
                "kyc_status",
                "kyc_reviewed_by",
                "kyc_reviewed_at",
                "kyc_rejection_reason",
                "updated_at",
            ]
        )
    return member


def verify_kyc(*, actor, member_id) -> Member:
    """Mark the member's identity as checked. Four eyes: not by the person who registered them."""
    return _decide_kyc(actor=actor, member_id=member_id, step="verify", reason="")


def reject_kyc(*, actor, member_id, reason: str) -> Member:
    return _decide_kyc(actor=actor, member_id=member_id, step="reject", reason=_reason(reason))


def change_member_status(*, actor, member_id, status: str, reason: str) -> Member:
    """ACTIVE / DORMANT / SUSPENDED, with a reason. Exiting has its own service."""
    if status == Member.Status.EXITED:
        raise ValidationFailed("Use exit to take a member out of the cooperative.", field="status")
    if status not in SETTABLE_STATUSES:
        raise ValidationFailed(f"Status must be one of {', '.join(SETTABLE_STATUSES)}.", field="status")
    reason = _reason(reason)
    with transaction.atomic():
        member = _locked_member(member_id)
        _require(actor, "members.change_member", member.branch_id)
        if member.status == Member.Status.EXITED:
            raise Conflict(f"Member {member.member_number} has exited; their status cannot change.")
        if member.status == status:
            raise Conflict(f"Member {member.member_number} is already {member.get_status_display()}.")
        member.status = status
        member.status_reason = reason
        member.status_changed_at = timezone.now()
        _stamp(member, actor, f"status {status.lower()}")
        member.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    return member


def exit_member(*, actor, member_id, reason: str) -> Member:
    """Take the member out of the cooperative. Refused while any account holds money or a lien.
    Nothing is deleted: accounts, postings and history stay; the phone/email/BVN/NIN become free."""
    reason = _reason(reason)
    with transaction.atomic():
        member = _locked_member(member_id)
        _require(actor, "members.exit_member", member.branch_id)
        if member.status == Member.Status.EXITED:
            raise Conflict(f"Member {member.member_number} has already exited.")
        # Lock the member's accounts (ledger order: by pk) so no posting lands while we look.
        list(accounts_for_update(member.accounts.values_list("pk", flat=True)))
        blocking = list(member_accounts_with_money(member_id=member.pk).order_by("account_number"))
        if blocking:
            described = ", ".join(
                f"{a.account_number} ({a.get_type_display()}: balance {format_amount(a.balance)}"
                + (f", held {format_amount(a.held_amount)}" if a.held_amount else "")
                + ")"
                for a in blocking
            )
            raise Conflict(
                f"Member {member.member_number} cannot exit while accounts hold money: {described}. "
                "Withdraw or settle the balances first.",
                code="MemberHasBalances",
            )
        # The accounts are empty: close them (as the system, on the authority of this exit) so nothing
        # can be posted to an exited member's account.
        for account_id in member.accounts.exclude(status="CLOSED").values_list("pk", flat=True):
            close_account(account_id=account_id, reason=f"Member exited: {reason}", actor=None)
        member.status = Member.Status.EXITED
        member.status_reason = reason
        member.status_changed_at = timezone.now()
        _stamp(member, actor, "exited")
        member.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    return member
