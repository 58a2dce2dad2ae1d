"""The ledger's sensitive actions routed through approvals (maker-checker).

Registered in LedgerConfig.ready() (approvals imports no domain app):

| action type | subject | when (default policy bands, editable) | on final approval |
|---|---|---|---|
| withdrawal | PostingRequest | above ₦500,000 | the withdrawal is posted |
| transfer | PostingRequest | above ₦1,000,000 | the transfer is posted |
| account_closure | Account | any closure of an account that still holds money | swept and closed |
| reversal | JournalEntry | every reversal | the mirror entry is posted |

The request services below are what the admin and the API call: each either acts at once (no policy
band applies) or opens an approval request and answers what is waiting.

Who acts on approval: the *requester*. The final approval runs the same service the requester would
have run, with the requester as actor, so that service's own permission and branch checks are made
again against the requester (who must still hold `ledger.post_transaction`, `transfer_funds`,
`close_account` or `reverse_transaction` and still work in the branch); the approver needs no ledger
permission at all, only a role of the policy's level (the approvals service checks it, the branch and
the four-eyes rule). The entry records the requester as `posted_by`; the approver is on the approval
request (decision, audit log) and the request links the entry (`record_result`).

Pending withdrawals and transfers place a hold for the amount on the paying account when they are
asked for (so the money cannot be spent meanwhile, and a request beyond the available balance is
refused at once); the hold is released on rejection, cancellation or expiry and released just before
the posting, in the same transaction, on approval. The posting's idempotency key is derived from the
PostingRequest's id, so a retried callback never posts twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from approvals.models import ApprovalRequest
from approvals.registry import ActionType, register
from approvals.selectors import approval_checker, approval_required
from approvals.services import ensure_not_pending, record_result, request_approval
from cooperative.exceptions import Conflict, DomainError, ValidationFailed
from cooperative.money import amount_in_words, money
from cooperative.permissions import can_see_row

from . import services
from .exceptions import (
    AccountNotActive,
    AccountNotEmpty,
    AccountNotFound,
    AccountNotVisible,
    AlreadyReversed,
    CurrencyMismatch,
)
from .lock_objects import accounts_for_update
from .models import Account, Hold, JournalEntry, PostingRequest, Side, Transaction
from .selectors import LIMITED_KINDS
from .services import _common

WITHDRAWAL = "withdrawal"
TRANSFER = "transfer"
ACCOUNT_CLOSURE = "account_closure"
REVERSAL = "reversal"

SUMMARY_TEMPLATE = "ledger/approval_summary.html"
RECENT_MOVEMENTS = 10


@dataclass(frozen=True)
class Pending:
    """What a request service answers when the action waits for approval."""

    approval_request: ApprovalRequest
    posting_request: PostingRequest | None = None

    def as_data(self) -> dict:
        """The body of the API's 202 reply (plain JSON, stored as the idempotent response)."""
        data = {
            "status": "PENDING_APPROVAL",
            "approval_request": str(self.approval_request.pk),
            "action_type": self.approval_request.action_type,
            "amount": f"{self.approval_request.amount:.2f}",
            "required_approvers": self.approval_request.required_approvers,
            "approval_level": self.approval_request.level_label,
            "detail": f"{self.approval_request.action_label} sent for approval.",
        }
        if self.posting_request is not None:
            data["posting_request"] = str(self.posting_request.pk)
        return data


def _member_display(account: Account) -> str:
    member = account.member
    return f"{member.full_name} ({member.member_number})" if member is not None else account.name


def _naira(value: Decimal | None) -> str:
    return "" if value is None else f"₦{value:,.2f}"


# --- withdrawals and transfers ------------------------------------------------------------------


def _needs_approval(action_type: str, amount: Decimal, branch_id) -> bool:
    return approval_required(action_type=action_type, amount=money(amount), branch_id=branch_id)


class _ApprovalNeeded(DomainError):
    """Internal: raised by the gate on the locked paying account, before anything is written (a
    DomainError, so `post_entry` leaves the caller's transaction usable); never leaves this module."""


def _gate(action_type: str, amount):
    """Run by the posting service on the locked paying account, after its own checks. The policy
    table is read from the cache now, before any lock is taken; the gate itself does no I/O, so a
    withdrawal below the band holds its locks no longer than before."""
    required = approval_checker(action_type=action_type)

    def gate(account: Account) -> None:
        if required(amount=amount, branch_id=account.branch_id):
            raise _ApprovalNeeded("This needs approval.")

    return gate


