"""Write-off, recovery after write-off, and recovery from guarantors.

Accounting: a write-off posts DEBIT loan-loss expense, CREDIT the loan's account (principal outstanding;
unpaid interest, fees and penalties were never recognised: cash basis). A recovery after write-off posts
DEBIT the source (cash, bank, savings), CREDIT loan-loss expense: it reduces the loss it makes good.
Recovery from guarantors: per guarantor, their hold is released and up to their guarantee is debited from
their savings in one entry, allocated like a repayment on an active loan (CREDIT the loan account /
income), or CREDIT loan-loss expense on a written-off loan.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from approvals import services as approvals
from cooperative.exceptions import ValidationFailed
from cooperative.money import money
from ledger import services as ledger
from ledger.lock_objects import accounts_for_update
from ledger.models import JournalEntry, Side

from ..exceptions import InvalidTransition, RepaymentRefused
from ..guarantees import release_guarantee, savings_account_of
from ..lock_objects import guarantors_for_update
from ..models import Guarantor, Loan
from ..selectors import principal_outstanding, settlement_quote, write_off_figures
from ._common import (
    ZERO,
    clean_amount,
    clean_reason,
    counter_id,
    expect_status,
    gl_id,
    locked_loan,
    record_event,
    today,
    transition,
)
from .decisions import WRITE_OFF, ask_approval, loan_title, person
from .duties import refuse_write_off_approver_recovering
from .repayments import SOURCE_GL, _apply_repayment


@transaction.atomic
def write_off_loan(*, actor, loan_id, reason: str) -> Loan:
    """Ask for the write-off of a DISBURSED loan (reason required).

    When a `write_off` policy band covers it (the default: one MANAGER, whatever the amount), a
    `write_off` approval request opens and the loan stays DISBURSED: its final approver, who can
    never be the requester, writes it off (on_write_off_approved). With no band (or by the system)
    it is written off at once: DISBURSED -> WRITTEN_OFF, the principal outstanding to loan-loss
    expense."""
    reason = clean_reason(reason, what="a reason for the write-off")
    loan = locked_loan(loan_id)
    expect_status(loan, "write_off", actor=actor)
    figures = write_off_figures(loan=loan)
    outstanding = figures.amount
    if person(actor) is not None:
        request = ask_approval(
            loan,
            action_type=WRITE_OFF,
            requester=actor,
            amount=outstanding,
            title=f"Write-off of {loan_title(loan, outstanding)}",
            reason=reason,
            metadata={
                "principal_outstanding": str(outstanding),
                "interest_due": str(figures.outstanding.interest),
                "fees_due": str(figures.outstanding.fees),
                "penalties_due": str(figures.outstanding.penalties),
                "days_past_due": figures.days_past_due,
            },
            exclude_applicants=False,
        )
        if request is not None:
            record_event(
                loan,
                actor=actor,
                action="write_off_requested",
                from_status=loan.status,
                comment=reason,
                metadata={"approval_request": str(request.pk), "amount": str(outstanding)},
            )
            return loan
    return _write_off(loan, actor=actor, reason=reason)


def on_write_off_approved(request, actor) -> None:
    """The final approval of a write_off request: the approver (never the requester) writes it off."""
    loan = locked_loan(request.object_id)
    expect_status(loan, "write_off", actor=actor, authorized=True, requested_by_id=request.requested_by_id)
    _write_off(loan, actor=actor, reason=request.reason or "approved write-off", request=request)


def _write_off(loan: Loan, *, actor, reason: str, request=None) -> Loan:
    outstanding = principal_outstanding(loan=loan)
    entry = None
    if outstanding > 0:
        entry = ledger.post_entry(
            kind=JournalEntry.Kind.WRITE_OFF,
            lines=[
                ledger.Line(
                    gl_id(branch_id=loan.branch_id, gl_code="LOAN_LOSS_EXPENSE"),
                    Side.DEBIT,
                    outstanding,
                    f"Write-off of loan {loan.loan_number}",
                ),
                ledger.Line(
                    loan.account_id, Side.CREDIT, outstanding, f"Write-off of loan {loan.loan_number}"
                ),
            ],
            narration=f"Write-off of loan {loan.loan_number}: {reason}",
            actor=actor,
            branch_id=loan.branch_id,
            idempotency_key=f"loan:{loan.pk}:write-off",
            metadata={"loan": str(loan.pk)},
        )
    loan.written_off_at = timezone.now()
    loan.written_off_amount = outstanding
    loan.decision_reason = reason[:255]
    metadata = {"amount": str(outstanding), "entry": entry.reference if entry else ""}
    if request is not None:
        metadata.update(approval_request=str(request.pk), requested_by=str(request.requested_by_id))
    transition(
        loan,
        "write_off",
        actor=actor,
        comment=loan.decision_reason,
        fields=["written_off_at", "written_off_amount", "decision_reason"],
        metadata=metadata,
    )
    if request is not None and entry is not None:
        approvals.record_result(request, entry)
    return loan


def _recovery_room(loan: Loan) -> Decimal:
    return loan.written_off_amount - loan.recovered_amount


def _post_recovery(loan: Loan, *, actor, amount: Decimal, debit_account_id, narration: str) -> JournalEntry:
    entry = ledger.post_entry(
        kind=JournalEntry.Kind.LOAN_REPAYMENT,
        lines=[
            ledger.Line(debit_account_id, Side.DEBIT, amount, narration),
            ledger.Line(
                gl_id(branch_id=loan.branch_id, gl_code="LOAN_LOSS_EXPENSE"),
                Side.CREDIT,
                amount,
                narration,
            ),
        ],
        narration=narration,
        actor=actor,
        branch_id=loan.branch_id,
        metadata={"loan": str(loan.pk), "recovery": True},
    )
    loan.recovered_amount += amount
    loan._change_reason = "recovery"
    loan.save(update_fields=["recovered_amount", "updated_at"])
    return entry


@transaction.atomic
def record_recovery(*, actor, loan_id, amount, source: str = "CASH") -> JournalEntry:
    """Money recovered on a written-off loan (up to what was written off)."""
    amount = clean_amount(amount)
    loan = locked_loan(loan_id)
    expect_status(loan, "record_recovery", actor=actor)
    refuse_write_off_approver_recovering(loan, actor=actor)
    room = _recovery_room(loan)
    if amount > room:
        raise RepaymentRefused(
            f"Only {room} of the {loan.written_off_amount} written off remains to recover.", field="amount"
        )
    source = (source or "").upper()
    if source in SOURCE_GL:
        debit = counter_id(branch_id=loan.branch_id, gl_code=SOURCE_GL[source], actor=actor)
    elif source == "SAVINGS":
        savings = savings_account_of(loan.member)
        if savings is None:
            raise RepaymentRefused("The member has no savings account to pay from.", field="source")
        debit = savings.pk
    else:
        raise ValidationFailed("The source is CASH, BANK or SAVINGS.", field="source")
    entry = _post_recovery(
        loan,
        actor=actor,
        amount=amount,
        debit_account_id=debit,
        narration=f"Recovery on written-off loan {loan.loan_number}",
    )
    record_event(
        loan,
        actor=actor,
        action="recovery",
        from_status=loan.status,
        comment=f"{amount} recovered ({source.lower()})",
        metadata={"amount": str(amount), "entry": entry.reference},
    )
    return entry


@transaction.atomic
def recover_from_guarantors(*, actor, loan_id) -> list[JournalEntry]:
    """Collect a defaulted loan from its guarantors: release each hold, debit up to the guarantee."""
    loan = locked_loan(loan_id)
    expect_status(loan, "recover_from_guarantors", actor=actor, today=today())
    refuse_write_off_approver_recovering(loan, actor=actor)
    entries: list[JournalEntry] = []
    guarantors = list(
        guarantors_for_update(loan.pk).filter(status=Guarantor.Status.ACTIVE).select_related("member")
    )
    if not guarantors:
        raise InvalidTransition(f"Loan {loan.loan_number} has no active guarantees.", field="guarantors")
    # The guarantees as they stand at default: release every hold first, then collect from each.
    called = []
    for guarantor in guarantors:
        guaranteed = ZERO
        if guarantor.hold_id is not None:
            guaranteed = guarantor.hold.amount if guarantor.hold.status == "ACTIVE" else ZERO
            release_guarantee(guarantor)
        guarantor.status = Guarantor.Status.INVOKED
        guarantor._change_reason = "guarantee invoked"
        guarantor.save(update_fields=["status", "updated_at"])
        called.append((guarantor, guaranteed))
    for guarantor, guaranteed in called:
        savings = savings_account_of(guarantor.member)
        if (
            savings is None
            or guaranteed <= 0
            or loan.status
            not in (
                Loan.Status.DISBURSED,
                Loan.Status.WRITTEN_OFF,
            )
        ):
            continue
        free = money(max(accounts_for_update([savings.pk]).get().available_balance, ZERO))
        if loan.status == Loan.Status.WRITTEN_OFF:
            amount = min(guaranteed, free, _recovery_room(loan))
            if amount <= 0:
                continue
            entry = _post_recovery(
                loan,
                actor=actor,
                amount=amount,
                debit_account_id=savings.pk,
                narration=(
                    f"Recovery from guarantor {guarantor.member.member_number}, loan {loan.loan_number}"
                ),
            )
            record_event(
                loan,
                actor=actor,
                action="guarantor_recovery",
                from_status=loan.status,
                comment=f"{amount} recovered from {guarantor.member}",
                metadata={
                    "member": str(guarantor.member_id),
                    "amount": str(amount),
                    "entry": entry.reference,
                },
            )
        else:
            amount = min(guaranteed, free, settlement_quote(loan=loan, as_of=today()).total)
            if amount <= 0:
                continue
            payment = _apply_repayment(
                loan,
                actor=actor,
                amount=amount,
                source="GUARANTOR",
                debit_account_id=savings.pk,
                payment_date=today(),
                reference=guarantor.member.member_number,
                comment=f"{amount} recovered from guarantor {guarantor.member}",
            )
            entry = payment.journal_entry
            loan.refresh_from_db()
        guarantor.recovered_amount += amount
        guarantor.save(update_fields=["recovered_amount", "updated_at"])
        entries.append(entry)
    return entries
