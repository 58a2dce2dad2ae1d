"""Reads: who may decide what, the queue, and the cheap "does this need approval?" check."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q, QuerySet

from cooperative.authz import user_authz
from cooperative.models import User
from cooperative.permissions import check_branch_allowed, scope_queryset, sees_all_branches, user_branch_ids
from cooperative.roles import ADMIN

from . import registry
from .exceptions import AlreadyDecided, NotPermitted, SelfApprovalForbidden
from .models import Approval, ApprovalPolicy, ApprovalRequest
from .policies import Band, matching_band

VIEW_BRANCH_APPROVALS = "approvals.view_branch_approvals"
POLICY_VERSION_KEY = "approvals:policy-version"
POLICY_TABLE_KEY = "approvals:policy-table"
POLICY_TABLE_TIMEOUT = 3600  # seconds; the version check makes it exact, the timeout bounds memory


# --- roles and eligibility ----------------------------------------------------------------------


def user_roles(user) -> frozenset[str]:
    """The user's role names (Groups); a superuser counts as ADMIN. Cached on the user object."""
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_approval_roles_cache", None)
    if cached is None:
        authz = user_authz(user)  # the shared cache of groups/permissions/branches (no query when warm)
        names = set(authz.group_names) if authz is not None else set()
        if user.is_superuser:
            names.add(ADMIN)
        cached = frozenset(names)
        user._approval_roles_cache = cached
    return cached


def current_roles(request: ApprovalRequest) -> list[str]:
    """Roles that may decide the current level (escalation roles too once escalated)."""
    roles = list(request.approver_roles)
    if request.escalated_at:
        roles += [role for role in request.escalation_roles if role not in roles]
    return roles


def roles_key(roles) -> str:
    return "|" + "|".join(sorted(set(roles))) + "|" if roles else ""


def ids_key(ids) -> str:
    return "|" + "|".join(sorted({str(i) for i in ids})) + "|" if ids else ""


def _holds_current_level(request: ApprovalRequest, user) -> bool:
    if user_roles(user) & set(current_roles(request)):
        return True
    return bool(request.approver_permission and user.has_perm(request.approver_permission))


def _closed_sentence(request: ApprovalRequest) -> str:
    status = ApprovalRequest.Status
    when = f" on {request.completed_at:%d %b %Y %H:%M}" if request.completed_at else ""
    if request.status in (status.APPROVED, status.REJECTED):
        last = request.approvals.select_related("approver").order_by("-decided_at").first()
        who = f" by {last.approver}" if last else ""
        return f"This request was already {request.get_status_display().lower()}{who}{when}."
    if request.status == status.CANCELLED:
        who = f" by {request.closed_by}" if request.closed_by_id else ""
        return f"This request was cancelled{who}{when}."
    return f"This request expired{when}: nobody decided it in time."


def decision_blocker(request: ApprovalRequest, user) -> tuple[type[Exception], str] | None:
    """Why `user` may not decide `request` now (exception class + a sentence for the screen), or
    None when they may. The service raises it; the decision page shows the sentence."""
    if request.status != ApprovalRequest.Status.PENDING:
        return AlreadyDecided, _closed_sentence(request)
    if not user or not user.is_authenticated or not user.is_active:
        return NotPermitted, "Sign in with an active account to decide."
    if request.requested_by_id == user.pk:
        return SelfApprovalForbidden, (
            "You asked for this approval, so someone else must decide it (four-eyes rule)."
        )
    if str(user.pk) in {str(i) for i in request.excluded_user_ids}:
        return SelfApprovalForbidden, (
            f"You prepared this {request.action_label.lower()}, so someone else must decide it "
            "(four-eyes rule)."
        )
    earlier = request.approvals.filter(approver=user).first()
    if earlier is not None:
        return NotPermitted, (
            f"You already {earlier.get_decision_display().lower()} this request at level {earlier.level}; "
            "each person decides a request once."
        )
    if not check_branch_allowed(user, request.branch_id):
        branch = request.branch or "no branch"
        return NotPermitted, f"This request belongs to {branch}, which is not one of your branches."
    if not _holds_current_level(request, user):
        needed = " or ".join(current_roles(request)) or f"the permission {request.approver_permission}"
        held = ", ".join(sorted(user_roles(user))) or "no role"
        return NotPermitted, (f"Level {request.level_label} needs {needed}; you hold {held}.")
    return None


