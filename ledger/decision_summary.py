"""What an approver reads before deciding a ledger request (the approvals decision page's summary):
the withdrawal or transfer with the paying account's figures and recent movements, the closure
with its sweep account, the entry to reverse with its legs. Reads only."""

from __future__ import annotations

from django.utils import timezone

from approvals.models import ApprovalRequest
from cooperative.models import User
from cooperative.money import amount_in_words, format_naira

from .models import Account, JournalEntry, PostingRequest, Side
from .selectors import amount_withdrawn_on, member_display

SUMMARY_TEMPLATE = "ledger/approval_summary.html"
RECENT_MOVEMENTS = 10


def _movements(account: Account) -> list[dict]:
    legs = account.transactions.select_related("entry").order_by("-created_at", "-id")[:RECENT_MOVEMENTS]
    return [
        {
            "when": leg.created_at,
            "reference": leg.reference,
            "kind": leg.entry.get_kind_display(),
            "description": leg.description,
            "debit": format_naira(leg.amount) if leg.type == Side.DEBIT else "",
            "credit": format_naira(leg.amount) if leg.type == Side.CREDIT else "",
            "balance": format_naira(leg.balance_after),
        }
        for leg in legs
    ]


def _account_rows(account: Account) -> list[tuple[str, str]]:
    return [
        ("Member", member_display(account)),
        ("Account", f"{account.account_number} – {account.get_type_display()} ({account.branch})"),
        ("Status", account.get_status_display()),
        ("Balance", format_naira(account.balance)),
        ("Available balance", format_naira(account.available_balance)),
        ("Held", format_naira(account.held_amount)),
    ]


def posting_summary(request: ApprovalRequest, user: User) -> dict:
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
        ("Amount", format_naira(posting_request.amount)),
        ("In words", amount_in_words(posting_request.amount, account.currency)),
        *_account_rows(account),
    ]
    if posting_request.kind != PostingRequest.Kind.DEPOSIT:
        rows.append(("Withdrawn today", format_naira(amount_withdrawn_on(account, timezone.localdate()))))
    if posting_request.to_account_id:
        target = posting_request.to_account
        assert target is not None  # to_account_id is set
        rows.append(("To account", f"{target.account_number} – {member_display(target)}"))
    if posting_request.channel:
        rows.append(("Channel", "Cash at the counter" if posting_request.channel == "cash" else "Bank"))
    if posting_request.description:
        rows.append(("Description", posting_request.description))
    rows.append(("Posting", posting_request.get_status_display()))
    if posting_request.entry is not None:
        rows.append(("Journal entry", posting_request.entry.reference))
    return {"template": SUMMARY_TEMPLATE, "rows": rows, "movements": _movements(account)}


def closure_summary(request: ApprovalRequest, user: User) -> dict:
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
        ("Balance when asked", format_naira(request.amount)),
        (
            "Sweep to",
            f"{target.account_number} – {member_display(target)} ({target.branch})" if target else "—",
        ),
        ("Reason", request.metadata.get("reason") or request.reason),
    ]
    return {"template": SUMMARY_TEMPLATE, "rows": rows, "movements": _movements(account)}


def reversal_summary(request: ApprovalRequest, user: User) -> dict:
    entry = JournalEntry.objects.select_related("posted_by", "branch").filter(pk=request.object_id).first()
    if entry is None:
        return {"template": "approvals/summary_rows.html", "rows": [("Subject", "no longer exists")]}
    rows = [
        ("Entry", f"{entry.reference} – {entry.get_kind_display()}"),
        ("Narration", entry.narration),
        ("Posted by", str(entry.posted_by) if entry.posted_by_id else "the system"),
        ("Posted at", timezone.localtime(entry.posted_at).strftime("%d %b %Y %H:%M")),
        ("Value date", entry.value_date.isoformat()),
        ("Amount", format_naira(request.amount)),
        ("Reason for the reversal", request.metadata.get("reason") or request.reason),
    ]
    legs = [
        {
            "account": leg.account.account_number,
            "name": leg.account.name,
            "debit": format_naira(leg.amount) if leg.type == Side.DEBIT else "",
            "credit": format_naira(leg.amount) if leg.type == Side.CREDIT else "",
            "description": leg.description,
        }
        for leg in entry.legs.select_related("account").order_by("-type", "pk")
    ]
    return {"template": SUMMARY_TEMPLATE, "rows": rows, "legs": legs}