def _post_or_request(action_type: str, post, **request) -> JournalEntry | Pending:
    """Post at once through `post(approval_gate)` when no policy band applies; when the gate on the
    locked account says approval is needed (nothing written yet), file a PostingRequest instead."""
    try:
        return post(_gate(action_type, request["amount"]))
    except _ApprovalNeeded:
        return _request_posting(**request)


def withdraw(
    *,
    account_id,
    amount: Decimal,
    actor,
    description: str = "",
    channel: str = "cash",
    idempotency_key: str | None = None,
    visible_to=None,
    companion=None,
) -> JournalEntry | Pending:
    """A withdrawal at the counter or over the API: posted at once (a JournalEntry) when no policy
    band applies, otherwise a PostingRequest waits for approval (`Pending`). `companion`: see
    `ledger.services.post_entry` (written only when the withdrawal is posted)."""
    return _post_or_request(
        WITHDRAWAL,
        lambda gate: services.withdraw(
            account_id=account_id,
            amount=amount,
            actor=actor,
            description=description,
            channel=channel,
            idempotency_key=idempotency_key,
            visible_to=visible_to,
            companion=companion,
            approval_gate=gate,
        ),
        kind=PostingRequest.Kind.WITHDRAWAL,
        account_id=account_id,
        to_account_id=None,
        amount=amount,
        actor=actor,
        description=description,
        channel=channel,
        idempotency_key=idempotency_key,
        visible_to=visible_to,
    )


def transfer(
    *,
    from_account_id,
    to_account_id,
    amount: Decimal,
    actor,
    description: str = "",
    idempotency_key: str | None = None,
) -> JournalEntry | Pending:
    """A member-to-member transfer: posted at once, or waiting for approval (`Pending`)."""
    return _post_or_request(
        TRANSFER,
        lambda gate: services.transfer(
            from_account_id=from_account_id,
            to_account_id=to_account_id,
            amount=amount,
            actor=actor,
            description=description,
            idempotency_key=idempotency_key,
            approval_gate=gate,
        ),
        kind=PostingRequest.Kind.TRANSFER,
        account_id=from_account_id,
        to_account_id=to_account_id,
        amount=amount,
        actor=actor,
        description=description,
        channel="",
        idempotency_key=idempotency_key,
        visible_to=None,
    )


class _NoApprovalAfterAll(Exception):
    """Internal: the policy changed between the cheap check and the request; act at once."""


def _pending_for(posting_request: PostingRequest) -> Pending:
    approval = (
        ApprovalRequest.objects.filter(
            action_type=WITHDRAWAL if posting_request.kind == PostingRequest.Kind.WITHDRAWAL else TRANSFER,
            object_id=str(posting_request.pk),
        )
        .order_by("created_at")
        .first()
    )
    return Pending(approval_request=approval, posting_request=posting_request)


def _check_posting_accounts(
    *, kind, account: Account, to_account_id, actor, visible_to, channel
) -> Account | None:
    """The checks the posting service makes on its locked rows, made now so a request that could
    never be posted is refused at once (the posting checks them again on approval)."""
    if visible_to is not None and (
        account.member_id is None or not can_see_row(visible_to, Account, account.pk, account.branch_id)
    ):
        raise AccountNotVisible(account.pk)
    if account.type not in services.DEPOSIT_ACCOUNT_TYPES:
        raise ValidationFailed(
            f"Account {account.account_number} is not a member savings, shares or cash account."
        )
    if kind == PostingRequest.Kind.WITHDRAWAL:
        _common.require(actor, "ledger.post_transaction", account.branch_id)
        _common.counter_gl_code(channel)
        target = None
    else:
        _common.require(actor, "ledger.transfer_funds", account.branch_id)
        if services.as_uuid(to_account_id) == account.pk:
            raise ValidationFailed("Choose two different accounts.", field="to_account")
        target = _common.member_deposit_account(services.as_uuid(to_account_id))
        if target.status != Account.Status.ACTIVE:
            raise AccountNotActive(
                f"Account {target.account_number} is {target.get_status_display().lower()}."
            )
        if target.currency != account.currency:
            raise CurrencyMismatch(f"An entry cannot mix currencies ({account.currency}, {target.currency}).")
    if account.status != Account.Status.ACTIVE:
        raise AccountNotActive(f"Account {account.account_number} is {account.get_status_display().lower()}.")
    return target


