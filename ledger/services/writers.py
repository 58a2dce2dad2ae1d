"""The write half of `post_entry`, once the accounts are locked and every rule is checked: the
portable ORM writer and the one-statement PostgreSQL writer (`ledger.posting_sql`). Each returns
None when it wrote the entry, or the entry that an earlier posting with the same idempotency key
wrote. Private to `ledger.services.posting`."""

from __future__ import annotations

from django.db import IntegrityError

from cooperative.exceptions import Conflict, DomainError

from .. import posting_sql
from ..exceptions import AlreadyReversed
from ..models import Account, JournalEntry, Transaction


class DuplicateIdempotencyKey(Exception):
    """The entry's idempotency key exists already (the ORM writer's savepoint is undone)."""


def _clash(entry: JournalEntry) -> DomainError:
    if entry.reverses is not None:
        return AlreadyReversed(f"Entry {entry.reverses.reference} has already been reversed.")
    return Conflict("This posting clashes with an existing entry.")


def write_with_orm(*, entry, legs, locked, now, companion) -> JournalEntry | None:
    # The companion row (if any) is left to its owner, which writes it itself (`written` stays None).
    try:
        entry.save(force_insert=True)
    except IntegrityError as exc:
        # The same idempotency key posted before, or a second reversal of one entry.
        # (No query here: on PostgreSQL the failed INSERT aborted this savepoint.)
        if entry.idempotency_key and "idempotency_key" in str(exc):
            raise DuplicateIdempotencyKey from exc
        raise _clash(entry) from exc
    # Legs are append-only and carry no simple-history, so a bulk insert loses nothing.
    Transaction.objects.bulk_create(legs)
    # One UPDATE for every touched balance. bulk_update writes no history, which is intended here:
    # the legs are the balance's history and `balance` is excluded from Account's history.
    Account.objects.bulk_update(locked.values(), ["balance", "updated_at"])
    return None


def write_with_sql(*, entry, legs, locked, now, companion) -> JournalEntry | None:
    written = posting_sql.write_entry(
        companion=companion,
        entry_object=entry,
        entry={
            "id": entry.pk,
            "reference": entry.reference,
            "kind": entry.kind,
            "narration": entry.narration,
            "value_date": entry.value_date,
            "posted_at": entry.posted_at,
            "posted_by_id": entry.posted_by_id,
            "branch_id": entry.branch_id,
            "idempotency_key": entry.idempotency_key,
            "reverses_id": entry.reverses_id,
            "reversal_reason": entry.reversal_reason,
            "metadata": entry.metadata,
        },
        legs=[
            {
                "id": leg.pk,
                "account_id": leg.account_id,
                "branch_id": leg.branch_id,
                "type": leg.type,
                "amount": leg.amount,
                "balance_after": leg.balance_after,
                "description": leg.description,
            }
            for leg in legs
        ],
        balances={pk: account.balance for pk, account in locked.items()},
        leg_defaults={
            "reference": entry.reference,
            "status": Transaction.Status.POSTED,
            "value_date": entry.value_date,
            "created_at": now,
            "created_by_id": entry.posted_by_id,
            "reconciliation_status": Transaction.Reconciliation.UNRECONCILED,
        },
        now=now,
    )
    if written:
        return None
    if entry.idempotency_key:
        # Posted before (or by a racer that committed while we waited on the unique key).
        existing = JournalEntry.objects.filter(idempotency_key=entry.idempotency_key).first()
        if existing is not None:
            return existing
    raise _clash(entry)
