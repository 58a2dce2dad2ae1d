"""Reversals: a posted entry is never changed; a mistake is undone by its mirror entry, once, with a
reason. Under the reversal approval policy (default: every reversal) the mirror waits for approval."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db.models import Sum

from approvals.services import ensure_not_pending, request_approval
from cooperative.models import User

from ..models import JournalEntry, Side
from ..selectors import member_display
from . import _direct
from .posting_requests import REVERSAL, Pending, needs_approval


def _entry_amount(entry: JournalEntry) -> Decimal:
    total = entry.legs.filter(type=Side.DEBIT).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0.00")


def _entry_member(entry: JournalEntry) -> str:
    leg = entry.legs.select_related("account__member").filter(account__member__isnull=False).first()
    return member_display(leg.account) if leg is not None else ""


def reverse_entry(*, entry_id: uuid.UUID, reason: str, actor: User | None = None) -> JournalEntry | Pending:
    """Post the mirror of an entry (every leg on the other side), or ask for it: under the policy
    the request waits for approval (`Pending`) and the approver's decision posts it as the
    requester. The requester must hold `ledger.reverse_transaction`; a pending reversal blocks a
    second request (and the system's own reversal) of the entry. The system itself (`actor=None`)
    reverses at once."""
    entry, reason = _direct.reversible_entry(entry_id=entry_id, reason=reason, actor=actor)
    ensure_not_pending(subject=entry, action_type=REVERSAL)
    if actor is not None:
        amount = _entry_amount(entry)
        if needs_approval(REVERSAL, amount, entry.branch_id):
            approval = request_approval(
                action_type=REVERSAL,
                subject=entry,
                amount=amount,
                branch_id=entry.branch_id,
                requested_by=actor,
                title=f"Reversal of {entry.reference} ({entry.get_kind_display().lower()})",
                member_display=_entry_member(entry),
                reason=reason,
                metadata={"reason": reason, "entry": entry.reference},
            )
            if approval is not None:
                return Pending(approval_request=approval)
    return _direct.post_reversal(entry_id=entry.pk, reason=reason, actor=actor)
