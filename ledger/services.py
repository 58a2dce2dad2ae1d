"""Every change to the ledger. `post_entry` is the only writer of legs and balances.

All other services here (deposit, withdraw, transfer, reversal, sweep) build the lines of one
balanced entry and hand them to `post_entry`, which locks the touched accounts in primary-key order,
checks the rules and writes the entry, its legs and the cached balances in one transaction.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from cooperative.authz import user_authz
from cooperative.exceptions import Conflict, DomainError, ValidationFailed
from cooperative.models import User
from cooperative.money import MAX_AMOUNT, money
from cooperative.permissions import can_see_row, require_permission
from cooperative.roles import PARTNER

from . import posting_sql
from .exceptions import (
    AccountNotActive,
    AccountNotEmpty,
    AccountNotFound,
    AccountNotVisible,
    AlreadyReversed,
    CurrencyMismatch,
    DailyLimitExceeded,
    InsufficientFunds,
    NotPermitted,
    UnbalancedEntry,
)
from .lock_objects import BranchGL, accounts_for_update, hold_for_update, lock_accounts
from .models import (
    DEBIT_NORMAL_TYPES,
    MEMBER_ACCOUNT_TYPES,
    Account,
    AccountType,
    Hold,
    JournalEntry,
    Side,
    Transaction,
)
from .numbering import next_account_number
from .posting_sql import CompanionRow
from .workflow import ACCOUNT_MACHINE

# Member accounts whose balance the member owns and may not overdraw.
DEPOSIT_ACCOUNT_TYPES = (AccountType.SAVINGS, AccountType.SHARES, AccountType.CASH)
# Entry kinds that count against a member's daily withdrawal limit.
LIMITED_KINDS = (JournalEntry.Kind.WITHDRAWAL, JournalEntry.Kind.TRANSFER)

# Internal accounts every branch gets (gl_code -> (type, name)).
BRANCH_GL_ACCOUNTS = {
    "TELLER_CASH": (AccountType.TELLER_CASH, "Teller cash"),
    "BANK": (AccountType.BANK, "Bank (main operating account)"),
    "PAYSTACK_CLEARING": (AccountType.GATEWAY_CLEARING, "Paystack clearing"),
    "FLUTTERWAVE_CLEARING": (AccountType.GATEWAY_CLEARING, "Flutterwave clearing"),
    "LOANS_RECEIVABLE": (AccountType.LOANS_RECEIVABLE, "Loans receivable (control)"),
    "INTEREST_INCOME": (AccountType.INTEREST_INCOME, "Interest income"),
    "FEE_INCOME": (AccountType.FEE_INCOME, "Fee income"),
    "PENALTY_INCOME": (AccountType.PENALTY_INCOME, "Penalty income"),
    "GENERAL_EXPENSE": (AccountType.EXPENSE, "General expenses"),
    "LOAN_LOSS_EXPENSE": (AccountType.EXPENSE, "Loan-loss expense"),
    "LOAN_LOSS_PROVISION": (AccountType.LOAN_LOSS_PROVISION, "Loan-loss provision"),
    "SUSPENSE": (AccountType.SUSPENSE, "Suspense"),
}


def as_uuid(value) -> uuid.UUID:
    """Account ids arrive as UUIDs or strings; the locked rows are keyed by UUID."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError) as exc:
        raise AccountNotFound("No such account.") from exc


class _DuplicateIdempotencyKey(Exception):
    """Internal: the entry's idempotency key exists already."""


@dataclass(frozen=True)
class Line:
    """One leg to post: which account (an id, or a `BranchGL` found under the lock), which side,
    how much."""

    account_id: object
    side: str
    amount: Decimal
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.account_id, BranchGL):
            object.__setattr__(self, "account_id", as_uuid(self.account_id))


def _require(actor, perm: str, branch_id=None) -> None:
    """Permission and branch checks. `actor=None` means the system itself (jobs, migrations)."""
    require_permission(actor, perm, branch_id=branch_id, error=NotPermitted, subject="account")


