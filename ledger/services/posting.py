"""`post_entry`: the only writer of legs and balances, and the `Line` its callers build.

Every other service of the ledger builds the lines of one balanced entry and hands them here:
`post_entry` locks the touched accounts in primary-key order (`ledger.lock_objects`), checks the
rules on the locked rows and writes the entry, its legs and the cached balances in one transaction
(`ledger.services.writers`: one SQL statement on PostgreSQL, the ORM elsewhere).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cooperative.exceptions import DomainError, ValidationFailed
from cooperative.models import User
from cooperative.money import MAX_AMOUNT, format_amount, money

from ..exceptions import (
    AboveCeiling,
    AccountNotActive,
    AccountNotFound,
    CurrencyMismatch,
    DailyLimitExceeded,
    InsufficientFunds,
    UnbalancedEntry,
)
from ..lock_objects import BranchGL, lock_accounts
from ..models import Account, JournalEntry, Side, Transaction
from ..posting_sql import CompanionRow
from ..selectors import LIMITED_KINDS, amount_withdrawn_on
from ._common import DEPOSIT_ACCOUNT_TYPES, as_uuid
from .gl_accounts import ensure_gl_account, ensure_till_account
from .tills import check_till_cash
from .writers import DuplicateIdempotencyKey, write_with_orm, write_with_sql


@dataclass(frozen=True)
class Line:
    """One leg to post: which account (an id, or a `BranchGL` found under the lock), which side,
    how much."""

    account_id: uuid.UUID | BranchGL
    side: str
    amount: Decimal
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.account_id, BranchGL):
            object.__setattr__(self, "account_id", as_uuid(self.account_id))


def _natural_delta(account: Account, side: str, amount: Decimal) -> Decimal:
    return amount if side == account.normal_balance else -amount


def _new_reference() -> str:
    return f"JE{timezone.localdate():%y%m%d}{secrets.token_hex(5).upper()}"


def _check_lines(lines: Sequence[Line]) -> Decimal:
    if len(lines) < 2:
        raise UnbalancedEntry("A journal entry needs at least two legs.")
    for line in lines:
        if line.side not in (Side.DEBIT, Side.CREDIT):
            raise UnbalancedEntry(f"Unknown side {line.side!r}.")
        if not isinstance(line.amount, Decimal) or line.amount != money(line.amount):
            raise ValidationFailed("Amounts are Decimals with at most two decimals.", field="amount")
        if line.amount <= 0 or line.amount >= MAX_AMOUNT:
            raise ValidationFailed("Each leg's amount must be positive and below 10^15.", field="amount")
    debits = sum((ln.amount for ln in lines if ln.side == Side.DEBIT), Decimal("0.00"))
    credits = sum((ln.amount for ln in lines if ln.side == Side.CREDIT), Decimal("0.00"))
    if debits != credits:
        raise UnbalancedEntry(f"Debits {debits} do not equal credits {credits}.")
    return debits


def _check_ceiling(total: Decimal) -> None:
    """The absolute ceiling per posting (settings.POSTING_CEILING): no entry, whoever posts it,
    moves more in one go; it is refused outright, never sent for approval."""
    if total > settings.POSTING_CEILING:
        raise AboveCeiling(
            f"{format_amount(total)} is above the ceiling of {format_amount(settings.POSTING_CEILING)} "
            "for one posting; check the amount (only an administrator can raise the ceiling, "
            "setting POSTING_CEILING).",
            field="amount",
        )


def post_entry(
    *,
    kind: str,
    lines: Sequence[Line],
    narration: str,
    actor: User | None = None,
    branch_id: uuid.UUID | None = None,
    value_date: date | None = None,
    idempotency_key: str | None = None,
    reverses: JournalEntry | None = None,
    reversal_reason: str = "",
    metadata: dict | None = None,
    guard: Callable[[dict], None] | None = None,
    companion: CompanionRow | None = None,
) -> JournalEntry:
    """Write one balanced journal entry. The single choke point for every movement of money.

    Rules: at least two legs, each amount > 0 with at most two decimals, debits == credits, the
    entry's total at most `settings.POSTING_CEILING` (reversals excepted); every
    account ACTIVE and in one currency; a member's deposit account never goes below
    balance − holds − minimum (available) when it is debited; daily withdrawal limits hold; a till
    or the vault (teller cash) never pays out more than it holds (`tills.check_till_cash`).
    Idempotent on `idempotency_key`: a second call with the same key returns the first entry.
    `guard(locked_accounts_by_id)` runs on the locked rows before anything is written: callers check
    account types, permissions and branches there, so a posting costs one locking read.

    Every refusal (`DomainError`) is raised before anything is written, so a caller's transaction
    stays usable after one (the API stores the refusal as the idempotent response in it).
    PostgreSQL: one locking read, then one statement writes the entry, its legs and the balances
    (`ledger.posting_sql`), no savepoint. Elsewhere: the ORM, inside a savepoint when nested.
    `companion` (PostgreSQL writer only): a row of the caller's, built from the entry about to be
    written, inserted by the same statement (see `posting_sql.CompanionRow`).
    """
    total = _check_lines(lines)
    if reverses is None:  # a reversal mirrors an entry that passed the ceiling of its day
        _check_ceiling(total)
    arguments = {
        "kind": kind,
        "lines": lines,
        "narration": narration,
        "actor": actor,
        "branch_id": branch_id,
        "value_date": value_date,
        "idempotency_key": idempotency_key,
        "reverses": reverses,
        "reversal_reason": reversal_reason,
        "metadata": metadata,
        "guard": guard,
        "companion": companion,
    }
    if connection.vendor == "postgresql" and SQL_WRITER_ENABLED:
        refusal = None
        # No savepoint: nothing is written before the last check, and the one write statement
        # either writes everything or nothing.
        with transaction.atomic(savepoint=False):
            try:
                return _post_entry_locked(**arguments, writer=write_with_sql)
            except DomainError as exc:
                refusal = exc
        raise refusal
    # A savepoint when nested: a failed INSERT must not poison the caller's transaction.
    try:
        with transaction.atomic():
            return _post_entry_locked(**arguments, writer=write_with_orm)
    except DuplicateIdempotencyKey:
        # Posted before (or by a racer that committed while we waited on the unique key): the
        # savepoint above undid our attempt; hand back the first entry.
        return JournalEntry.objects.get(idempotency_key=idempotency_key)


# The one-statement writer is used on PostgreSQL; tests switch it off to run the portable ORM
# writer on PostgreSQL too and compare the two.
SQL_WRITER_ENABLED = True


def _resolve(refs: list[BranchGL], locked: dict) -> dict:
    """Each `BranchGL` -> the locked GL account's pk (None when it is not among the locked rows)."""
    resolved = {}
    for ref in refs:
        of = locked.get(ref.of)
        resolved[ref] = next(
            (
                a.pk
                for a in locked.values()
                if of is not None
                and a.gl_code == ref.gl_code
                and a.member_id is None
                and a.till_teller_id == ref.till_teller
                and a.branch_id == of.branch_id
            ),
            None,
        )
    return resolved