def _request_posting(
    *, kind, account_id, to_account_id, amount, actor, description, channel, idempotency_key, visible_to
) -> JournalEntry | Pending:
    if idempotency_key:
        earlier = PostingRequest.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:  # a replay (double click, retried API call): nothing new
            return _pending_for(earlier)
    amount = Decimal(amount)
    if amount != money(amount) or amount <= 0:
        raise ValidationFailed("The amount must be positive, with at most two decimals.", field="amount")
    try:
        with transaction.atomic():
            account = accounts_for_update([services.as_uuid(account_id)]).select_related("member").first()
            if account is None:
                raise AccountNotFound("No such account.")
            target = _check_posting_accounts(
                kind=kind,
                account=account,
                to_account_id=to_account_id,
                actor=actor,
                visible_to=visible_to,
                channel=channel,
            )
            posting_request = PostingRequest(
                kind=kind,
                account=account,
                to_account=target,
                amount=amount,
                description=(description or "")[:255],
                channel=channel or "",
                branch_id=account.branch_id,
                requested_by=actor,
                idempotency_key=idempotency_key or None,
            )
            posting_request._change_reason = "requested"
            try:
                with transaction.atomic():
                    posting_request.save(force_insert=True)
            except IntegrityError:  # a racing duplicate with the same key committed first
                earlier = PostingRequest.objects.filter(idempotency_key=idempotency_key).first()
                if earlier is None:
                    raise
                return _pending_for(earlier)
            label = posting_request.get_kind_display()
            hold = services.place_hold(
                account_id=account.pk,
                amount=amount,
                reason=f"{label} awaiting approval",
                reference=posting_request.approval_key,
            )
            posting_request.hold = hold
            posting_request.save(update_fields=["hold", "updated_at"])
            to_text = f" to {target.account_number}" if target is not None else ""
            approval = request_approval(
                action_type=WITHDRAWAL if kind == PostingRequest.Kind.WITHDRAWAL else TRANSFER,
                subject=posting_request,
                amount=amount,
                branch_id=account.branch_id,
                requested_by=actor,
                title=f"{label} from {account.account_number}{to_text}",
                member_display=_member_display(account),
                reason=description or "",
                metadata={
                    "account": account.account_number,
                    "channel": channel or "",
                    "to_account": to_text[4:],
                },
            )
            if approval is None:
                raise _NoApprovalAfterAll
            return Pending(approval_request=approval, posting_request=posting_request)
    except _NoApprovalAfterAll:
        pass
    if kind == PostingRequest.Kind.WITHDRAWAL:
        return services.withdraw(
            account_id=account_id,
            amount=amount,
            actor=actor,
            description=description,
            channel=channel,
            idempotency_key=idempotency_key,
            visible_to=visible_to,
        )
    return services.transfer(
        from_account_id=account_id,
        to_account_id=to_account_id,
        amount=amount,
        actor=actor,
        description=description,
        idempotency_key=idempotency_key,
    )


def _locked_posting_request(request: ApprovalRequest) -> PostingRequest:
    posting_request = (
        PostingRequest.objects.select_for_update(of=("self",)).filter(pk=request.object_id).first()
    )
    if posting_request is None:
        raise Conflict("The withdrawal or transfer behind this request no longer exists.")
    return posting_request


def _release(posting_request: PostingRequest) -> None:
    if posting_request.hold_id is None:
        return
    hold = Hold.objects.filter(pk=posting_request.hold_id).values_list("status", flat=True).first()
    if hold == Hold.Status.ACTIVE:
        services.release_hold(hold_id=posting_request.hold_id)


def _finish(posting_request: PostingRequest, status: str, reason: str, fields=()) -> None:
    posting_request.status = status
    posting_request.completed_at = timezone.now()
    posting_request._change_reason = reason[:100]
    posting_request.save(update_fields=["status", "completed_at", "updated_at", *fields])


