"""The ledger's sensitive actions routed through approvals (maker-checker): what happens when an
approver decides. Registered in LedgerConfig.ready() (approvals imports no domain app):

| action type | subject | when (default policy bands, editable) | on final approval |
|---|---|---|---|
| deposit | PostingRequest | cash deposits above ₦5,000,000 (bank: never) | the deposit is posted |
| withdrawal | PostingRequest | above ₦500,000 | the withdrawal is posted |
| transfer | PostingRequest | above ₦1,000,000 | the transfer is posted |
| account_closure | Account | any closure of an account that still holds money | swept and closed |
| reversal | JournalEntry | every reversal | the mirror entry is posted |

The requests are filed by the safe money services themselves (`ledger.services.deposit`, `withdraw`,
`transfer`, `close_account`, `reverse_entry`; see `ledger.services.posting_requests`).

Who acts on approval: the *requester*. The final approval posts what the requester asked for, with
the requester as actor, so the posting's own permission and branch checks are made again against
the requester (who must still hold `ledger.post_transaction`, `transfer_funds`, `close_account` or
`reverse_transaction` and still work in the branch); the approver needs no ledger permission at all,
only a role of the policy's level (the approvals service checks it, the branch and the four-eyes
rule). The entry records the requester as `posted_by`; the approver is on the approval request
(decision, audit log) and the request links the entry (`record_result`).
"""

from __future__ import annotations

from approvals.models import ApprovalRequest
from approvals.registry import ActionType, register
from approvals.services import record_result
from cooperative.exceptions import Conflict
from cooperative.models import User

from .decision_summary import closure_summary, posting_summary, reversal_summary
from .exceptions import AccountNotFound
from .lock_objects import accounts_for_update, posting_request_for_update
from .models import JournalEntry, PostingRequest
from .services import _direct, as_uuid
from .services.payouts import post_requested
from .services.posting_requests import (
    ACCOUNT_CLOSURE,
    DEPOSIT,
    REVERSAL,
    TRANSFER,
    WITHDRAWAL,
    finish_posting_request,
    release_posting_hold,
)


def _locked_posting_request(request: ApprovalRequest) -> PostingRequest:
    posting_request = posting_request_for_update(request.object_id).first()
    if posting_request is None:
        raise Conflict("The deposit, withdrawal or transfer behind this request no longer exists.")
    return posting_request


def on_posting_approved(request: ApprovalRequest, actor: User | None) -> None:
    """Post the deposit, withdrawal or transfer, once, as the requester (their permission is checked
    again). A refusal (insufficient funds now, frozen account, lost permission, a KYC tier limit)
    rolls the decision back, except a cash withdrawal the requester's till cannot pay: the approval
    stands and the request waits, approved and ready to pay, its amount still held (`services.payouts`)."""
    posting_request = _locked_posting_request(request)
    if posting_request.status == PostingRequest.Status.POSTED:
        record_result(request, posting_request.entry)
        return
    if posting_request.status == PostingRequest.Status.APPROVED:
        return  # already approved, waiting for cash in a till
    if posting_request.status != PostingRequest.Status.PENDING:
        raise Conflict(
            f"This {posting_request.get_kind_display().lower()} is {posting_request.status.lower()}."
        )
    entry = post_requested(
        posting_request,
        actor=posting_request.requested_by,
        reason=f"posted on approval by {actor}",
        wait_for_cash=posting_request.kind == PostingRequest.Kind.WITHDRAWAL,
    )
    if entry is not None:
        record_result(request, entry)


def on_posting_rejected(request: ApprovalRequest, actor: User | None, comment: str) -> None:
    posting_request = _locked_posting_request(request)
    if posting_request.status != PostingRequest.Status.PENDING:
        return
    release_posting_hold(posting_request)
    finish_posting_request(posting_request, PostingRequest.Status.REJECTED, f"rejected by {actor}: {comment}")


def on_posting_cancelled(request: ApprovalRequest, actor: User | None, reason: str) -> None:
    """A cancellation (actor: the requester) or an expiry (actor None): release the reserved money."""
    posting_request = _locked_posting_request(request)
    if posting_request.status != PostingRequest.Status.PENDING:
        return
    release_posting_hold(posting_request)
    expired = request.status == ApprovalRequest.Status.EXPIRED
    status = PostingRequest.Status.EXPIRED if expired else PostingRequest.Status.CANCELLED
    finish_posting_request(posting_request, status, f"{status.lower()}: {reason}")


def on_closure_approved(request: ApprovalRequest, actor: User | None) -> None:
    """Sweep and close as the requester. The approver approved sweeping `request.amount`: if the
    balance moved since, the closure is refused (reject it and ask again)."""
    account = accounts_for_update([as_uuid(request.object_id)]).first()
    if account is None:
        raise AccountNotFound("No such account.")
    if account.balance != request.amount:
        raise Conflict(
            f"Account {account.account_number} now holds {account.balance}, not the {request.amount} "
            "this closure was asked for; reject it and ask again."
        )
    _direct.close_now(
        account_id=account.pk,
        reason=request.metadata.get("reason") or request.reason or "Closed on approval",
        actor=request.requested_by,
        sweep_to_account_id=as_uuid(request.metadata["sweep_to_account_id"]),
    )
    sweep = (
        JournalEntry.objects.filter(kind=JournalEntry.Kind.SWEEP, legs__account_id=account.pk)
        .order_by("-posted_at")
        .first()
    )
    if sweep is not None:
        record_result(request, sweep)


def on_reversal_approved(request: ApprovalRequest, actor: User | None) -> None:
    """Post the mirror entry as the requester (their reverse_transaction permission and branch are
    checked again); the posting refuses a second reversal of one entry."""
    mirror = _direct.post_reversal(
        entry_id=as_uuid(request.object_id),
        reason=request.metadata.get("reason") or request.reason,
        actor=request.requested_by,
    )
    record_result(request, mirror)


# --- registration -------------------------------------------------------------------------------


def register_action_types() -> None:
    # A waiting deposit holds nothing, so releasing its (absent) hold on a rejection, cancellation or
    # expiry is a no-op; the callbacks only close the request.
    register(
        ActionType(
            code=DEPOSIT,
            label="Cash deposit",
            on_approved=on_posting_approved,
            on_rejected=on_posting_rejected,
            on_cancelled=on_posting_cancelled,
            summary=posting_summary,
        )
    )
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


__all__ = ["ACCOUNT_CLOSURE", "DEPOSIT", "REVERSAL", "TRANSFER", "WITHDRAWAL", "register_action_types"]
