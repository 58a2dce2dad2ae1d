"""Loans through the approvals app: the one mechanism by which a loan is approved or rejected, and
by which a disbursement or a write-off that a policy covers waits for its approvers.

- Submitting an application asks for a `loan_approval` request (the creator and the submitter are
  excluded from deciding it). Its final approval runs `on_loan_approved`, as the final approver:
  the state machine's "approve" step (four-eyes and guarantor coverage re-checked), with every
  earlier approver's decision and comment written to the loan's timeline. A rejection rejects the
  loan; a cancellation by the requester or an expiry returns it to DRAFT.
- `approve_loan` / `reject_loan` (the loan API and the loan page) decide that same request: they
  are thin wrappers over `approvals.services.decide_approval`, so a multi-level policy applies
  whatever screen the approver uses.
- `loan_disbursement` and `write_off` requests: see disbursement.py and writeoff.py.

Lock order, everywhere: the approval request first, then the loan (decide_approval locks the
request and its callback locks the loan; services that cancel a loan's requests take them in the
same order), so a decision racing an edit waits instead of deadlocking.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.utils import timezone

from approvals import services as approvals
from approvals.models import ApprovalRequest
from approvals.selectors import pending_request_for, requests_for
from cooperative.exceptions import ValidationFailed
from cooperative.money import format_naira

from ..models import Loan, LoanEvent
from ._common import clean_reason, expect_status, find_loan, locked_loan, record_event, transition

LOAN_APPROVAL = "loan_approval"
LOAN_DISBURSEMENT = "loan_disbursement"
WRITE_OFF = "write_off"

# True while a loan service cancels its own loan's requests (an edit, a withdrawal): the
# on_cancelled callback then leaves the loan to that service instead of returning it to DRAFT.
_cancelling_own = ContextVar("loans_cancelling_own_requests", default=False)


def loan_title(loan: Loan, amount=None) -> str:
    shown = format_naira(loan.principal if amount is None else amount)
    return f"Loan {loan.loan_number} · {shown} · {loan.member.full_name}"


def member_display(loan: Loan) -> str:
    return f"{loan.member.member_number} {loan.member.full_name}"


def person(actor):
    return actor if actor is not None and actor.pk else None


def lock_loan_with_requests(loan_id) -> Loan:
    """Lock the loan's pending approval requests, then the loan (the approvals app's order)."""
    loan = find_loan(loan_id)
    list(
        requests_for(subject=loan)
        .filter(status=ApprovalRequest.Status.PENDING)
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    return locked_loan(loan_id)


@contextmanager
def own_cancellation():
    token = _cancelling_own.set(True)
    try:
        yield
    finally:
        _cancelling_own.reset(token)


def cancel_loan_requests(loan: Loan, *, actor, reason: str, action_type: str | None = None) -> int:
    """Cancel the loan's pending requests on the loan's own authority (edit, withdrawal)."""
    with own_cancellation():
        return approvals.cancel_pending_requests_for(
            subject=loan, actor=person(actor), reason=reason[:255], action_type=action_type
        )


def ask_approval(
    loan: Loan,
    *,
    action_type: str,
    requester,
    amount,
    title: str = "",
    reason: str = "",
    metadata: dict | None = None,
    exclude_applicants: bool = True,
) -> ApprovalRequest | None:
    """Open `action_type`'s request about the loan (None: no policy band covers it)."""
    return approvals.request_approval(
        action_type=action_type,
        subject=loan,
        amount=amount,
        branch_id=loan.branch_id,
        requested_by=requester,
        title=title or loan_title(loan),
        member_display=member_display(loan),
        reason=reason,
        product_ref=str(loan.product_id),
        metadata={"loan_number": loan.loan_number, **(metadata or {})},
        excluded_user_ids={loan.created_by_id, loan.submitted_by_id} if exclude_applicants else (),
    )


def request_loan_approval(loan: Loan, *, actor, comment: str = "") -> ApprovalRequest:
    """Ask for the loan_approval request of a SUBMITTED loan (by its submitter). Its reason is the
    loan's purpose, then the submitter's comment (both shown to the approvers as "Reason given")."""
    requester = person(actor) or loan.submitted_by or loan.created_by
    if requester is None:
        raise ValidationFailed("A loan application is submitted by a person.", field="actor")
    request = ask_approval(
        loan,
        action_type=LOAN_APPROVAL,
        requester=requester,
        amount=loan.principal,
        reason="\n".join(part for part in (loan.purpose, comment) if part),
        metadata={"product": loan.product.name, "term": loan.term, "annual_rate": str(loan.annual_rate)},
    )
    if request is None:  # loan_approval is always required; a None would mean nobody decides
        raise ValidationFailed("No approval route exists for loans; ask an administrator.", field="loan")
    return request


def _request_to_decide(loan: Loan) -> ApprovalRequest:
    request = pending_request_for(subject=loan, action_type=LOAN_APPROVAL)
    if request is not None:
        return request
    # A loan submitted before approvals existed: ask now, on its submitter's behalf.
    with transaction.atomic():
        loan = lock_loan_with_requests(loan.pk)
        return pending_request_for(subject=loan, action_type=LOAN_APPROVAL) or request_loan_approval(
            loan, actor=None
        )