def _natural_delta(account: Account, side: str, amount: Decimal) -> Decimal:
    return amount if side == account.normal_balance else -amount


def _new_reference() -> str:
    return f"JE{timezone.localdate():%y%m%d}{secrets.token_hex(5).upper()}"


def _withdrawn_today(account: Account, on: date) -> Decimal:
    total = Transaction.objects.filter(
        account=account, type=Side.DEBIT, value_date=on, entry__kind__in=LIMITED_KINDS
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0.00")


def _check_lines(lines: Sequence[Line]) -> None:
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


def post_entry(
    *,
    kind: str,
    lines: Sequence[Line],
    narration: str,
    actor=None,
    branch_id=None,
    value_date: date | None = None,
    idempotency_key: str | None = None,
    reverses: JournalEntry | None = None,
    reversal_reason: str = "",
    metadata: dict | None = None,
    guard: Callable[[dict], None] | None = None,
    companion: CompanionRow | None = None,
) -> JournalEntry:
    """Write one balanced journal entry. The single choke point for every movement of money.

    Rules: at least two legs, each amount > 0 with at most two decimals, debits == credits; every
    account ACTIVE and in one currency; a member's deposit account never goes below
    balance − holds − minimum (available) when it is debited; daily withdrawal limits hold.
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
    _check_lines(lines)
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
                return _post_entry_locked(**arguments, writer=_write_with_sql)
            except DomainError as exc:
                refusal = exc
        raise refusal
    # A savepoint when nested: a failed INSERT must not poison the caller's transaction.
    try:
        with transaction.atomic():
            return _post_entry_locked(**arguments, writer=_write_with_orm)
    except _DuplicateIdempotencyKey:
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


def _lock_lines(lines: Sequence[Line]) -> tuple[list[Line], dict]:
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
            already = _withdrawn_today(account, value_date)
            if already + debited_today.get(pk, 0) > account.daily_withdrawal_limit:
                raise DailyLimitExceeded(
                    f"Account {account.account_number} may withdraw {account.daily_withdrawal_limit} a "
                    f"day; {already} already withdrawn today.",
                    field="amount",
                )

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
    prefetched._prefetch_done = True
    entry._prefetched_objects_cache = {"legs": prefetched}
    existing = writer(entry=entry, legs=legs, locked=locked, now=now, companion=companion)
    if existing is not None:
        return existing
    entry._state.adding = False
    for leg in legs:
        leg._state.adding = False
    return entry


def _clash(entry: JournalEntry) -> DomainError:
    if entry.reverses_id is not None:
        return AlreadyReversed(f"Entry {entry.reverses.reference} has already been reversed.")
    return Conflict("This posting clashes with an existing entry.")


def _write_with_orm(*, entry, legs, locked, now, companion) -> JournalEntry | None:
    # The companion row (if any) is left to its owner, which writes it itself (`written` stays None).
    try:
        entry.save(force_insert=True)
    except IntegrityError as exc:
        # The same idempotency key posted before, or a second reversal of one entry.
        # (No query here: on PostgreSQL the failed INSERT aborted this savepoint.)
        if entry.idempotency_key and "idempotency_key" in str(exc):
            raise _DuplicateIdempotencyKey from exc
        raise _clash(entry) from exc
    # Legs are append-only and carry no simple-history, so a bulk insert loses nothing.
    Transaction.objects.bulk_create(legs)
    # One UPDATE for every touched balance. bulk_update writes no history, which is intended here:
    # the legs are the balance's history and `balance` is excluded from Account's history.
    Account.objects.bulk_update(locked.values(), ["balance", "updated_at"])
    return None


def _write_with_sql(*, entry, legs, locked, now, companion) -> JournalEntry | None:
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


# --- Accounts -------------------------------------------------------------------------------------


def ensure_gl_account(*, branch_id, gl_code: str) -> Account:
    """The branch's internal account for `gl_code`, created on first use (for teller cash: the
    branch's vault, not a till)."""
    lookup = {"branch_id": branch_id, "gl_code": gl_code, "member__isnull": True, "till_teller__isnull": True}
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    account_type, name = BRANCH_GL_ACCOUNTS[gl_code]
    try:
        with transaction.atomic():
            return Account.objects.create(
                account_number=next_account_number(),
                name=name,
                type=account_type,
                normal_balance=Side.DEBIT if account_type in DEBIT_NORMAL_TYPES else Side.CREDIT,
                gl_code=gl_code,
                currency=settings.COOP_CURRENCY,
                branch_id=branch_id,
            )
    except IntegrityError:  # created concurrently
        return Account.objects.get(**lookup)


def ensure_till_account(*, branch_id, teller_id) -> Account:
    """The till (teller-cash sub-account) of a teller in a branch, opened at their first cash posting.

    The branch's vault (`ensure_gl_account(gl_code="TELLER_CASH")`) and its tills together are the
    branch's teller cash; cash moves between them with `move_till_cash`."""
    lookup = {"branch_id": branch_id, "till_teller_id": teller_id}
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    teller = User.objects.filter(pk=teller_id).first()
    if teller is None:
        raise NotPermitted("Unknown teller.")
    try:
        with transaction.atomic():
            return Account.objects.create(
                account_number=next_account_number(),
                name=f"Till – {teller.get_full_name() or teller.email}"[:160],
                type=AccountType.TELLER_CASH,
                normal_balance=Side.DEBIT,
                gl_code="TELLER_CASH",
                till_teller_id=teller_id,
                currency=settings.COOP_CURRENCY,
                branch_id=branch_id,
            )
    except IntegrityError:  # opened concurrently
        return Account.objects.get(**lookup)


def till_teller_of(actor, channel: str):
    """Whose till cash at the counter goes into: a staff member's own (their pk); None, the branch's
    vault, for the system (jobs, imports, the demo) and for partner systems, which hold no cash.
    (The roles come from the per-request copy of the cache that the permission check uses too.)"""
    if channel != "cash" or actor is None or not actor.pk or not actor.is_staff:
        return None
    authz = user_authz(actor)
    if authz is None or PARTNER in authz.group_names:
        return None
    return actor.pk


def counter_account_id(*, branch_id, gl_code: str, actor=None):
    """The account that takes the other side of a member's movement through `gl_code` (TELLER_CASH,
    BANK, …): for cash handled by a staff member, their till in the branch; else the branch's GL
    account. For services outside the ledger (loan repayments in cash)."""
    teller = till_teller_of(actor, "cash") if gl_code == "TELLER_CASH" else None
    if teller is not None:
        return ensure_till_account(branch_id=branch_id, teller_id=teller).pk
    return ensure_gl_account(branch_id=branch_id, gl_code=gl_code).pk


def bootstrap_branch_ledger(*, branch_id) -> list[Account]:
    """Create every internal GL account of a branch (idempotent)."""
    return [ensure_gl_account(branch_id=branch_id, gl_code=code) for code in BRANCH_GL_ACCOUNTS]


@transaction.atomic
def open_account(
    *,
    member,
    account_type: str,
    actor=None,
    minimum_balance: Decimal | None = None,
    daily_withdrawal_limit: Decimal | None = None,
    currency: str | None = None,
    name: str = "",
) -> Account:
    """Open a member account (SAVINGS, SHARES, CASH or LOAN) in the member's branch."""
    _require(actor, "ledger.add_account", member.branch_id)
    if account_type not in MEMBER_ACCOUNT_TYPES:
        raise ValidationFailed(f"{account_type!r} is not a member account type.", field="type")
    if member.status == "EXITED":
        raise Conflict(f"Member {member.member_number} has exited; accounts cannot be opened.")
    defaults = settings.LEDGER_ACCOUNT_DEFAULTS.get(account_type, {})
    if minimum_balance is None:
        minimum_balance = Decimal(defaults.get("minimum_balance", "0.00"))
    if daily_withdrawal_limit is None and defaults.get("daily_withdrawal_limit"):
        daily_withdrawal_limit = Decimal(defaults["daily_withdrawal_limit"])
    if minimum_balance < 0:
        raise ValidationFailed("The minimum balance cannot be negative.", field="minimum_balance")
    if daily_withdrawal_limit is not None and daily_withdrawal_limit <= 0:
        raise ValidationFailed("The daily limit must be positive.", field="daily_withdrawal_limit")
    label = AccountType(account_type).label
    try:
        with transaction.atomic():
            return Account.objects.create(
                account_number=next_account_number(),
                name=name or f"{member.first_name} {member.last_name} – {label}",
                member=member,
                type=account_type,
                normal_balance=Side.DEBIT if account_type in DEBIT_NORMAL_TYPES else Side.CREDIT,
                currency=currency or settings.COOP_CURRENCY,
                branch_id=member.branch_id,
                minimum_balance=money(minimum_balance),
                daily_withdrawal_limit=daily_withdrawal_limit,
                created_by=actor,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"Member {member.member_number} already has an open {label.lower()} account.", field="type"
        ) from exc


def _member_account_guard(
    *member_account_ids, actor, perm: str, expected_branch_id=None, visible_to=None, gate=None
) -> Callable[[dict], None]:
    """Checks run on the locked rows: visibility, member deposit accounts, permission, branch.

    `visible_to` (a user): the first account must be a member account that user can see (their
    branches, `view_all_branches`, or a guardian grant), else `AccountNotVisible`, which the API
    answers exactly like an unknown id."""
    member_account_ids = tuple(as_uuid(account_id) for account_id in member_account_ids)

    def guard(locked: dict) -> None:
        if visible_to is not None:
            first = locked[member_account_ids[0]]
            if first.member_id is None or not can_see_row(visible_to, Account, first.pk, first.branch_id):
                raise AccountNotVisible(member_account_ids[0])
        if expected_branch_id is not None and locked[member_account_ids[0]].branch_id != expected_branch_id:
            raise ValidationFailed("The account does not belong to the given branch.")
        for account_id in member_account_ids:
            account = locked[account_id]
            if account.type not in DEPOSIT_ACCOUNT_TYPES:
                raise ValidationFailed(
                    f"Account {account.account_number} is not a member savings, shares or cash account."
                )
        authorising = locked[member_account_ids[0]]
        _require(actor, perm, authorising.branch_id)
        if gate is not None:  # e.g. "does this need approval?" (ledger.approval_actions), last
            gate(authorising)

    return guard


def _member_deposit_account(account_id) -> Account:
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise AccountNotFound("No such account.")
    if account.type not in DEPOSIT_ACCOUNT_TYPES:
        raise ValidationFailed(
            f"Account {account.account_number} is not a member savings, shares or cash account."
        )
    return account


def _counter_gl_code(channel: str) -> str:
    gl_code = {"cash": "TELLER_CASH", "bank": "BANK"}.get(channel)
    if gl_code is None:
        raise ValidationFailed("The channel is 'cash' or 'bank'.", field="channel")
    return gl_code


def _counter_movement(
    *,
    kind: str,
    member_side: str,
    account_id,
    amount,
    actor,
    description,
    channel,
    idempotency_key,
    value_date,
    branch_id,
    visible_to,
    companion,
    default_narration: str,
    gate=None,
) -> JournalEntry:
    """Money between a member's account and its branch's teller cash (or bank) GL account.

    Cash handled by a staff member goes through their own till in the member's branch (opened on
    first use), so two tellers' postings never wait for each other's lock; cash posted by the
    system goes through the branch's vault. Both rows are locked by one read (the GL account found
    through the member account's branch, `BranchGL`); every check runs on the locked rows."""
    account_id = as_uuid(account_id)
    counter = BranchGL(_counter_gl_code(channel), of=account_id, till_teller=till_teller_of(actor, channel))
    counter_side = Side.CREDIT if member_side == Side.DEBIT else Side.DEBIT
    member_line = Line(account_id, member_side, amount, description)
    counter_line = Line(counter, counter_side, amount, description)
    return post_entry(
        kind=kind,
        # Debit leg first, so statements and the API list legs in the usual order.
        lines=[member_line, counter_line] if member_side == Side.DEBIT else [counter_line, member_line],
        narration=description or default_narration,
        actor=actor,
        branch_id=branch_id,
        idempotency_key=idempotency_key,
        value_date=value_date,
        companion=companion,
        guard=_member_account_guard(
            account_id,
            actor=actor,
            perm="ledger.post_transaction",
            expected_branch_id=branch_id,
            visible_to=visible_to,
            gate=gate,
        ),
    )


def deposit(
    *,
    account_id,
    amount: Decimal,
    actor=None,
    description: str = "",
    channel: str = "cash",
    idempotency_key: str | None = None,
    value_date: date | None = None,
    branch_id=None,
    visible_to=None,
    companion: CompanionRow | None = None,
) -> JournalEntry:
    """Member pays in: debit teller cash (or bank), credit the member's account.

    `branch_id`, when given, must be the account's branch (checked on the locked row).
    `visible_to`: see `_member_account_guard` (the API passes the caller). `companion`: see
    `post_entry`."""
    return _counter_movement(
        kind=JournalEntry.Kind.DEPOSIT,
        member_side=Side.CREDIT,
        account_id=account_id,
        amount=amount,
        actor=actor,
        description=description,
        channel=channel,
        idempotency_key=idempotency_key,
        value_date=value_date,
        branch_id=branch_id,
        visible_to=visible_to,
        companion=companion,
        default_narration="Deposit",
    )


def withdraw(
    *,
    account_id,
    amount: Decimal,
    actor=None,
    description: str = "",
    channel: str = "cash",
    idempotency_key: str | None = None,
    value_date: date | None = None,
    branch_id=None,
    visible_to=None,
    companion: CompanionRow | None = None,
    approval_gate: Callable[[Account], None] | None = None,
) -> JournalEntry:
    """Member takes out: debit the member's account, credit teller cash (or bank).

    The one entry point for a withdrawal (API and admin): a rule that applies to every
    withdrawal belongs here, before `post_entry` takes its locks. `approval_gate(account)` runs
    last on the locked member account and may refuse (ledger.approval_actions routes withdrawals
    above the policy band to an approval that way, at the cost of one cache look-up)."""
    return _counter_movement(
        kind=JournalEntry.Kind.WITHDRAWAL,
        member_side=Side.DEBIT,
        account_id=account_id,
        amount=amount,
        actor=actor,
        description=description,
        channel=channel,
        idempotency_key=idempotency_key,
        value_date=value_date,
        branch_id=branch_id,
        visible_to=visible_to,
        companion=companion,
        default_narration="Withdrawal",
        gate=approval_gate,
    )


def transfer(
    *,
    from_account_id,
    to_account_id,
    amount: Decimal,
    actor=None,
    description: str = "",
    idempotency_key: str | None = None,
    approval_gate: Callable[[Account], None] | None = None,
) -> JournalEntry:
    """Member to member, same or another branch: one entry, debit source, credit destination.

    The sender's branch authorises; the destination may be any branch's account.
    `approval_gate`: see `withdraw` (runs on the locked paying account).
    """
    if as_uuid(from_account_id) == as_uuid(to_account_id):
        raise ValidationFailed("Choose two different accounts.", field="to_account")
    return _between_two_accounts(
        kind=JournalEntry.Kind.TRANSFER,
        debit_id=from_account_id,
        credit_id=to_account_id,
        amount=amount,
        description=description,
        narration=description or "Transfer",
        actor=actor,
        idempotency_key=idempotency_key,
        guard=_member_account_guard(
            from_account_id, to_account_id, actor=actor, perm="ledger.transfer_funds", gate=approval_gate
        ),
    )


def _between_two_accounts(
    *, kind, debit_id, credit_id, amount, description, narration, actor, idempotency_key, guard
) -> JournalEntry:
    return post_entry(
        kind=kind,
        lines=[
            Line(debit_id, Side.DEBIT, amount, description),
            Line(credit_id, Side.CREDIT, amount, description),
        ],
        narration=narration,
        actor=actor,
        idempotency_key=idempotency_key,
        guard=guard,
    )


def move_till_cash(
    *,
    from_account_id,
    to_account_id,
    amount: Decimal,
    actor=None,
    description: str = "",
    idempotency_key: str | None = None,
) -> JournalEntry:
    """Cash between a branch's vault and its tellers' tills (a float issued in the morning, cash
    returned at close, a hand-over between tellers): debit the receiving teller-cash account,
    credit the giving one. Both must be teller cash of the same branch; the giving one must hold
    the amount (cash that is not in a drawer cannot leave it). Permission `ledger.manage_tills`."""
    if as_uuid(from_account_id) == as_uuid(to_account_id):
        raise ValidationFailed("Choose two different teller-cash accounts.", field="to_account")
    source_id = as_uuid(from_account_id)

    def guard(locked: dict) -> None:
        source, target = locked[source_id], locked[as_uuid(to_account_id)]
        for account in (source, target):
            if account.type != AccountType.TELLER_CASH:
                raise ValidationFailed(
                    f"Account {account.account_number} is not a vault or till.", field="to_account"
                )
        if source.branch_id != target.branch_id:
            raise ValidationFailed("Cash moves between a vault and tills of one branch.", field="to_account")
        _require(actor, "ledger.manage_tills", source.branch_id)
        if source.balance < amount:
            raise InsufficientFunds(
                f"Account {source.account_number} holds only {money(max(source.balance, 0))} in cash.",
                field="amount",
            )

    return _between_two_accounts(
        kind=JournalEntry.Kind.TILL_TRANSFER,
        debit_id=to_account_id,
        credit_id=from_account_id,
        amount=amount,
        description=description,
        narration=description or "Cash between vault and till",
        actor=actor,
        idempotency_key=idempotency_key,
        guard=guard,
    )


@transaction.atomic
def reverse_entry(*, entry_id, reason: str, actor=None) -> JournalEntry:
    """Post the mirror of an entry (every leg on the other side). Reason required; once per entry."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason for the reversal.", field="reason")
    entry = JournalEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise AccountNotFound("No such journal entry.")
    _require(actor, "ledger.reverse_transaction", entry.branch_id)
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


def _set_status(account: Account, status: str, reason: str, update: list[str]) -> Account:
    ACCOUNT_MACHINE.move(account, status)  # the move must exist in ledger/workflow.py's table
    account.status_reason = reason
    account._change_reason = reason
    account.save(update_fields=["status", "status_reason", "updated_at", *update])
    return account


@transaction.atomic
def freeze_account(*, account_id, reason: str, actor=None) -> Account:
    if not (reason or "").strip():
        raise ValidationFailed("Give a reason for freezing the account.", field="reason")
    account = accounts_for_update([account_id]).first()
    if account is None:
        raise AccountNotFound("No such account.")
    _require(actor, "ledger.freeze_account", account.branch_id)
    if account.status != Account.Status.ACTIVE:
        raise AccountNotActive(f"Account {account.account_number} is {account.status.lower()}.")
    from approvals.services import ensure_not_pending  # lazy: approvals' models point at the ledger's

    # A closure waiting for approval keeps the account as the approver saw it (409 otherwise).
    ensure_not_pending(subject=account, action_type="account_closure")
    return _set_status(account, Account.Status.FROZEN, reason.strip(), [])


@transaction.atomic
def unfreeze_account(*, account_id, reason: str, actor=None) -> Account:
    account = accounts_for_update([account_id]).first()
    if account is None:
        raise AccountNotFound("No such account.")
    _require(actor, "ledger.freeze_account", account.branch_id)
    if account.status != Account.Status.FROZEN:
        raise Conflict(f"Account {account.account_number} is not frozen.")
    return _set_status(account, Account.Status.ACTIVE, (reason or "Unfrozen").strip(), [])


@transaction.atomic
def close_account(*, account_id, reason: str, actor=None, sweep_to_account_id=None) -> Account:
    """Close an account. A remaining balance must be swept to another account first (one entry)."""
    if not (reason or "").strip():
        raise ValidationFailed("Give a reason for closing the account.", field="reason")
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise AccountNotFound("No such account.")
    _require(actor, "ledger.close_account", account.branch_id)
    if account.status == Account.Status.CLOSED:
        raise Conflict(f"Account {account.account_number} is already closed.")
    if account.held_amount:
        raise AccountNotEmpty(
            f"Account {account.account_number} has {account.held_amount} on hold; release the holds first."
        )
    if account.balance < 0:
        raise AccountNotEmpty(f"Account {account.account_number} is overdrawn ({account.balance}).")
    if account.balance > 0:
        if sweep_to_account_id is None:
            raise AccountNotEmpty(
                f"Account {account.account_number} still holds {account.balance}; choose an account "
                "to sweep it to.",
                field="sweep_to_account",
            )
        target = _member_deposit_account(sweep_to_account_id)
        if target.pk == account.pk:
            raise ValidationFailed("Sweep to a different account.", field="sweep_to_account")
        post_entry(
            kind=JournalEntry.Kind.SWEEP,
            lines=[
                Line(account.pk, Side.DEBIT, account.balance, "Closing sweep"),
                Line(target.pk, Side.CREDIT, account.balance, "Closing sweep"),
            ],
            narration=f"Closing sweep {account.account_number} → {target.account_number}",
            actor=actor,
            branch_id=account.branch_id,
        )
    account = accounts_for_update([account_id]).get()
    if account.balance != 0:  # a posting slipped in between: refuse rather than close with money
        raise AccountNotEmpty(f"Account {account.account_number} received money meanwhile; retry.")
    account.closed_at = timezone.now()
    return _set_status(account, Account.Status.CLOSED, reason.strip(), ["closed_at"])


# --- Holds ----------------------------------------------------------------------------------------


@transaction.atomic
def place_hold(*, account_id, amount: Decimal, reason: str, actor=None, reference: str = "") -> Hold:
    """Reserve part of the available balance (e.g. a guarantor's pledge)."""
    if not isinstance(amount, Decimal) or amount <= 0 or amount != money(amount):
        raise ValidationFailed("The hold amount must be a positive amount in kobo.", field="amount")
    account = accounts_for_update([account_id]).first()
    if account is None:
        raise AccountNotFound("No such account.")
    _require(actor, "ledger.manage_holds", account.branch_id)
    if account.status != Account.Status.ACTIVE:
        raise AccountNotActive(f"Account {account.account_number} is {account.status.lower()}.")
    if amount > account.available_balance:
        raise InsufficientFunds(
            f"Account {account.account_number} has only {money(max(account.available_balance, 0))} free.",
            field="amount",
        )
    account.held_amount += amount
    account._change_reason = f"hold: {reason}"
    account.save(update_fields=["held_amount", "updated_at"])
    return Hold.objects.create(
        account=account,
        amount=amount,
        original_amount=amount,
        reason=reason,
        reference=reference,
        created_by=actor,
    )


@transaction.atomic
def release_hold(*, hold_id, actor=None, amount: Decimal | None = None) -> Hold:
    """Release all of a hold, or `amount` of it (guarantees shrink as a loan is repaid)."""
    hold = hold_for_update(hold_id).first()
    if hold is None:
        raise AccountNotFound("No such hold.")
    account = accounts_for_update([hold.account_id]).get()
    _require(actor, "ledger.manage_holds", account.branch_id)
    if hold.status != Hold.Status.ACTIVE:
        raise Conflict("This hold was already released.")
    release = hold.amount if amount is None else min(money(amount), hold.amount)
    if release <= 0:
        raise ValidationFailed("Release a positive amount.", field="amount")
    hold.amount -= release
    if hold.amount == 0:
        hold.status, hold.released_at = Hold.Status.RELEASED, timezone.now()
    hold.save(update_fields=["amount", "status", "released_at", "updated_at"])
    account.held_amount -= release
    account._change_reason = f"hold released: {hold.reason}"
    account.save(update_fields=["held_amount", "updated_at"])
    return hold