def _lock_lines(lines: Sequence[Line]) -> tuple[Sequence[Line], dict[uuid.UUID, Account]]:
    """Lock every account of `lines` in pk order; resolve `BranchGL` references on the locked rows."""
    ids = {ln.account_id for ln in lines if not isinstance(ln.account_id, BranchGL)}
    refs = list(dict.fromkeys(ln.account_id for ln in lines if isinstance(ln.account_id, BranchGL)))
    locked = {a.pk: a for a in lock_accounts(ids, refs)}
    resolved = _resolve(refs, locked)
    if None in resolved.values():
        # A branch's GL account or a teller's till does not exist yet (its first posting). On
        # PostgreSQL nothing is locked then (`lock_accounts` is all or nothing), so create it and
        # lock everything again.
        for ref, pk in resolved.items():
            if pk is None:
                branch_id = Account.objects.filter(pk=ref.of).values_list("branch_id", flat=True).first()
                if branch_id is None:
                    raise AccountNotFound("No such account.")
                if ref.till_teller is None:
                    ensure_gl_account(branch_id=branch_id, gl_code=ref.gl_code)
                else:
                    ensure_till_account(branch_id=branch_id, teller_id=ref.till_teller)
        locked = {a.pk: a for a in lock_accounts(ids, refs)}
        resolved = _resolve(refs, locked)
        if None in resolved.values():
            raise AccountNotFound("No such account.")
    if refs:
        lines = [
            Line(resolved[ln.account_id], ln.side, ln.amount, ln.description)
            if isinstance(ln.account_id, BranchGL)
            else ln
            for ln in lines
        ]
    if len(locked) != len({ln.account_id for ln in lines}):
        raise AccountNotFound("One of the accounts does not exist.")
    return lines, locked


