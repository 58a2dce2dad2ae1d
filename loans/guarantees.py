"""Guarantees on the ledger: a guarantor's pledge as a hold on their savings, from approval to the
end of the loan. The loan's machine (loans/workflow.py) runs these as on-enter actions of approve,
withdraw, close and reopen; the repayment and write-off services call them as principal moves.

Holds shrink in proportion as principal is repaid (`sync_guarantor_holds`) and are released fully
when the loan closes or the application is withdrawn. Below both the workflow and the services:
this module imports neither, so the machine can name its actions without an import cycle.
Lock order: the loan's guarantor rows (by pk), then the savings accounts (`place_hold` and
`release_hold` lock those in primary-key order).
"""

from __future__ import annotations

from decimal import ROUND_UP, Decimal

from cooperative.money import money
from ledger import services as ledger
from ledger.exceptions import InsufficientFunds
from ledger.lock_objects import accounts_for_update
from ledger.models import Account, AccountType, Hold

from .exceptions import GuarantorOverCommitted, GuarantorRefused
from .lock_objects import guarantors_for_update
from .models import Guarantor, Loan

ZERO = Decimal("0.00")


def savings_account_of(member) -> Account | None:
    return (
        Account.objects.filter(member=member, type=AccountType.SAVINGS)
        .exclude(status=Account.Status.CLOSED)
        .first()
    )


def activate_guarantor_holds(loan: Loan, *, actor) -> None:
    """On approval: each pledge becomes a hold on the guarantor's savings (sorted: no deadlocks)."""
    pledges = list(
        guarantors_for_update(loan.pk).filter(status=Guarantor.Status.PLEDGED).select_related("member")
    )
    with_accounts = []
    for guarantor in pledges:
        savings = savings_account_of(guarantor.member)
        if savings is None:
            raise GuarantorRefused(
                f"Guarantor {guarantor.member.member_number} no longer has a savings account.",
                field="guarantors",
            )
        with_accounts.append((savings.pk, guarantor))
    for account_id, guarantor in sorted(with_accounts, key=lambda item: str(item[0])):
        try:
            hold = ledger.place_hold(
                account_id=account_id,
                amount=guarantor.pledged_amount,
                reason=f"Guarantee for loan {loan.loan_number}",
                reference=loan.loan_number,
            )
        except InsufficientFunds as exc:
            raise GuarantorOverCommitted(
                f"Guarantor {guarantor.member.member_number} no longer has {guarantor.pledged_amount} free "
                f"in savings ({exc}).",
                field="guarantors",
            ) from exc
        guarantor.hold, guarantor.status = hold, Guarantor.Status.ACTIVE
        guarantor._change_reason = "pledge placed on hold"
        guarantor.save(update_fields=["hold", "status", "updated_at"])


def release_guarantor_holds(loan: Loan, *, final_status: str) -> None:
    """Release every guarantee of the loan in full (closed loan, withdrawn application)."""
    for guarantor in guarantors_for_update(loan.pk).filter(
        status__in=[Guarantor.Status.PLEDGED, Guarantor.Status.ACTIVE]
    ):
        release_guarantee(guarantor)
        guarantor.status = final_status
        guarantor._change_reason = f"guarantee {final_status.lower()}"
        guarantor.save(update_fields=["status", "updated_at"])


def release_guarantee(guarantor: Guarantor, amount: Decimal | None = None) -> None:
    if guarantor.hold_id is None:
        return
    hold = Hold.objects.get(pk=guarantor.hold_id)
    if hold.status != Hold.Status.ACTIVE or hold.amount == 0:
        return
    if amount is not None and amount <= 0:
        return
    ledger.release_hold(hold_id=hold.pk, amount=amount)


def guarantee_target(guarantor: Guarantor, *, principal: Decimal, outstanding: Decimal) -> Decimal:
    """What stays on hold: the pledge × principal outstanding / principal (rounded up to kobo)."""
    if outstanding <= 0:
        return ZERO
    share = guarantor.pledged_amount * outstanding / principal
    return min(guarantor.pledged_amount, share.quantize(Decimal("0.01"), rounding=ROUND_UP))


def sync_guarantor_holds(loan: Loan, *, outstanding: Decimal) -> None:
    """Shrink (after repayments) or restore (after a reversal) each active guarantee to its target.

    A hold can only shrink; to grow it back the old hold is released and a new one placed, capped at
    what the guarantor has free (a guarantor who has spent the released money cannot be re-held)."""
    for guarantor in guarantors_for_update(loan.pk).filter(status=Guarantor.Status.ACTIVE):
        target = guarantee_target(guarantor, principal=loan.principal, outstanding=outstanding)
        held = ZERO
        if guarantor.hold_id is not None:
            hold = Hold.objects.get(pk=guarantor.hold_id)
            held = hold.amount if hold.status == Hold.Status.ACTIVE else ZERO
        if target < held:
            release_guarantee(guarantor, held - target)
        elif target > held:
            _regrow(loan, guarantor, target)


def _regrow(loan: Loan, guarantor: Guarantor, target: Decimal) -> None:
    savings = savings_account_of(guarantor.member)
    if savings is None:
        return
    release_guarantee(guarantor)
    savings = accounts_for_update([savings.pk]).get()
    amount = min(target, money(max(savings.available_balance, ZERO)))
    if amount <= 0:
        return
    guarantor.hold = ledger.place_hold(
        account_id=savings.pk,
        amount=amount,
        reason=f"Guarantee for loan {loan.loan_number}",
        reference=loan.loan_number,
    )
    guarantor._change_reason = "guarantee restored"
    guarantor.save(update_fields=["hold", "updated_at"])


def reactivate_released_guarantees(loan: Loan, *, outstanding: Decimal) -> None:
    """A closed loan reopened by a reversal: its guarantees (released on close) apply again."""
    for guarantor in guarantors_for_update(loan.pk).filter(status=Guarantor.Status.RELEASED):
        guarantor.status = Guarantor.Status.ACTIVE
        guarantor._change_reason = "loan reopened"
        guarantor.save(update_fields=["status", "updated_at"])
    sync_guarantor_holds(loan, outstanding=outstanding)