def on_posting_approved(request: ApprovalRequest, actor) -> None:
    """Post the withdrawal or transfer, once, as the requester (their permission is checked again).
    A refusal (insufficient funds now, frozen account, lost permission) rolls the decision back."""
    posting_request = _locked_posting_request(request)
    if posting_request.status == PostingRequest.Status.POSTED:
        record_result(request, posting_request.entry)
        return
    if posting_request.status != PostingRequest.Status.PENDING:
        raise Conflict(
            f"This {posting_request.get_kind_display().lower()} is {posting_request.status.lower()}."
        )
    _release(posting_request)  # the reserved money becomes available to exactly this posting
    common = {
        "amount": posting_request.amount,
        "actor": posting_request.requested_by,
        "description": posting_request.description,
        "idempotency_key": posting_request.approval_key,
    }
    if posting_request.kind == PostingRequest.Kind.WITHDRAWAL:
        entry = services.withdraw(
            account_id=posting_request.account_id, channel=posting_request.channel, **common
        )
    else:
        entry = services.transfer(
            from_account_id=posting_request.account_id, to_account_id=posting_request.to_account_id, **common
        )
    posting_request.entry = entry
    _finish(posting_request, PostingRequest.Status.POSTED, f"posted on approval by {actor}", ["entry"])
    record_result(request, entry)


def on_posting_rejected(request: ApprovalRequest, actor, comment: str) -> None:
    posting_request = _locked_posting_request(request)
    if posting_request.status != PostingRequest.Status.PENDING:
        return
    _release(posting_request)
    _finish(posting_request, PostingRequest.Status.REJECTED, f"rejected by {actor}: {comment}")


def on_posting_cancelled(request: ApprovalRequest, actor, reason: str) -> None:
    """A cancellation (actor: the requester) or an expiry (actor None): release the reserved money."""
    posting_request = _locked_posting_request(request)
    if posting_request.status != PostingRequest.Status.PENDING:
        return
    _release(posting_request)
    expired = request.status == ApprovalRequest.Status.EXPIRED
    status = PostingRequest.Status.EXPIRED if expired else PostingRequest.Status.CANCELLED
    _finish(posting_request, status, f"{status.lower()}: {reason}")


# --- account closures ---------------------------------------------------------------------------


def close_account(*, account_id, reason: str, actor, sweep_to_account_id=None) -> Account | Pending:
    """Close an account: at once when it is empty (or no policy band applies), otherwise the closure
    with its sweep waits for approval. A pending closure blocks another closure of the account (and
    a freeze, see ledger.services.freeze_account)."""
    if not (reason or "").strip():
        raise ValidationFailed("Give a reason for closing the account.", field="reason")
    account = Account.objects.select_related("member").filter(pk=services.as_uuid(account_id)).first()
    if account is None:
        raise AccountNotFound("No such account.")
    _common.require(actor, "ledger.close_account", account.branch_id)
    ensure_not_pending(subject=account, action_type=ACCOUNT_CLOSURE)
    if account.balance <= 0 or not _needs_approval(ACCOUNT_CLOSURE, account.balance, account.branch_id):
        return services.close_account(
            account_id=account.pk, reason=reason, actor=actor, sweep_to_account_id=sweep_to_account_id
        )
    if account.status == Account.Status.CLOSED:
        raise Conflict(f"Account {account.account_number} is already closed.")
    if account.held_amount:
        raise AccountNotEmpty(
            f"Account {account.account_number} has {account.held_amount} on hold; release the holds first."
        )
    if sweep_to_account_id is None:
        raise AccountNotEmpty(
            f"Account {account.account_number} still holds {account.balance}; choose an account to "
            "sweep it to.",
            field="sweep_to_account",
        )
    target = _common.member_deposit_account(services.as_uuid(sweep_to_account_id))
    if target.pk == account.pk:
        raise ValidationFailed("Sweep to a different account.", field="sweep_to_account")
    approval = request_approval(
        action_type=ACCOUNT_CLOSURE,
        subject=account,
        amount=account.balance,
        branch_id=account.branch_id,
        requested_by=actor,
        title=f"Closure of {account.account_number}, sweep to {target.account_number}",
        member_display=_member_display(account),
        reason=reason.strip(),
        metadata={
            "reason": reason.strip(),
            "sweep_to_account_id": str(target.pk),
            "sweep_to_account": target.account_number,
        },
    )
    if approval is None:  # the policy changed meanwhile
        return services.close_account(
            account_id=account.pk, reason=reason, actor=actor, sweep_to_account_id=target.pk
        )
    return Pending(approval_request=approval)


