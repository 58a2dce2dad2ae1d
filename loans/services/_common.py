"""Shared pieces of the loan services: permission/branch checks, the locked loan, the timeline."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone

from cooperative.exceptions import ValidationFailed
from cooperative.money import parse_amount
from cooperative.workflow import Transition
from ledger.services import counter_account_id, ensure_gl_account

from ..exceptions import LoanNotFound
from ..lock_objects import loan_for_update
from ..models import Loan, LoanEvent
from ..workflow import LOAN_MACHINE, authorize

ZERO = Decimal("0.00")


def require(actor, perm: str, branch_id=None) -> None:
    """Permission and branch checks. `actor=None` is the system itself (jobs, demo seed)."""
    authorize(actor, perm, branch_id=branch_id)


def find_loan(loan_id) -> Loan:
    """The loan without a lock (a pre-check before a service that locks in its own order)."""
    try:
        loan = Loan.objects.select_related("member", "product").filter(pk=loan_id).first()
    except (ValueError, TypeError, DjangoValidationError):  # an id that is not a UUID
        loan = None
    if loan is None:
        raise LoanNotFound("No such loan.")
    return loan


def locked_loan(loan_id) -> Loan:
    """Re-read the loan under its row lock: never trust a caller's copy."""
    try:
        loan = loan_for_update(loan_id).first()
    except (ValueError, TypeError, DjangoValidationError):  # an id that is not a UUID
        loan = None
    if loan is None:
        raise LoanNotFound("No such loan.")
    return loan


def expect_status(
    loan: Loan, step: str, *, actor=None, state_only: bool = False, authorized: bool = False, **ctx
) -> Transition:
    """Refuse unless the loan's machine (loans/workflow.py) allows `step` now: the permission with the
    loan's branch, the current status, then the step's guards. Raises a DomainError, changes nothing.
    `authorized=True`: the actor's authority comes from the approval level they completed."""
    return LOAN_MACHINE.check(loan, step, actor=actor, state_only=state_only, authorized=authorized, **ctx)


def record_event(
    loan: Loan, *, actor, action: str, from_status: str = "", comment: str = "", metadata=None
) -> LoanEvent:
    return LoanEvent.objects.create(
        loan=loan,
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        from_status=from_status,
        to_status=loan.status,
        comment=(comment or "")[:255],
        metadata=metadata or {},
    )


def save_loan(loan: Loan, reason: str, fields: list[str]) -> None:
    loan._change_reason = reason[:100]
    loan.save(update_fields=[*fields, "updated_at"])


def transition(
    loan: Loan,
    step: str,
    *,
    actor,
    comment: str = "",
    fields=(),
    metadata=None,
    checked: bool = True,
    **ctx,
) -> LoanEvent:
    """Take `step` of the loan's machine: re-assert the table (the full check already ran at the top
    of the service when `checked`), set the status, run the step's on-enter actions, save the changed
    fields and record the event on the timeline."""
    from_status = loan.status
    step_ = LOAN_MACHINE.apply(loan, step, actor=actor, state_only=checked, **ctx)
    action = step_.past_tense().replace(" ", "_")
    save_loan(loan, comment or action, ["status", *fields])
    return record_event(
        loan, actor=actor, action=action, from_status=from_status, comment=comment, metadata=metadata
    )


def clean_reason(reason, *, field: str = "reason", what: str = "a reason") -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed(f"Give {what}.", field=field)
    return text[:255]


def clean_amount(value, *, field: str = "amount") -> Decimal:
    """A positive amount in kobo below 10^15 (Decimal, int or string; never a float): the one parser,
    `cooperative.money.parse_amount`, its refusal named after `field`."""
    try:
        return parse_amount(value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field=field) from None


def today():
    return timezone.localdate()


def gl_id(*, branch_id, gl_code: str):
    """The branch's internal GL account id (created on first use). Looked up each time rather than
    cached per process, so a rolled-back or restored database never leaves a dangling id."""
    return ensure_gl_account(branch_id=branch_id, gl_code=gl_code).pk


def counter_id(*, branch_id, gl_code: str, actor):
    """Where money paid over the counter lands: cash taken by a staff member goes into their till in
    the branch (as every other counter posting), everything else into the branch's GL account."""
    return counter_account_id(branch_id=branch_id, gl_code=gl_code, actor=actor)
