"""The loan's life as a table: every status change a service makes is checked here first.

loans.services._common.expect_status / transition ask LOAN_MACHINE; the rules that decide whether a
step is possible (who, from which status, on which conditions) live in this file and nowhere else.
docs/workflows.md is generated from it (`python manage.py workflow_docs`).
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from approvals.exceptions import SubjectPendingApproval
from approvals.services import ensure_not_pending
from cooperative.exceptions import ValidationFailed
from cooperative.permissions import require_permission
from cooperative.workflow import StateMachine, Transition, action, guard, register
from ledger.models import Account

from .exceptions import FourEyesViolation, GuarantorRefused, InvalidTransition, LoanNotPermitted, NotEligible
from .guarantees import (
    activate_guarantor_holds,
    reactivate_released_guarantees,
    release_guarantor_holds,
    savings_account_of,
)
from .models import Guarantor, Loan
from .selectors import check_eligibility, required_coverage

S = Loan.Status


def authorize(actor, permission: str, loan: Loan | None = None, *, branch_id=None) -> None:
    """Permission and branch checks. `actor=None` is the system itself (jobs, demo seed)."""
    branch_id = loan.branch_id if loan is not None and branch_id is None else branch_id
    require_permission(
        actor, permission, branch_id=branch_id, error=LoanNotPermitted, subject="loan", field="branch"
    )


# --- guards --------------------------------------------------------------------------------------


@guard("the product is still offered", error=ValidationFailed, field="product")
def product_active(loan: Loan, **ctx) -> str | None:
    if not loan.product.active:
        return f"The product {loan.product.name} is not active."
    return None


@guard(
    "the member is eligible (active, membership, savings ceiling, active loans)",
    error=NotEligible,
    field="member",
)
def member_eligible(loan: Loan, *, eligibility=None, **ctx) -> str | None:
    if eligibility is None:
        eligibility = check_eligibility(
            member=loan.member, product=loan.product, principal=loan.principal, exclude_loan_id=loan.pk
        )
    if not eligibility.eligible:
        return "Not eligible: " + " ".join(eligibility.reasons)
    return None


@guard(
    "guarantor pledges cover the product's number and % of the principal",
    error=GuarantorRefused,
    field="guarantors",
)
def guarantors_cover(loan: Loan, **ctx) -> str | None:
    product = loan.product
    pledges = [g.pledged_amount for g in loan.guarantors.filter(status=Guarantor.Status.PLEDGED)]
    if len(pledges) < product.required_guarantors:
        return (
            f"{product.name} needs {product.required_guarantors} guarantor(s); {len(pledges)} pledged so far."
        )
    needed = required_coverage(loan=loan)
    pledged = sum(pledges, Decimal("0.00"))
    if pledged < needed:
        return (
            f"Guarantors must cover {product.guarantor_coverage_percent}% of the loan ({needed}); "
            f"pledges total {pledged}."
        )
    return None


def _four_eyes_reason(loan: Loan, actor, verb: str) -> str | None:
    if actor is None or not actor.pk:
        return f"A loan is {verb} by a person, not by the system."
    if actor.pk in {loan.created_by_id, loan.submitted_by_id}:
        return (
            f"Four-eyes rule: you created or submitted loan {loan.loan_number}, so someone else must "
            f"decide on it."
        )
    return None


@guard(
    "four-eyes: a person other than the loan's creator and submitter",
    error=FourEyesViolation,
    field="actor",
)
def four_eyes_approve(loan: Loan, *, actor, **ctx) -> str | None:
    return _four_eyes_reason(loan, actor, "approved")


@guard(
    "four-eyes: a person other than the loan's creator and submitter",
    error=FourEyesViolation,
    field="actor",
)
def four_eyes_reject(loan: Loan, *, actor, **ctx) -> str | None:
    return _four_eyes_reason(loan, actor, "rejected")


@guard("not disbursed before (no disbursement entry)", error=InvalidTransition, field="status")
def not_disbursed_before(loan: Loan, **ctx) -> str | None:
    if loan.disbursement_entry_id is not None:
        return f"Loan {loan.loan_number} has already been disbursed."
    return None


@guard(
    "the member has an active savings account to receive the money",
    error=ValidationFailed,
    field="member",
)
def has_active_savings(loan: Loan, **ctx) -> str | None:
    savings = savings_account_of(loan.member)
    if savings is None or savings.status != Account.Status.ACTIVE:
        return f"Member {loan.member.member_number} needs an active savings account to receive the loan."
    return None


@guard("every installment is paid")
def fully_repaid(loan: Loan, *, rows=None, **ctx) -> str | None:
    rows = list(loan.schedule.all()) if rows is None else rows
    if not rows or not all(row.is_paid for row in rows):
        return f"Loan {loan.loan_number} still has unpaid installments."
    return None


@guard(
    "the loan is in default (an installment overdue, or written off)",
    error=InvalidTransition,
    field="status",
)
def in_default(loan: Loan, *, today=None, **ctx) -> str | None:
    if loan.status == S.WRITTEN_OFF:
        return None
    if loan.schedule.filter(is_paid=False, due_date__lt=today or timezone.localdate()).exists():
        return None
    return f"Loan {loan.loan_number} has nothing overdue; guarantors are called only on default."


@guard(
    "no approval request of the loan is pending (the requester cancels it to change the loan)",
    error=SubjectPendingApproval,
)
def no_pending_approval(loan: Loan, **ctx) -> str | None:
    try:
        ensure_not_pending(subject=loan)
    except SubjectPendingApproval as exc:
        return f"Loan {loan.loan_number}: {exc.message}"
    return None


@guard("four-eyes: the approver of a requested write-off is not its requester", error=FourEyesViolation)
def not_the_requester(loan: Loan, *, actor, requested_by_id=None, **ctx) -> str | None:
    if requested_by_id is not None and actor is not None and str(actor.pk) == str(requested_by_id):
        return f"You asked for the write-off of loan {loan.loan_number}; someone else must approve it."
    return None


# --- on-enter actions ------------------------------------------------------------------------------


@action("each guarantor pledge becomes a hold on the guarantor's savings")
def hold_guarantees(loan: Loan, *, actor, **ctx) -> None:
    activate_guarantor_holds(loan, actor=actor)


@action("guarantor pledges and holds are released (WITHDRAWN)")
def withdraw_guarantees(loan: Loan, **ctx) -> None:
    release_guarantor_holds(loan, final_status=Guarantor.Status.WITHDRAWN)


@action("guarantor holds are released (RELEASED)")
def release_guarantees(loan: Loan, **ctx) -> None:
    release_guarantor_holds(loan, final_status=Guarantor.Status.RELEASED)


@action("released guarantees apply again, held in proportion to the principal outstanding")
def restore_guarantees(loan: Loan, *, outstanding: Decimal, **ctx) -> None:
    reactivate_released_guarantees(loan, outstanding=outstanding)


APPLYING = (S.DRAFT, S.SUBMITTED)

LOAN_MACHINE = register(
    StateMachine(
        name="loan",
        model="loans.Loan",
        field="status",
        states=Loan.Status,
        initial=S.DRAFT,
        title="Loan",
        description=(
            "A loan from application to the end of its life. Money moves only in disburse, the "
            "repayments inside DISBURSED, and write-off (journal entries through the ledger); see "
            "docs/loan-lifecycle.md."
        ),
        plural="loans",
        subject=lambda loan: f"Loan {loan.loan_number}",
        authorize=authorize,
        error=InvalidTransition,
        transitions=[
            Transition(
                "edit",
                APPLYING,
                None,
                permission="loans.change_loan",
                verb="changed",
                description=(
                    "Amount, term, first due date and purpose (limits re-checked). On a submitted loan "
                    "the pending approval request is cancelled and a new one asked for the new terms."
                ),
            ),
            Transition(
                "add_guarantor",
                APPLYING,
                None,
                permission="loans.add_guarantor",
                guards=(no_pending_approval,),
                verb="given guarantors",
                description="An active member other than the borrower pledges free savings.",
            ),
            Transition(
                "remove_guarantor",
                APPLYING,
                None,
                permission="loans.delete_guarantor",
                guards=(no_pending_approval,),
                verb="changed",
                description="A pledge is withdrawn while the loan is applied for.",
            ),
            Transition(
                "submit",
                (S.DRAFT,),
                S.SUBMITTED,
                permission="loans.submit_loan",
                guards=(product_active, member_eligible, guarantors_cover),
                verb="submitted",
                description=(
                    "Asks for the loan_approval request (policy levels by amount, branch and product; "
                    "the creator and the submitter can never decide it)."
                ),
            ),
            Transition(
                "return_to_draft",
                (S.SUBMITTED,),
                S.DRAFT,
                verb="returned to draft",
                description=(
                    "Its approval request was cancelled by the requester or expired: the application "
                    "can be changed and submitted again."
                ),
            ),
            Transition(
                "approve",
                (S.SUBMITTED,),
                S.APPROVED,
                permission="loans.approve_loan",
                guards=(four_eyes_approve, guarantors_cover),
                on_enter=(hold_guarantees,),
                verb="approved",
                description=(
                    "Run by the final approval of the loan_approval request, as its last approver; "
                    "every approver's decision and comment goes on the timeline."
                ),
            ),
            Transition(
                "reject",
                (S.SUBMITTED,),
                S.REJECTED,
                permission="loans.approve_loan",
                guards=(four_eyes_reject,),
                verb="rejected",
                description="An approver rejects the loan_approval request, with a reason.",
            ),
            Transition(
                "withdraw",
                (S.DRAFT, S.SUBMITTED, S.APPROVED),
                S.WITHDRAWN,
                permission="loans.change_loan",
                on_enter=(withdraw_guarantees,),
                verb="withdrawn",
                description="The applicant no longer wants the loan.",
            ),
            Transition(
                "disburse",
                (S.APPROVED,),
                S.DISBURSED,
                permission="loans.disburse_loan",
                guards=(not_disbursed_before, no_pending_approval, has_active_savings),
                verb="disbursed",
                description=(
                    "One entry: the loan account is debited, savings credited less the fee. When a "
                    "loan_disbursement policy band matches, the request waits for its approval and the "
                    "final approver disburses."
                ),
            ),
            Transition(
                "close",
                (S.DISBURSED,),
                S.CLOSED,
                guards=(fully_repaid,),
                on_enter=(release_guarantees,),
                verb="closed",
                description="The repayment that pays the last installment closes the loan.",
            ),
            Transition(
                "reopen",
                (S.CLOSED,),
                S.DISBURSED,
                on_enter=(restore_guarantees,),
                verb="reopened",
                description="Reversing a repayment of a closed loan reopens it.",
            ),
            Transition(
                "write_off",
                (S.DISBURSED,),
                S.WRITTEN_OFF,
                permission="loans.write_off_loan",
                guards=(no_pending_approval, not_the_requester),
                verb="written off",
                description=(
                    "A manager asks (reason required) for the write_off request; on its approval the "
                    "principal outstanding goes to loan-loss expense, posted by the approver."
                ),
            ),
            Transition(
                "record_recovery",
                (S.WRITTEN_OFF,),
                None,
                permission="loans.record_repayment",
                verb="recovered",
                description="Money received on a written-off loan, up to what was written off.",
            ),
            Transition(
                "recover_from_guarantors",
                (S.DISBURSED, S.WRITTEN_OFF),
                None,
                permission="loans.recover_from_guarantors",
                guards=(in_default,),
                verb="recovered from guarantors",
                description="Each guarantor's hold is released and up to the guarantee debited.",
            ),
        ],
    )
)
