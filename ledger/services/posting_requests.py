"""Money actions that wait for approval (maker-checker), on the ledger's side.

A withdrawal or transfer above its policy band becomes a `PostingRequest`: the amount is held on the
paying account when it is asked for (so it cannot be spent meanwhile, and a request beyond the
available balance is refused at once), and an approval request is opened. A cash deposit above its
band becomes one too, with nothing held (no money leaves the member's account; the cash stays
with the teller until the deposit is approved and posted). The hold is released on
rejection, cancellation or expiry, and just before the posting, in the same transaction, on
approval (`ledger.approval_actions`). The posting's idempotency key is derived from the
PostingRequest's id, so a retried callback never posts twice.

The band is asked on the locked paying account, inside the posting itself (`approval_gate`): the
policy table comes from the cache, so a withdrawal below the band costs one cache look-up and holds
its locks no longer than before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.models import ApprovalRequest
from approvals.selectors import approval_checker, approval_required
from approvals.services import request_approval
from cooperative.exceptions import DomainError, ValidationFailed
from cooperative.history import set_change_reason
from cooperative.models import User
from cooperative.money import money
from cooperative.permissions import can_see_row

from ..exceptions import AccountNotActive, AccountNotFound, AccountNotVisible, CurrencyMismatch
from ..lock_objects import accounts_for_update
from ..models import Account, Hold, JournalEntry, PostingRequest
from ..selectors import member_display
from ._common import DEPOSIT_ACCOUNT_TYPES, as_uuid, counter_gl_code, member_deposit_account, require
from .holds import place_hold, release_hold

# The ledger's action types in the approvals registry (ledger.approval_actions registers them).
WITHDRAWAL = "withdrawal"
TRANSFER = "transfer"
DEPOSIT = "deposit"
ACCOUNT_CLOSURE = "account_closure"
REVERSAL = "reversal"


@dataclass(frozen=True)
class Pending:
    """What a money service answers when the action waits for approval."""

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


def needs_approval(action_type: str, amount: Decimal, branch_id: uuid.UUID) -> bool:
    return approval_required(action_type=action_type, amount=money(amount), branch_id=branch_id)


class _ApprovalNeeded(DomainError):
    """Internal: raised by the gate on the locked paying account, before anything is written (a
    DomainError, so `post_entry` leaves the caller's transaction usable); never leaves this module."""


def _gate(action_type: str, amount: Decimal) -> Callable[[Account], None]:
    """Run by the posting on the locked paying account, after its own checks. The policy table is
    read from the cache now, before any lock is taken; the gate itself does no I/O."""
    required = approval_checker(action_type=action_type)

    def gate(account: Account) -> None:
        if required(amount=amount, branch_id=account.branch_id):
            raise _ApprovalNeeded("This needs approval.")

    return gate


def post_or_request(
    action_type: str, post: Callable[..., JournalEntry], *, actor: User | None, **request
) -> JournalEntry | Pending:
    """Post at once through `post(approval_gate)` when no policy band applies; when the gate on the
    locked account says approval is needed (nothing written yet), file a PostingRequest instead.
    The system itself (`actor=None`: jobs, the demo seed) asks nobody: there is no requester to
    post as on approval, and every other rule still holds."""
    if actor is None:
        return post(None)
    try:
        return post(_gate(action_type, request["amount"]))
    except _ApprovalNeeded:
        return _request_posting(post, actor=actor, **request)


class _NoApprovalAfterAll(Exception):
    """Internal: the policy changed between the cheap check and the request; post at once
    (`post(None)`, the posting without the approval gate)."""


# The approval action type of each kind of PostingRequest.
ACTION_OF_KIND: dict[str, str] = {
    PostingRequest.Kind.WITHDRAWAL: WITHDRAWAL,
    PostingRequest.Kind.TRANSFER: TRANSFER,
    PostingRequest.Kind.DEPOSIT: DEPOSIT,
}


def _pending_for(posting_request: PostingRequest) -> Pending:
    approval = (
        ApprovalRequest.objects.filter(
            action_type=ACTION_OF_KIND[posting_request.kind],
            object_id=str(posting_request.pk),
        )
        .order_by("created_at")
        .first()
    )
    assert approval is not None  # opened in the transaction that saved the posting request
    return Pending(approval_request=approval, posting_request=posting_request)


def _check_posting_accounts(
    *,
    kind: str,
    account: Account,
    to_account_id: uuid.UUID | None,
    actor: User | None,
    visible_to: User | None,
    channel: str,
) -> Account | None:
    """The checks the posting makes on its locked rows, made now so a request that could never be
    posted is refused at once (the posting checks them again on approval)."""
    if visible_to is not None and (
        account.member_id is None or not can_see_row(visible_to, Account, account.pk, account.branch_id)
    ):
        raise AccountNotVisible(account.pk)
    if account.type not in DEPOSIT_ACCOUNT_TYPES:
        raise ValidationFailed(
            f"Account {account.account_number} is not a member savings, shares or cash account."
        )
    if kind in (PostingRequest.Kind.WITHDRAWAL, PostingRequest.Kind.DEPOSIT):
        require(actor, "ledger.post_transaction", account.branch_id)
        counter_gl_code(channel)
        target = None
    else:
        require(actor, "ledger.transfer_funds", account.branch_id)
        if as_uuid(to_account_id) == account.pk:
            raise ValidationFailed("Choose two different accounts.", field="to_account")
        target = member_deposit_account(as_uuid(to_account_id))
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
    post: Callable[..., JournalEntry],
    *,
    kind: str,
    account_id: uuid.UUID,
    to_account_id: uuid.UUID | None,
    amount: Decimal,
    actor: User | None,
    description: str,
    channel: str,
    idempotency_key: str | None,
    visible_to: User | None,
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
            account = accounts_for_update([as_uuid(account_id)]).select_related("member").first()
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
            set_change_reason(posting_request, "requested")
            try:
                with transaction.atomic():
                    posting_request.save(force_insert=True)
            except IntegrityError:  # a racing duplicate with the same key committed first
                earlier = PostingRequest.objects.filter(idempotency_key=idempotency_key).first()
                if earlier is None:
                    raise
                return _pending_for(earlier)
            label = posting_request.get_kind_display()
            if kind != PostingRequest.Kind.DEPOSIT:  # a deposit takes nothing from the account
                hold = place_hold(
                    account_id=account.pk,
                    amount=amount,
                    reason=f"{label} awaiting approval",
                    reference=posting_request.approval_key,
                )
                posting_request.hold = hold
                posting_request.save(update_fields=["hold", "updated_at"])
            to_text = f" to {target.account_number}" if target is not None else ""
            direction = "into" if kind == PostingRequest.Kind.DEPOSIT else "from"
            approval = request_approval(
                action_type=ACTION_OF_KIND[kind],
                subject=posting_request,
                amount=amount,
                branch_id=account.branch_id,
                requested_by=actor,
                title=f"{label} {direction} {account.account_number}{to_text}",
                member_display=member_display(account),
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
    return post(None)


def release_posting_hold(posting_request: PostingRequest) -> None:
    """Free the money reserved for a waiting request (before its posting, or when it ends)."""
    if posting_request.hold_id is None:
        return
    hold = Hold.objects.filter(pk=posting_request.hold_id).values_list("status", flat=True).first()
    if hold == Hold.Status.ACTIVE:
        release_hold(hold_id=posting_request.hold_id)


def finish_posting_request(
    posting_request: PostingRequest, status: str, reason: str, fields: tuple[str, ...] = ()
) -> None:
    posting_request.status = status
    posting_request.completed_at = timezone.now()
    set_change_reason(posting_request, reason[:100])
    posting_request.save(update_fields=["status", "completed_at", "updated_at", *fields])
