"""Guarantors: pledges while the loan is applied for, holds on their savings once it is approved.

A pledge may not exceed the guarantor's free savings: the savings account's available balance (balance
− existing holds − minimum) less what they have already pledged on other loans still being applied for.
That is checked under the row lock of the guarantor's savings account, so two pledges racing on one
guarantor are serialised and can never over-commit. On approval each pledge becomes a ledger hold
(`place_hold` re-checks under the same lock). Holds shrink in proportion as principal is repaid
(`sync_guarantor_holds`) and are released fully when the loan closes or the application is withdrawn.
"""

from __future__ import annotations

from decimal import ROUND_UP, Decimal

from django.db import transaction

from cooperative.exceptions import NotFoundError
from cooperative.money import money
from ledger import services as ledger
from ledger.exceptions import InsufficientFunds
from ledger.lock_objects import accounts_for_update
from ledger.models import Account, AccountType, Hold

from ..exceptions import GuarantorOverCommitted, GuarantorRefused
from ..lock_objects import guarantors_for_update
from ..models import Guarantor, Loan
from ..selectors import pending_pledges
from ._common import ZERO, clean_amount, expect_status, locked_loan, record_event


def savings_account_of(member) -> Account | None:
    return (
        Account.objects.filter(member=member, type=AccountType.SAVINGS)
        .exclude(status=Account.Status.CLOSED)
        .first()
    )


@transaction.atomic
def add_guarantor(*, actor, loan_id, guarantor_member, amount) -> Guarantor:
    """Pledge `amount` of `guarantor_member`'s free savings for a DRAFT or SUBMITTED loan."""
    amount = clean_amount(amount, field="amount")
    loan = locked_loan(loan_id)
    expect_status(loan, "add_guarantor", actor=actor)
    if guarantor_member.pk == loan.member_id:
        raise GuarantorRefused("A member cannot guarantee their own loan.", field="guarantor")
    if guarantor_member.status != "ACTIVE":
        raise GuarantorRefused(
            f"Guarantor {guarantor_member.member_number} is {guarantor_member.get_status_display().lower()}; "
            "only active members can guarantee.",
            field="guarantor",
        )
    savings = savings_account_of(guarantor_member)
    if savings is None:
        raise GuarantorRefused(
            f"Guarantor {guarantor_member.member_number} has no savings account to pledge.", field="guarantor"
        )
    # The guarantor's savings row lock serialises every pledge against them.
    savings = accounts_for_update([savings.pk]).get()
    if savings.status != Account.Status.ACTIVE:
        raise GuarantorRefused(
            f"Guarantor {guarantor_member.member_number}'s savings account is {savings.status.lower()}.",
            field="guarantor",
        )
    existing = Guarantor.objects.filter(loan=loan, member=guarantor_member).first()
    if existing is not None and existing.status == Guarantor.Status.PLEDGED:
        raise GuarantorRefused(
            f"{guarantor_member.member_number} already guarantees this loan; remove the pledge to change it.",
            field="guarantor",
        )
    free = savings.available_balance - pending_pledges(member=guarantor_member, exclude_loan_id=loan.pk)
    if amount > free:
        raise GuarantorOverCommitted(
            f"Guarantor {guarantor_member.member_number} has only {money(max(free, ZERO))} of free savings "
            f"(savings {savings.balance}, on hold {savings.held_amount}, pledged on other applications "
            f"{money(savings.available_balance - free)}); cannot pledge {amount}.",
            field="amount",
        )
    if existing is not None:  # a withdrawn pledge made again
        existing.pledged_amount, existing.status, existing.hold = amount, Guarantor.Status.PLEDGED, None
        existing.recovered_amount = ZERO
        existing._change_reason = "pledged again"
        existing.save(update_fields=["pledged_amount", "status", "hold", "recovered_amount", "updated_at"])
        guarantor = existing
    else:
        guarantor = Guarantor.objects.create(
            loan=loan,
            member=guarantor_member,
            pledged_amount=amount,
            created_by=actor if actor is not None and actor.pk else None,
        )
    record_event(
        loan,
        actor=actor,
        action="guarantor_added",
        from_status=loan.status,
        comment=f"{guarantor_member} pledges {amount}",
        metadata={"member": str(guarantor_member.pk), "amount": str(amount)},
    )
    return guarantor


@transaction.atomic
def remove_guarantor(*, actor, guarantor_id) -> Guarantor:
    """Withdraw a pledge while the loan is still being applied for."""
    row = Guarantor.objects.filter(pk=guarantor_id).values_list("loan_id", flat=True).first()
    if row is None:
        raise NotFoundError("No such guarantor.")
    loan = locked_loan(row)
    expect_status(loan, "remove_guarantor", actor=actor)
    guarantor = guarantors_for_update(loan.pk).get(pk=guarantor_id)
    if guarantor.status != Guarantor.Status.PLEDGED:
        raise GuarantorRefused("This pledge was already withdrawn.", field="guarantor")
    guarantor.status = Guarantor.Status.WITHDRAWN
    guarantor._change_reason = "pledge withdrawn"
    guarantor.save(update_fields=["status", "updated_at"])
    record_event(
        loan,
        actor=actor,
        action="guarantor_removed",
        from_status=loan.status,
        comment=f"{guarantor.member} no longer guarantees",
        metadata={"member": str(guarantor.member_id)},
    )
    return guarantor


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
        _release(guarantor)
        guarantor.status = final_status
        guarantor._change_reason = f"guarantee {final_status.lower()}"
        guarantor.save(update_fields=["status", "updated_at"])


def _release(guarantor: Guarantor, amount: Decimal | None = None) -> None:
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
            _release(guarantor, held - target)
        elif target > held:
            _regrow(loan, guarantor, target)


def _regrow(loan: Loan, guarantor: Guarantor, target: Decimal) -> None:
    savings = savings_account_of(guarantor.member)
    if savings is None:
        return
    _release(guarantor)
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