def _post_entry_locked(
    *,
    kind,
    lines,
    narration,
    actor,
    branch_id,
    value_date,
    idempotency_key,
    reverses,
    reversal_reason,
    metadata,
    guard,
    companion,
    writer,
) -> JournalEntry:
    # Same lock order everywhere (primary key), so two opposite transfers cannot deadlock.
    lines, locked = _lock_lines(lines)
    if guard is not None:
        guard(locked)
    currencies = {a.currency for a in locked.values()}
    if len(currencies) != 1:
        raise CurrencyMismatch(f"An entry cannot mix currencies ({', '.join(sorted(currencies))}).")
    for account in locked.values():
        if account.status != Account.Status.ACTIVE:
            raise AccountNotActive(
                f"Account {account.account_number} is {account.get_status_display().lower()}."
            )

    value_date = value_date or timezone.localdate()
    opening = {pk: a.balance for pk, a in locked.items()}
    debited_today: dict = {}
    legs_balance_after = []
    for line in lines:
        account = locked[line.account_id]
        account.balance += _natural_delta(account, line.side, line.amount)
        legs_balance_after.append(account.balance)
        if line.side == Side.DEBIT and account.type in DEPOSIT_ACCOUNT_TYPES:
            debited_today[account.pk] = debited_today.get(account.pk, Decimal("0.00")) + line.amount

    for pk, account in locked.items():
        if account.type not in DEPOSIT_ACCOUNT_TYPES or account.balance >= opening[pk]:
            continue
        # Only a movement that takes money out is held to the available balance: a reversal of
        # a charge or a deposit into an account under its minimum is always allowed.
        if account.balance - account.held_amount - account.minimum_balance < 0:
            available = opening[pk] - account.held_amount - account.minimum_balance
            raise InsufficientFunds(
                f"Account {account.account_number} has only {money(max(available, 0))} available "
                f"(balance {opening[pk]}, held {account.held_amount}, minimum {account.minimum_balance}).",
                field="amount",
            )
        if kind in LIMITED_KINDS and account.daily_withdrawal_limit is not None:
            already = amount_withdrawn_on(account, value_date)
            if already + debited_today.get(pk, 0) > account.daily_withdrawal_limit:
                raise DailyLimitExceeded(
                    f"Account {account.account_number} may withdraw {account.daily_withdrawal_limit} a "
                    f"day; {already} already withdrawn today.",
                    field="amount",
                )

    check_till_cash(locked=locked, opening=opening, actor=actor)

    now = timezone.now()
    entry = JournalEntry(
        reference=_new_reference(),
        kind=kind,
        narration=narration[:255],
        value_date=value_date,
        posted_at=now,
        posted_by=actor if actor is not None and actor.pk else None,
        branch_id=branch_id or locked[lines[0].account_id].branch_id,
        idempotency_key=idempotency_key or None,
        reverses=reverses,
        reversal_reason=reversal_reason,
        metadata=metadata or {},
    )
    legs = [
        Transaction(
            entry=entry,
            account=locked[line.account_id],
            branch_id=locked[line.account_id].branch_id,
            type=line.side,
            amount=line.amount,
            balance_after=balance_after,
            description=(line.description or narration)[:255],
            reference=entry.reference,
            value_date=value_date,
            created_at=now,
            created_by=entry.posted_by,
        )
        for line, balance_after in zip(lines, legs_balance_after, strict=True)
    ]
    for account in locked.values():
        account.updated_at = now
    # Hand the legs back as if prefetched (debits first), so callers that show the entry do not
    # read back what was just written. Each leg's account is the locked row with its new balance.
    prefetched = entry.legs.all()
    prefetched._result_cache = sorted(legs, key=lambda leg: (leg.type != Side.DEBIT, str(leg.pk)))
    prefetched._prefetch_done = True  # type: ignore[attr-defined]
    entry._prefetched_objects_cache = {"legs": prefetched}  # type: ignore[attr-defined]
    existing = writer(entry=entry, legs=legs, locked=locked, now=now, companion=companion)
    if existing is not None:
        return existing
    entry._state.adding = False
    for leg in legs:
        leg._state.adding = False
    return entry
