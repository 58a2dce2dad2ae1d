"""Reversals: a posted entry is never changed; a mistake is undone by its mirror entry."""

from __future__ import annotations

import uuid

from django.db import transaction

from cooperative.exceptions import Conflict, ValidationFailed
from cooperative.models import User

from ..exceptions import AccountNotFound, AlreadyReversed
from ..models import JournalEntry, Side
from ._common import require
from .posting import Line, post_entry


@transaction.atomic
def reverse_entry(*, entry_id: uuid.UUID, reason: str, actor: User | None = None) -> JournalEntry:
    """Post the mirror of an entry (every leg on the other side). Reason required; once per entry."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason for the reversal.", field="reason")
    entry = JournalEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise AccountNotFound("No such journal entry.")
    require(actor, "ledger.reverse_transaction", entry.branch_id)
    if entry.reverses_id is not None:
        raise Conflict(f"Entry {entry.reference} is itself a reversal; post a new entry instead.")
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise AlreadyReversed(f"Entry {entry.reference} has already been reversed.")
    mirror = [
        Line(
            leg.account_id,
            Side.CREDIT if leg.type == Side.DEBIT else Side.DEBIT,
            leg.amount,
            f"Reversal of {entry.reference}",
        )
        for leg in entry.legs.order_by("pk")
    ]
    return post_entry(
        kind=JournalEntry.Kind.REVERSAL,
        lines=mirror,
        narration=f"Reversal of {entry.reference}: {reason}",
        actor=actor,
        branch_id=entry.branch_id,
        reverses=entry,
        reversal_reason=reason,
    )
