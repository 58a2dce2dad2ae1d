"""Separation of duties, a branch setting (Branch.separate_approve_and_disburse, on by default):
the person who approved a loan does not also disburse it, and the approver of a write-off does not
post a recovery on it the same day. Every route (admin, API, approvals) reaches these checks through
the services (disburse_loan, on_disbursement_approved, record_recovery, recover_from_guarantors)."""

from __future__ import annotations

from django.utils import timezone

from ..exceptions import SeparationOfDuties
from ..models import Loan, LoanEvent
from ._common import today
from .decisions import person

WHY = "separation of duties, branch setting"


def _separated(loan: Loan) -> bool:
    return loan.branch.separate_approve_and_disburse


def refuse_approver_disbursing(loan: Loan, *, actor) -> None:
    """The loan's approver may not disburse it (nor decide its disbursement, which disburses)."""
    someone = person(actor)
    if someone is not None and loan.decided_by_id == someone.pk and _separated(loan):
        raise SeparationOfDuties(
            f"You approved loan {loan.loan_number}; another colleague must disburse it ({WHY}).",
            field="actor",
        )


def refuse_write_off_approver_recovering(loan: Loan, *, actor) -> None:
    """The write-off's approver may not post a recovery on the loan on the day of the write-off."""
    someone = person(actor)
    if someone is None or loan.status != Loan.Status.WRITTEN_OFF or loan.written_off_at is None:
        return
    if timezone.localdate(loan.written_off_at) != today() or not _separated(loan):
        return
    approver_id = (
        LoanEvent.objects.filter(loan=loan, to_status=Loan.Status.WRITTEN_OFF)
        .exclude(from_status=Loan.Status.WRITTEN_OFF)  # the write-off itself, not a later recovery
        .order_by("-at", "-id")
        .values_list("actor_id", flat=True)
        .first()
    )
    if approver_id == someone.pk:
        raise SeparationOfDuties(
            f"You approved the write-off of loan {loan.loan_number} today; another colleague must "
            f"post its recovery ({WHY}).",
            field="actor",
        )
