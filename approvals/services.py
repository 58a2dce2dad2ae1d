"""Every state change of an approval request: ask, decide, cancel, remind, escalate, expire.

The rules live here, not in the screens: the requester and the people a domain excludes (e.g. the
loan's creator) never decide; one person decides a request once; the decider holds a role of the
current level (or the fallback permission) and sees the request's branch; a rejection ends the
request; the final approval runs the action type's `on_approved` exactly once, inside the same
transaction (the request row is locked with SELECT ... FOR UPDATE, so of two simultaneous
deciders one wins and the other gets a 409 naming the winner).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cooperative.audit import record_event
from cooperative.exceptions import DomainError, ValidationFailed
from cooperative.models import AuditLog

from . import registry
from .exceptions import (
    AlreadyDecided,
    ApprovalRequestNotFound,
    CommentRequired,
    DuplicatePendingRequest,
    InvalidDecision,
    NotRequester,
    SubjectPendingApproval,
    UnknownActionType,
)
from .formatting import naira
from .models import Approval, ApprovalPolicy, ApprovalRequest
from .notices import notify
from .selectors import (
    current_roles,
    decision_blocker,
    eligible_approvers,
    ids_key,
    matching_policy,
    pending_request_for,
    roles_key,
    user_roles,
)

log = logging.getLogger(__name__)
Status = ApprovalRequest.Status
Decision = Approval.Decision


def _action(code: str) -> registry.ActionType:
    try:
        return registry.get_action(code)
    except LookupError as exc:
        raise UnknownActionType(str(exc), field="action_type") from exc


def decide_url(request: ApprovalRequest) -> str:
    try:
        return reverse("admin:approvals_approvalrequest_decide", args=[request.pk])
    except NoReverseMatch:  # the admin is not mounted (e.g. an API-only deployment)
        return ""


def _levels_of(policy: ApprovalPolicy | None, action: registry.ActionType) -> list[dict]:
    if policy is None:
        return [{"order": 1, "roles": [], "required": 1, "permission": action.fallback_permission or ""}]
    return [
        {
            "order": level.order,
            "roles": list(level.roles),
            "required": level.required_approvals,
            "permission": "",
        }
        for level in sorted(policy.levels.all(), key=lambda lvl: lvl.order)
    ]


def _enter_level(request: ApprovalRequest, number: int) -> None:
    """Point the request at level `number` (1-based) of its snapshot and restart the level's clock."""
    level = request.levels[number - 1]
    now = timezone.now()
    request.approval_level = number
    request.required_approvers = level["required"]
    request.approver_roles = level["roles"]
    request.approver_permission = level.get("permission", "")
    request.approver_roles_key = roles_key(level["roles"])
    request.level_started_at = now
    request.reminded_at = None
    request.escalated_at = None
    remind, timeout = request.remind_after_hours, request.timeout_after_hours
    request.remind_at = now + timedelta(hours=remind) if remind else None
    request.timeout_at = now + timedelta(hours=timeout) if timeout else None


def _save(request: ApprovalRequest, reason: str, *fields: str) -> None:
    request._change_reason = reason
    request.save(update_fields=[*fields, "updated_at"])


_LEVEL_FIELDS = (
    "approval_level",
    "required_approvers",
    "approver_roles",
    "approver_permission",
    "approver_roles_key",
    "level_started_at",
    "reminded_at",
    "escalated_at",
    "remind_at",
    "timeout_at",
)


def _audit(request: ApprovalRequest, *, actor, event_detail: dict) -> None:
    http_request = getattr(HistoricalRecords.context, "request", None)
    record_event(
        AuditLog.Event.APPROVAL_DECISION,
        request=http_request,
        user=actor,
        detail={
            "approval_request": str(request.pk),
            "action_type": request.action_type,
            "title": request.title,
            "amount": str(request.amount),
            **event_detail,
        },
    )


def _describe(request: ApprovalRequest) -> str:
    parts = [request.title]
    if naira(request.amount) not in request.title:
        parts.append(naira(request.amount))
    if request.member_display and request.member_display not in request.title:
        parts.append(request.member_display)
    if request.branch_id:
        parts.append(str(request.branch))
    return " · ".join(parts)