def can_decide(request: ApprovalRequest, user) -> bool:
    return decision_blocker(request, user) is None


def eligible_approvers(request: ApprovalRequest) -> list[User]:
    """The people who may decide the current level now (for notices)."""
    if request.status != ApprovalRequest.Status.PENDING:
        return []
    roles = current_roles(request)
    condition = Q(groups__name__in=roles) if roles else Q(pk__in=[])
    if ADMIN in roles:
        condition |= Q(is_superuser=True)
    if request.approver_permission:
        app_label, codename = request.approver_permission.split(".", 1)
        condition |= Q(is_superuser=True)
        condition |= Q(
            user_permissions__codename=codename, user_permissions__content_type__app_label=app_label
        )
        condition |= Q(
            groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label
        )
    candidates = User.objects.filter(condition, is_active=True).distinct().order_by("email")
    return [user for user in candidates if can_decide(request, user)]


# --- the queue ----------------------------------------------------------------------------------


def requests_awaiting(user) -> QuerySet[ApprovalRequest]:
    """Pending requests `user` may decide now, oldest first. One query on the (status, created_at)
    index; the rules match `decision_blocker` (tested against it)."""
    if not user or not user.is_authenticated or not user.is_active:
        return ApprovalRequest.objects.none()
    roles = user_roles(user)
    may = Q(pk__in=[])
    for role in sorted(roles):
        may |= Q(approver_roles_key__contains=f"|{role}|")
    if user.is_superuser:
        may |= ~Q(approver_permission="")
    else:
        perms = sorted(user.get_all_permissions())
        if perms:
            may |= Q(approver_permission__in=perms)
    already = Approval.objects.filter(request=OuterRef("pk"), approver=user)
    queryset = (
        ApprovalRequest.objects.filter(may, status=ApprovalRequest.Status.PENDING)
        .exclude(requested_by=user)
        .exclude(excluded_key__contains=f"|{user.pk}|")
        .exclude(Exists(already))
    )
    if not sees_all_branches(user):
        queryset = queryset.filter(branch_id__in=user_branch_ids(user))
    return queryset.order_by("created_at", "pk")


def awaiting_count(user) -> int:
    return requests_awaiting(user).count()


def requests_visible_to(user) -> QuerySet[ApprovalRequest]:
    """Requests the user may read: their branches' requests (deciders, auditors), otherwise their
    own requests plus those they may decide. Out-of-scope rows simply are not there (404)."""
    queryset = scope_queryset(ApprovalRequest.objects.all(), user)
    if not user.has_perm(VIEW_BRANCH_APPROVALS):
        queryset = queryset.filter(Q(requested_by=user) | Q(pk__in=requests_awaiting(user).values("pk")))
    return queryset.select_related("branch", "requested_by", "content_type")


def pending_request_for(*, subject, action_type: str | None = None) -> ApprovalRequest | None:
    queryset = ApprovalRequest.objects.filter(
        content_type=ContentType.objects.get_for_model(subject),
        object_id=str(subject.pk),
        status=ApprovalRequest.Status.PENDING,
    )
    if action_type:
        queryset = queryset.filter(action_type=action_type)
    return queryset.order_by("created_at").first()


def requests_for(*, subject, action_type: str | None = None) -> QuerySet[ApprovalRequest]:
    """Every request about `subject`, oldest first (for a timeline)."""
    queryset = ApprovalRequest.objects.filter(
        content_type=ContentType.objects.get_for_model(subject), object_id=str(subject.pk)
    )
    if action_type:
        queryset = queryset.filter(action_type=action_type)
    return queryset.order_by("created_at")