def approve_loan(*, actor, loan_id, comment: str = "") -> Loan:
    """Approve the loan's pending loan_approval request as `actor` (its current level).

    The loan becomes APPROVED when this is the request's final approval; until then it stays
    SUBMITTED and the request moves to its next level. Refused (4xx, nothing recorded) for the loan's
    creator or submitter, a second decision by the same person, the wrong role or branch."""
    loan = find_loan(loan_id)
    expect_status(loan, "approve", actor=actor)  # early, clear refusals; re-checked under lock
    request = _request_to_decide(loan)
    approvals.decide_approval(request_id=request.pk, actor=actor, decision="APPROVED", comment=comment)
    return Loan.objects.get(pk=loan.pk)


def reject_loan(*, actor, loan_id, reason: str) -> Loan:
    """Reject the loan's pending loan_approval request (a reason is required): the loan is REJECTED."""
    reason = clean_reason(reason, what="a reason for the rejection")
    loan = find_loan(loan_id)
    expect_status(loan, "reject", actor=actor)
    request = _request_to_decide(loan)
    approvals.decide_approval(request_id=request.pk, actor=actor, decision="REJECTED", comment=reason)
    return Loan.objects.get(pk=loan.pk)


def record_earlier_decisions(loan: Loan, request: ApprovalRequest, *, final_actor) -> None:
    """Every decision of the request before the final one, on the loan's timeline (who, when, why)."""
    levels = request.level_count
    for approval in request.approvals.select_related("approver").order_by("decided_at", "pk"):
        if approval.approver_id == final_actor.pk:
            continue
        LoanEvent.objects.create(
            loan=loan,
            at=approval.decided_at,
            actor=approval.approver,
            action=f"level_{approval.level}_{approval.decision.lower()}",
            from_status=loan.status,
            to_status=loan.status,
            comment=(approval.comment or "")[:255],
            metadata={
                "approval_request": str(request.pk),
                "level": approval.level,
                "levels": levels,
                "decision": approval.decision,
            },
        )


def _final_comment(request: ApprovalRequest, actor) -> str:
    mine = request.approvals.filter(approver=actor).order_by("-decided_at").first()
    return ((mine.comment if mine else "") or "").strip()[:255]


def _decision_metadata(request: ApprovalRequest) -> dict:
    return {
        "approval_request": str(request.pk),
        "level": request.approval_level,
        "levels": request.level_count,
    }


# --- callbacks (registered in loans/apps.py) ------------------------------------------------------


def on_loan_approved(request: ApprovalRequest, actor) -> None:
    """The final approval: the machine's "approve" step, as the final approver."""
    loan = locked_loan(request.object_id)
    expect_status(loan, "approve", actor=actor, authorized=True)
    record_earlier_decisions(loan, request, final_actor=actor)
    loan.decided_by, loan.decided_at = actor, timezone.now()
    loan.decision_reason = _final_comment(request, actor)
    transition(
        loan,
        "approve",
        actor=actor,
        comment=loan.decision_reason,
        fields=["decided_by", "decided_at", "decision_reason"],
        metadata=_decision_metadata(request),
    )


def on_loan_rejected(request: ApprovalRequest, actor, comment: str) -> None:
    loan = locked_loan(request.object_id)
    expect_status(loan, "reject", actor=actor, authorized=True)
    record_earlier_decisions(loan, request, final_actor=actor)
    loan.decided_by, loan.decided_at = actor, timezone.now()
    loan.decision_reason = (comment or "").strip()[:255]
    transition(
        loan,
        "reject",
        actor=actor,
        comment=loan.decision_reason,
        fields=["decided_by", "decided_at", "decision_reason"],
        metadata=_decision_metadata(request),
    )


def on_loan_request_cancelled(request: ApprovalRequest, actor, reason: str) -> None:
    """Cancelled by its requester, or expired: the application goes back to DRAFT."""
    if _cancelling_own.get():
        return
    loan = locked_loan(request.object_id)
    if loan.status != Loan.Status.SUBMITTED:
        return
    what = "expired" if request.status == ApprovalRequest.Status.EXPIRED else "cancelled"
    transition(
        loan,
        "return_to_draft",
        actor=person(actor),
        comment=f"Approval request {what}: {reason}"[:255],
        metadata={"approval_request": str(request.pk)},
    )


def on_side_request_closed(request: ApprovalRequest, actor, comment: str = "") -> None:
    """A disbursement or write-off request that was rejected, cancelled or expired: the loan stays
    as it is; the timeline says what happened and why."""
    if request.status == ApprovalRequest.Status.CANCELLED and _cancelling_own.get():
        return
    loan = locked_loan(request.object_id)
    record_event(
        loan,
        actor=person(actor),
        action=f"{request.action_type}_{request.status.lower()}",
        from_status=loan.status,
        comment=(comment or "")[:255],
        metadata={"approval_request": str(request.pk)},
    )