def _notify_approvers(request: ApprovalRequest, title: str) -> None:
    notify(eligible_approvers(request), title, _describe(request), decide_url(request))


def _notify_requester(request: ApprovalRequest, title: str, body: str = "") -> None:
    notify([request.requested_by], title, body or _describe(request), decide_url(request))


# --- asking ---------------------------------------------------------------------------------------


@transaction.atomic
def request_approval(
    *,
    action_type: str,
    subject,
    amount: Decimal,
    branch_id,
    requested_by,
    title: str,
    member_display: str = "",
    reason: str = "",
    product_ref: str = "",
    metadata: dict | None = None,
    excluded_user_ids=(),
) -> ApprovalRequest | None:
    """Open a PENDING request when a policy band (or the action's always-required fallback)
    applies; None means no approval is needed and the caller acts at once."""
    action = _action(action_type)
    amount = Decimal(amount)
    if amount < 0:
        raise ValidationFailed("The amount to approve cannot be negative.", field="amount")
    if subject is None or subject.pk is None:
        raise ValidationFailed("An approval request needs a saved subject.", field="subject")
    policy = matching_policy(
        action_type=action_type, amount=amount, branch_id=branch_id, product_ref=product_ref or ""
    )
    if policy is None and not action.always_required:
        return None
    levels = _levels_of(policy, action)
    if not levels:  # a band saved without levels (the admin refuses it): never approve by default
        levels = (
            _levels_of(None, action)
            if action.fallback_permission
            else [{"order": 1, "roles": ["ADMIN"], "required": 1, "permission": ""}]
        )
    if pending_request_for(subject=subject, action_type=action_type) is not None:
        raise DuplicatePendingRequest(
            f"{action.label} of {title} is already waiting for approval.", field="subject"
        )
    excluded = sorted({str(pk) for pk in excluded_user_ids if pk} - {str(requested_by.pk)})
    meta = dict(metadata or {})
    request = ApprovalRequest(
        action_type=action_type,
        content_type=ContentType.objects.get_for_model(subject),
        object_id=str(subject.pk),
        branch_id=branch_id,
        amount=amount,
        product_ref=product_ref or "",
        title=title[:200],
        member_display=member_display[:200],
        reason=reason,
        metadata=meta,
        requested_by=requested_by,
        policy=policy,
        levels=levels,
        excluded_user_ids=excluded,
        excluded_key=ids_key([*excluded, requested_by.pk]),
        on_timeout=policy.on_timeout if policy else ApprovalPolicy.OnTimeout.ESCALATE,
        escalation_roles=list(policy.escalation_roles) if policy else [],
        remind_after_hours=policy.remind_after_hours if policy else 0,
        timeout_after_hours=policy.timeout_after_hours if policy else 0,
    )
    _enter_level(request, 1)
    request._change_reason = "requested"
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError as exc:  # a racing duplicate got in first (one PENDING per subject)
        raise DuplicatePendingRequest(
            f"{action.label} of {title} is already waiting for approval.", field="subject"
        ) from exc
    _notify_approvers(request, f"Approval needed: {action.label}")
    return request


# --- deciding ------------------------------------------------------------------------------------