# --- policies -----------------------------------------------------------------------------------


def active_bands(action_type: str) -> QuerySet[ApprovalPolicy]:
    return ApprovalPolicy.objects.filter(action_type=action_type, active=True)


def _band(policy_row: dict) -> Band:
    branch_id = policy_row["branch_id"]
    return Band(
        id=policy_row["id"],
        branch_id=str(branch_id) if branch_id else None,
        product_ref=policy_row["product_ref"],
        min_amount=policy_row["min_amount"],
        max_amount=policy_row["max_amount"],
    )


_BAND_FIELDS = ("id", "action_type", "branch_id", "product_ref", "min_amount", "max_amount")


def matching_policy(
    *, action_type: str, amount: Decimal, branch_id, product_ref: str = ""
) -> ApprovalPolicy | None:
    """The policy band (with its levels) that governs this amount, read from the database."""
    bands = [_band(row) for row in active_bands(action_type).values(*_BAND_FIELDS)]
    band = matching_band(bands, amount=amount, branch_id=branch_id, product_ref=product_ref)
    if band is None:
        return None
    return ApprovalPolicy.objects.prefetch_related("levels").get(pk=band.id)


def policies_changed() -> None:
    """Invalidate the cached policy table (called after any policy or level change commits)."""
    cache.set(POLICY_VERSION_KEY, uuid.uuid4().hex, None)


# This process's copy of the table, valid while the shared version in the cache is unchanged: every
# call still reads the version (one small cache GET), so a change made by any process is seen at once.
_local_table: tuple[str | None, dict] = (None, {})


def _policy_table() -> dict[str, list[Band]]:
    global _local_table
    version = cache.get(POLICY_VERSION_KEY)
    if version is None:
        cache.add(POLICY_VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(POLICY_VERSION_KEY)
    local_version, local_bands = _local_table
    if version is not None and local_version == version:
        return local_bands
    table = cache.get(POLICY_TABLE_KEY)
    if table is not None and table.get("version") == version:
        bands = table["bands"]
    else:
        # Rebuild, tagged with the version read *before* the query: a change committed meanwhile
        # bumps the version, so a table built from older rows is never taken as current.
        bands = {}
        for row in ApprovalPolicy.objects.filter(active=True).values(*_BAND_FIELDS):
            bands.setdefault(row["action_type"], []).append(_band(row))
        cache.set(POLICY_TABLE_KEY, {"version": version, "bands": bands}, POLICY_TABLE_TIMEOUT)
    _local_table = (version, bands)
    return bands


def approval_required(*, action_type: str, amount: Decimal, branch_id, product_ref: str = "") -> bool:
    """Cheap: one small cache GET (the policy version) when warm; no database query."""
    try:
        action = registry.get_action(action_type)
    except LookupError:
        action = None
    if action is not None and action.always_required:
        return True
    bands = _policy_table().get(action_type, [])
    return (
        matching_band(bands, amount=Decimal(amount), branch_id=branch_id, product_ref=product_ref) is not None
    )


def approval_checker(*, action_type: str):
    """`approval_required` in two steps: the cache round trip now, the decision later without any
    I/O, e.g. on a row the caller has locked meanwhile (the ledger's posting gate), so no lock is
    held across the cache call. Returns `required(amount=, branch_id=, product_ref="") -> bool`."""
    try:
        action = registry.get_action(action_type)
    except LookupError:
        action = None
    if action is not None and action.always_required:
        return lambda *, amount, branch_id, product_ref="": True
    bands = _policy_table().get(action_type, [])

    def required(*, amount, branch_id, product_ref: str = "") -> bool:
        band = matching_band(bands, amount=Decimal(amount), branch_id=branch_id, product_ref=product_ref)
        return band is not None

    return required
