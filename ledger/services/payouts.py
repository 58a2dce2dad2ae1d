"""Approved cash withdrawals the till could not pay at approval time: they wait, approved and ready
to pay, with their amount still held on the member's account, until a teller of the branch pays
them out from their own till (`pay_approved_withdrawal`, one click, idempotent)."""

from __future__ import annotations

import uuid

from django.db import transaction

from approvals.models import ApprovalRequest
from approvals.services import record_result
from cooperative.exceptions import Conflict
from cooperative.history import set_change_reason
from cooperative.models import User

from ..exceptions import AccountNotFound, TillShort
from ..lock_objects import posting_request_for_update
from ..models import JournalEntry, PostingRequest
from . import _direct
from ._common import refuse_partner_outflow, require
from .posting_requests import WITHDRAWAL, finish_posting_request, release_posting_hold


def post_requested(
    posting_request: PostingRequest, *, actor: User | None, reason: str, wait_for_cash: bool
) -> JournalEntry | None:
    """Post a (locked) deposit, withdrawal or transfer request as `actor`, consuming its hold, once (the
    posting's idempotency key is the request's). A cash withdrawal the till cannot pay: with
    `wait_for_cash`, nothing is posted, the hold stays and the request waits as APPROVED (None is
    returned); else the `TillShort` refusal is raised. Either way nothing is half-written."""
    common = {
        "amount": posting_request.amount,
        "actor": actor,
        "description": posting_request.description,
        "idempotency_key": posting_request.approval_key,
    }
    try:
        # A savepoint: a refusal by the till undoes the hold's release, so the money stays reserved.
        with transaction.atomic():
            release_posting_hold(posting_request)  # the reserved money becomes available to this posting
            if posting_request.kind == PostingRequest.Kind.DEPOSIT:
                entry = _direct.post_deposit(
                    account_id=posting_request.account_id, channel=posting_request.channel, **common
                )
            elif posting_request.kind == PostingRequest.Kind.WITHDRAWAL:
                entry = _direct.post_withdrawal(
                    account_id=posting_request.account_id, channel=posting_request.channel, **common
                )
            else:
                assert posting_request.to_account_id is not None  # a transfer request names its target
                entry = _direct.post_transfer(
                    from_account_id=posting_request.account_id,
                    to_account_id=posting_request.to_account_id,
                    **common,
                )
    except TillShort:
        if not wait_for_cash:
            raise
        if posting_request.status != PostingRequest.Status.APPROVED:
            posting_request.status = PostingRequest.Status.APPROVED
            set_change_reason(posting_request, "approved; waiting for cash in a till")
            posting_request.save(update_fields=["status", "updated_at"])
        return None
    posting_request.entry = entry
    finish_posting_request(posting_request, PostingRequest.Status.POSTED, reason, ("entry",))
    return entry


@transaction.atomic
def pay_approved_withdrawal(*, posting_request_id: uuid.UUID, actor: User | None) -> JournalEntry:
    """Pay out an approved cash withdrawal that waits for cash, from `actor`'s own till (any teller
    of the branch, permission `ledger.post_transaction`). Idempotent: a second click answers the
    entry posted by the first. A till still short refuses (`TillShort`) and the request waits on."""
    refuse_partner_outflow(actor)
    posting_request = posting_request_for_update(posting_request_id).first()
    if posting_request is None:
        raise AccountNotFound("No such withdrawal.")
    require(actor, "ledger.post_transaction", posting_request.branch_id)
    if posting_request.status == PostingRequest.Status.POSTED and posting_request.entry is not None:
        return posting_request.entry
    if posting_request.status != PostingRequest.Status.APPROVED:
        raise Conflict(
            f"This {posting_request.get_kind_display().lower()} is "
            f"{posting_request.get_status_display().lower()}, not approved and ready to pay."
        )
    entry = post_requested(posting_request, actor=actor, reason=f"paid out by {actor}", wait_for_cash=False)
    assert entry is not None
    approval = ApprovalRequest.objects.filter(
        action_type=WITHDRAWAL, object_id=str(posting_request.pk)
    ).first()
    if approval is not None:
        record_result(approval, entry)
    return entry