def on_closure_approved(request: ApprovalRequest, actor) -> None:
    """Sweep and close as the requester. The approver approved sweeping `request.amount`: if the
    balance moved since, the closure is refused (reject it and ask again)."""
    account = accounts_for_update([services.as_uuid(request.object_id)]).first()
    if account is None:
        raise AccountNotFound("No such account.")
    if account.balance != request.amount:
        raise Conflict(
            f"Account {account.account_number} now holds {account.balance}, not the {request.amount} "
            "this closure was asked for; reject it and ask again."
        )
    services.close_account(
        account_id=account.pk,
        reason=request.metadata.get("reason") or request.reason or "Closed on approval",
        actor=request.requested_by,
        sweep_to_account_id=services.as_uuid(request.metadata["sweep_to_account_id"]),
    )
    sweep = (
        JournalEntry.objects.filter(kind=JournalEntry.Kind.SWEEP, legs__account_id=account.pk)
        .order_by("-posted_at")
        .first()
    )
    if sweep is not None:
        record_result(request, sweep)


# --- reversals ----------------------------------------------------------------------------------


def _entry_amount(entry: JournalEntry) -> Decimal:
    total = entry.legs.filter(type=Side.DEBIT).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0.00")


def reverse_entry(*, entry_id, reason: str, actor) -> JournalEntry | Pending:
    """Reverse an entry: every reversal waits for approval under the default policy. The requester
    must hold `ledger.reverse_transaction`; a pending reversal blocks a second request for it."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason for the reversal.", field="reason")
    entry = JournalEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise AccountNotFound("No such journal entry.")
    _common.require(actor, "ledger.reverse_transaction", entry.branch_id)
    if entry.reverses_id is not None:
        raise Conflict(f"Entry {entry.reference} is itself a reversal; post a new entry instead.")
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise AlreadyReversed(f"Entry {entry.reference} has already been reversed.")
    ensure_not_pending(subject=entry, action_type=REVERSAL)
    amount = _entry_amount(entry)
    if _needs_approval(REVERSAL, amount, entry.branch_id):
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
    return services.reverse_entry(entry_id=entry.pk, reason=reason, actor=actor)


def _entry_member(entry: JournalEntry) -> str:
    leg = entry.legs.select_related("account__member").filter(account__member__isnull=False).first()
    return _member_display(leg.account) if leg is not None else ""


def on_reversal_approved(request: ApprovalRequest, actor) -> None:
    """Post the mirror entry as the requester (their reverse_transaction permission and branch are
    checked again); `reverse_entry` refuses a second reversal of one entry."""
    mirror = services.reverse_entry(
        entry_id=services.as_uuid(request.object_id),
        reason=request.metadata.get("reason") or request.reason,
        actor=request.requested_by,
    )
    record_result(request, mirror)


# --- the decision page --------------------------------------------------------------------------


def _withdrawn_today(account: Account) -> Decimal:
    total = Transaction.objects.filter(
        account=account,
        type=Side.DEBIT,
        value_date=timezone.localdate(),
        entry__kind__in=LIMITED_KINDS,
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0.00")


def _movements(account: Account) -> list[dict]:
    legs = account.transactions.select_related("entry").order_by("-created_at", "-id")[:RECENT_MOVEMENTS]
    return [
        {
            "when": leg.created_at,
            "reference": leg.reference,
            "kind": leg.entry.get_kind_display(),
            "description": leg.description,
            "debit": _naira(leg.amount) if leg.type == Side.DEBIT else "",
            "credit": _naira(leg.amount) if leg.type == Side.CREDIT else "",
            "balance": _naira(leg.balance_after),
        }
        for leg in legs
    ]


def _account_rows(account: Account) -> list[tuple[str, str]]:
    return [
        ("Member", _member_display(account)),
        ("Account", f"{account.account_number} – {account.get_type_display()} ({account.branch})"),
        ("Status", account.get_status_display()),
        ("Balance", _naira(account.balance)),
        ("Available balance", _naira(account.available_balance)),
        ("Held", _naira(account.held_amount)),
    ]


def posting_summary(request: ApprovalRequest, user) -> dict:
    posting_request = (
        PostingRequest.objects.select_related(
            "account__member", "account__branch", "to_account__member", "entry"
        )
        .filter(pk=request.object_id)
        .first()
    )
    if posting_request is None:
        return {"template": "approvals/summary_rows.html", "rows": [("Subject", "no longer exists")]}
    account = posting_request.account
    rows = [
        ("Operation", posting_request.get_kind_display()),
        ("Amount", _naira(posting_request.amount)),
        ("In words", amount_in_words(posting_request.amount, account.currency)),
        *_account_rows(account),
        ("Withdrawn today", _naira(_withdrawn_today(account))),
    ]
    if posting_request.to_account_id:
        target = posting_request.to_account
        rows.append(("To account", f"{target.account_number} – {_member_display(target)}"))
    if posting_request.channel:
        rows.append(("Channel", "Cash at the counter" if posting_request.channel == "cash" else "Bank"))
    if posting_request.description:
        rows.append(("Description", posting_request.description))
    rows.append(("Posting", posting_request.get_status_display()))
    if posting_request.entry_id:
        rows.append(("Journal entry", posting_request.entry.reference))
    return {"template": SUMMARY_TEMPLATE, "rows": rows, "movements": _movements(account)}


def closure_summary(request: ApprovalRequest, user) -> dict:
    account = Account.objects.select_related("member", "branch").filter(pk=request.object_id).first()
    if account is None:
        return {"template": "approvals/summary_rows.html", "rows": [("Subject", "no longer exists")]}
    target = (
        Account.objects.select_related("member", "branch")
        .filter(pk=request.metadata.get("sweep_to_account_id"))
        .first()
    )
    rows = [
        ("Operation", "Close the account and sweep its balance"),
        *_account_rows(account),
        ("Balance when asked", _naira(request.amount)),
        (
            "Sweep to",
            f"{target.account_number} – {_member_display(target)} ({target.branch})" if target else "—",
        ),
        ("Reason", request.metadata.get("reason") or request.reason),
    ]
    return {"template": SUMMARY_TEMPLATE, "rows": rows, "movements": _movements(account)}


def reversal_summary(request: ApprovalRequest, user) -> dict:
    entry = JournalEntry.objects.select_related("posted_by", "branch").filter(pk=request.object_id).first()
    if entry is None:
        return {"template": "approvals/summary_rows.html", "rows": [("Subject", "no longer exists")]}
    rows = [
        ("Entry", f"{entry.reference} – {entry.get_kind_display()}"),
        ("Narration", entry.narration),
        ("Posted by", str(entry.posted_by) if entry.posted_by_id else "the system"),
        ("Posted at", timezone.localtime(entry.posted_at).strftime("%d %b %Y %H:%M")),
        ("Value date", entry.value_date.isoformat()),
        ("Amount", _naira(request.amount)),
        ("Reason for the reversal", request.metadata.get("reason") or request.reason),
    ]
    legs = [
        {
            "account": leg.account.account_number,
            "name": leg.account.name,
            "debit": _naira(leg.amount) if leg.type == Side.DEBIT else "",
            "credit": _naira(leg.amount) if leg.type == Side.CREDIT else "",
            "description": leg.description,
        }
        for leg in entry.legs.select_related("account").order_by("-type", "pk")
    ]
    return {"template": SUMMARY_TEMPLATE, "rows": rows, "legs": legs}


# --- registration -------------------------------------------------------------------------------


def register_action_types() -> None:
    register(
        ActionType(
            code=WITHDRAWAL,
            label="Withdrawal",
            on_approved=on_posting_approved,
            on_rejected=on_posting_rejected,
            on_cancelled=on_posting_cancelled,
            summary=posting_summary,
        )
    )
    register(
        ActionType(
            code=TRANSFER,
            label="Transfer",
            on_approved=on_posting_approved,
            on_rejected=on_posting_rejected,
            on_cancelled=on_posting_cancelled,
            summary=posting_summary,
        )
    )
    # Closures and reversals reserve nothing while they wait, so a rejection, cancellation or expiry
    # has nothing to undo: the account and the entry simply stay as they are.
    register(
        ActionType(
            code=ACCOUNT_CLOSURE,
            label="Account closure",
            on_approved=on_closure_approved,
            summary=closure_summary,
        )
    )
    register(
        ActionType(
            code=REVERSAL, label="Reversal", on_approved=on_reversal_approved, summary=reversal_summary
        )
    )


def pending_posting_requests(*, account: Account):
    """The account's withdrawals and transfers waiting for approval (shown on the account page)."""
    return PostingRequest.objects.filter(
        Q(account=account) | Q(to_account=account), status=PostingRequest.Status.PENDING
    ).order_by("created_at")


__all__ = [
    "ACCOUNT_CLOSURE",
    "REVERSAL",
    "TRANSFER",
    "WITHDRAWAL",
    "Pending",
    "close_account",
    "register_action_types",
    "reverse_entry",
    "transfer",
    "withdraw",
]