def _locked(request_id) -> ApprovalRequest:
    try:
        return ApprovalRequest.objects.select_for_update(of=("self",)).get(pk=request_id)
    except (ApprovalRequest.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise ApprovalRequestNotFound("No such approval request.") from exc


def decide_approval(*, request_id, actor, decision: str, comment: str = "") -> ApprovalRequest:
    """Record `actor`'s decision; advance, finish (running on_approved once) or end the request."""
    decision = (decision or "").strip().upper()
    comment = (comment or "").strip()
    if decision not in Decision.values:
        raise InvalidDecision("The decision is APPROVED or REJECTED.", field="decision")
    if decision == Decision.REJECTED and not comment:
        raise CommentRequired("Say why you reject it: a comment is required.", field="comment")
    with transaction.atomic():
        request = _locked(request_id)
        blocker = decision_blocker(request, actor)
        if blocker is not None:
            error, message = blocker
            raise error(message)
        action = _action(request.action_type)
        level = request.approval_level
        by_level_role = bool(user_roles(actor) & set(request.approver_roles)) or bool(
            request.approver_permission and actor.has_perm(request.approver_permission)
        )
        Approval.objects.create(
            request=request,
            level=level,
            approver=actor,
            decision=decision,
            comment=comment,
            via_escalation=not by_level_role,
        )
        _audit(request, actor=actor, event_detail={"decision": decision, "level": level, "comment": comment})
        now = timezone.now()
        if decision == Decision.REJECTED:
            request.status, request.completed_at, request.closed_by = Status.REJECTED, now, actor
            _save(request, f"rejected by {actor}", "status", "completed_at", "closed_by")
            if action.on_rejected is not None:
                action.on_rejected(request, actor, comment)
            _notify_requester(
                request, f"Rejected: {request.action_label}", f"{_describe(request)}\n{actor}: {comment}"
            )
            return request
        approvals_here = request.approvals.filter(level=level, decision=Decision.APPROVED).count()
        if approvals_here < request.required_approvers:
            _save(request, f"approved by {actor} (level {level})")
            _notify_requester(
                request,
                f"{request.action_label}: {approvals_here} of {request.required_approvers} approvals "
                f"at level {request.level_label}",
            )
            return request
        if level < request.level_count:
            _enter_level(request, level + 1)
            _save(request, f"level {level} complete", *_LEVEL_FIELDS)
            _notify_approvers(
                request, f"Approval needed: {request.action_label} (level {request.level_label})"
            )
            _notify_requester(
                request, f"{request.action_label}: level {level} approved, now level {request.level_label}"
            )
            return request
        request.status, request.completed_at, request.closed_by = Status.APPROVED, now, actor
        _save(request, f"approved by {actor}", "status", "completed_at", "closed_by")
        action.on_approved(request, actor)  # a DomainError here rolls the whole decision back
        _notify_requester(request, f"Approved: {request.action_label}")
        return request


def record_result(request: ApprovalRequest, entry) -> ApprovalRequest:
    """Link the journal entry the approved action posted (domains call this from on_approved)."""
    request.transaction = entry
    _save(request, "result recorded", "transaction")
    return request


# --- cancelling ----------------------------------------------------------------------------------


def _close(request: ApprovalRequest, *, status: str, actor, reason: str) -> None:
    request.status, request.completed_at = status, timezone.now()
    request.closed_by, request.close_reason = actor, reason
    _save(request, f"{status.lower()}: {reason}"[:100], "status", "completed_at", "closed_by", "close_reason")
    action = registry.find_action(request.action_type)
    if action is not None and action.on_cancelled is not None:
        action.on_cancelled(request, actor, reason)


def cancel_approval_request(*, request_id, actor, reason: str = "") -> ApprovalRequest:
    """The requester withdraws a pending request."""
    with transaction.atomic():
        request = _locked(request_id)
        if request.status != Status.PENDING:
            raise AlreadyDecided(decision_blocker(request, actor)[1])
        if request.requested_by_id != actor.pk:
            raise NotRequester("Only the person who asked for this approval can cancel it.")
        approvers = eligible_approvers(request)
        _close(request, status=Status.CANCELLED, actor=actor, reason=(reason or "").strip() or "withdrawn")
        notify(approvers, f"Withdrawn: {request.action_label}", _describe(request), decide_url(request))
        return request


def cancel_pending_requests_for(*, subject, actor, reason: str, action_type: str | None = None) -> int:
    """Cancel the subject's pending requests (a domain edit, e.g. a changed amount); returns how many."""
    queryset = ApprovalRequest.objects.filter(
        content_type=ContentType.objects.get_for_model(subject),
        object_id=str(subject.pk),
        status=Status.PENDING,
    )
    if action_type:
        queryset = queryset.filter(action_type=action_type)
    cancelled = 0
    with transaction.atomic():
        for request in queryset.order_by("pk").select_for_update(of=("self",)):
            approvers = eligible_approvers(request)
            _close(request, status=Status.CANCELLED, actor=actor, reason=reason)
            notify(
                [*approvers, request.requested_by],
                f"Cancelled: {request.action_label}",
                f"{_describe(request)}\n{reason}",
                decide_url(request),
            )
            cancelled += 1
    return cancelled


def ensure_not_pending(*, subject, action_type: str | None = None) -> None:
    """Refuse (409) a change to a subject whose approval is pending."""
    pending = pending_request_for(subject=subject, action_type=action_type)
    if pending is not None:
        raise SubjectPendingApproval(
            f"{pending.action_label} is waiting for approval (level {pending.level_label}); it cannot "
            "change until it is decided or cancelled."
        )


# --- reminders, escalation, expiry (Celery beat, hourly) ----------------------------------------


def send_due_reminders(*, now=None) -> int:
    """Remind the current approvers once, `remind_after_hours` into a level. Idempotent."""
    now = now or timezone.now()
    due = ApprovalRequest.objects.filter(
        status=Status.PENDING, remind_at__lte=now, reminded_at__isnull=True
    ).values_list("pk", flat=True)
    sent = 0
    for request_id in list(due):
        with transaction.atomic():
            request = _locked(request_id)
            if request.status != Status.PENDING or request.reminded_at or not request.remind_at:
                continue
            if request.remind_at > now:
                continue
            _notify_approvers(request, f"Reminder: {request.action_label} is waiting for you")
            request.reminded_at = now
            _save(request, "reminded", "reminded_at")
            sent += 1
    return sent


def handle_timeouts(*, now=None) -> dict[str, int]:
    """Past `timeout_after_hours` at one level: escalate (once) or expire. Idempotent; one
    transaction per request, so one failure does not stop the rest."""
    now = now or timezone.now()
    due = ApprovalRequest.objects.filter(status=Status.PENDING, timeout_at__lte=now).values_list(
        "pk", flat=True
    )
    counts = {"escalated": 0, "expired": 0, "failed": 0}
    for request_id in list(due):
        try:
            outcome = _handle_timeout(request_id, now)
        except DomainError:
            log.exception("Approval request %s: timeout handling refused", request_id)
            counts["failed"] += 1
            continue
        if outcome:
            counts[outcome] += 1
    return counts


def _handle_timeout(request_id, now) -> str | None:
    with transaction.atomic():
        request = _locked(request_id)
        if request.status != Status.PENDING or not request.timeout_at or request.timeout_at > now:
            return None
        if request.on_timeout == ApprovalPolicy.OnTimeout.ESCALATE and request.escalation_roles:
            if request.escalated_at:
                return None
            request.escalated_at = now
            request.approver_roles_key = roles_key(current_roles(request))
            _save(request, "escalated", "escalated_at", "approver_roles_key")
            _notify_approvers(request, f"Escalated to you: {request.action_label}")
            _notify_requester(request, f"Escalated: {request.action_label}")
            return "escalated"
        if request.on_timeout == ApprovalPolicy.OnTimeout.ESCALATE:
            return None  # nobody to escalate to: keep waiting (the reminder went out)
        approvers = eligible_approvers(request)
        hours = round((request.timeout_at - request.level_started_at).total_seconds() / 3600)
        _close(request, status=Status.EXPIRED, actor=None, reason=f"nobody decided within {hours} hours")
        notify(
            [*approvers, request.requested_by],
            f"Expired: {request.action_label}",
            f"{_describe(request)}\nNobody decided within {hours} hours; ask again if still needed.",
            decide_url(request),
        )
        return "expired"


def process_deadlines(*, now=None) -> dict[str, int]:
    """What the hourly beat task runs."""
    return {"reminded": send_due_reminders(now=now), **handle_timeouts(now=now)}


__all__ = [
    "cancel_approval_request",
    "cancel_pending_requests_for",
    "decide_approval",
    "ensure_not_pending",
    "handle_timeouts",
    "process_deadlines",
    "record_result",
    "request_approval",
    "send_due_reminders",
]
