"""Guarantors: pledges while the loan is applied for, holds on their savings once it is approved.

A pledge may not exceed the guarantor's free savings: the savings account's available balance (balance
− existing holds − minimum) less what they have already pledged on other loans still being applied for.
That is checked under the row lock of the guarantor's savings account, so two pledges racing on one
guarantor are serialised and can never over-commit. On approval each pledge becomes a ledger hold
(`place_hold` re-checks under the same lock); the holds' life is in `loans.guarantees`.
"""

from __future__ import annotations

from django.db import transaction

from cooperative.exceptions import NotFoundError
from cooperative.money import money
from ledger.lock_objects import accounts_for_update
from ledger.models import Account

from ..exceptions import GuarantorOverCommitted, GuarantorRefused
from ..guarantees import savings_account_of
from ..lock_objects import guarantors_for_update
from ..models import Guarantor
from ..selectors import pending_pledges
from ._common import ZERO, clean_amount, expect_status, locked_loan, record_event


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
