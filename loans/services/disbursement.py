"""Disbursement: one balanced entry, the loan's own LOAN account, the stored schedule."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from approvals import services as approvals
from approvals.selectors import approval_required
from cooperative.exceptions import ValidationFailed
from ledger import services as ledger
from ledger.models import JournalEntry, Side

from ..exceptions import InvalidTransition
from ..guarantees import savings_account_of
from ..models import Loan, LoanSchedule
from ..schedule import build_schedule
from ..selectors import loan_schedule_terms
from ._common import ZERO, expect_status, gl_id, locked_loan, record_event, require, today, transition
from .decisions import LOAN_DISBURSEMENT, ask_approval, person
from .duties import refuse_approver_disbursing


@transaction.atomic
def disburse_loan(*, actor, loan_id, disbursement_date: date | None = None, first_due_date=None) -> Loan:
    """APPROVED -> DISBURSED, exactly once (re-checked under the loan's row lock).

    Posts one entry: DEBIT the loan's LOAN account with the principal; CREDIT the member's savings with
    principal − processing fee; CREDIT fee income with the fee. Stores the schedule rows.
    `disbursement_date` may be in the past (a loan recorded late), never in the future.

    When a `loan_disbursement` policy band covers the loan (amount, branch, product), a person's
    request opens an approval request instead and the loan stays APPROVED: its final approver
    disburses it (on_disbursement_approved). The system (actor None: jobs, the demo) disburses at once.
    """
    loan = locked_loan(loan_id)
    require(actor, "loans.disburse_loan", loan.branch_id)
    if loan.status == Loan.Status.DISBURSED:  # the loser of a race: say what happened, not "approved only"
        raise InvalidTransition(f"Loan {loan.loan_number} has already been disbursed.", field="status")
    expect_status(loan, "disburse", actor=actor)
    on, first_due, schedule = _dates_and_schedule(loan, disbursement_date, first_due_date)
    if person(actor) is not None and approval_required(
        action_type=LOAN_DISBURSEMENT,
        amount=loan.principal,
        branch_id=loan.branch_id,
        product_ref=str(loan.product_id),
    ):
        request = ask_approval(
            loan,
            action_type=LOAN_DISBURSEMENT,
            requester=actor,
            amount=loan.principal,
            metadata={
                "disbursement_date": disbursement_date.isoformat() if disbursement_date else "",
                "first_due_date": first_due_date.isoformat() if first_due_date else "",
            },
        )
        if request is not None:
            record_event(
                loan,
                actor=actor,
                action="disbursement_requested",
                from_status=loan.status,
                comment=f"{loan.principal} to disburse once approved (level {request.level_label})",
                metadata={"approval_request": str(request.pk)},
            )
            return loan
    # The loan's approver may ask for an approved disbursement (another decides it), not disburse.
    refuse_approver_disbursing(loan, actor=actor)
    return _disburse(loan, actor=actor, on=on, first_due=first_due, schedule=schedule)


def _dates_and_schedule(loan: Loan, disbursement_date, first_due_date):
    on = disbursement_date or today()
    if on > today():
        raise ValidationFailed("A loan cannot be disbursed on a future date.", field="disbursement_date")
    first_due = first_due_date or loan.first_due_date
    if first_due is not None and first_due <= on:
        raise ValidationFailed(
            "The first due date must be after the disbursement date.", field="first_due_date"
        )
    schedule = build_schedule(loan_schedule_terms(loan=loan, disbursed_on=on, first_due_on=first_due))
    return on, first_due, schedule


def on_disbursement_approved(request, actor) -> None:
    """The final approval of a loan_disbursement request: the approver disburses, with the dates
    the requester gave (today when none was given)."""
    loan = locked_loan(request.object_id)
    expect_status(loan, "disburse", actor=actor, authorized=True)
    refuse_approver_disbursing(loan, actor=actor)
    meta = request.metadata or {}
    given = meta.get("disbursement_date") or ""
    due = meta.get("first_due_date") or ""
    on, first_due, schedule = _dates_and_schedule(
        loan, date.fromisoformat(given) if given else None, date.fromisoformat(due) if due else None
    )
    _disburse(loan, actor=actor, on=on, first_due=first_due, schedule=schedule, request=request)


def _disburse(loan: Loan, *, actor, on: date, first_due, schedule, request=None) -> Loan:
    savings = savings_account_of(loan.member)
    account = ledger.open_account(
        member=loan.member, account_type="LOAN", name=f"Loan {loan.loan_number} – {loan.member.full_name}"
    )
    fee = loan.processing_fee
    narration = f"Disbursement of loan {loan.loan_number}"
    lines = [
        ledger.Line(account.pk, Side.DEBIT, loan.principal, narration),
        ledger.Line(savings.pk, Side.CREDIT, loan.principal - fee, narration),
    ]
    if fee > ZERO:
        fee_income = gl_id(branch_id=loan.branch_id, gl_code="FEE_INCOME")
        lines.append(ledger.Line(fee_income, Side.CREDIT, fee, f"Processing fee, loan {loan.loan_number}"))
    entry = ledger.post_entry(
        kind=JournalEntry.Kind.LOAN_DISBURSEMENT,
        lines=lines,
        narration=narration,
        actor=actor,
        branch_id=loan.branch_id,
        value_date=on,
        idempotency_key=f"loan:{loan.pk}:disbursement",
        metadata={"loan": str(loan.pk), "loan_number": loan.loan_number},
    )
    bulk_create_with_history(
        [
            LoanSchedule(
                loan=loan,
                installment_number=row.number,
                due_date=row.due_date,
                principal_amount=row.principal,
                interest_amount=row.interest,
                total_amount=row.total,
                principal_balance=row.balance,
            )
            for row in schedule.installments
        ],
        LoanSchedule,
        default_change_reason="disbursed",
    )
    loan.account = account
    loan.disbursement_entry = entry
    loan.disbursement_date = on
    loan.first_due_date = schedule.installments[0].due_date
    loan.disbursed_by = actor if actor is not None and actor.pk else None
    loan.disbursed_at = timezone.now()
    transition(
        loan,
        "disburse",
        actor=actor,
        comment=f"{loan.principal} disbursed to savings {savings.account_number}"
        + (f", fee {fee}" if fee else ""),
        fields=[
            "account",
            "disbursement_entry",
            "disbursement_date",
            "first_due_date",
            "disbursed_by",
            "disbursed_at",
        ],
        metadata={
            "entry": entry.reference,
            "installments": len(schedule.installments),
            "total_interest": str(schedule.total_interest),
            **({"approval_request": str(request.pk)} if request is not None else {}),
        },
    )
    if request is not None:
        approvals.record_result(request, entry)
    return loan
