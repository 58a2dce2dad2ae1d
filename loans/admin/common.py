"""What the loans admin pages share: amounts as text, the request being rendered, small parsers
and the schedule table."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from datetime import date
from decimal import Decimal

from django.db.models import Prefetch
from django.utils.html import format_html, format_html_join

from approvals.models import Approval
from approvals.selectors import requests_for
from cooperative.money import amount_in_words, format_amount

from ..models import Loan, LoanPayment

PENDING_SESSION_KEY = "loans_pending_repayments"
# The request being rendered by LoanAdmin.change_view (the read-only tables show links by permission).
_current_request: ContextVar = ContextVar("loans_admin_request", default=None)
MAX_PENDING = 20
ZERO = Decimal("0.00")
S = Loan.Status


def _schedule_table(rows, headers, *, totals) -> str:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>'
        '<td class="num">{}</td></tr>',
        (
            (n, d.isoformat(), format_amount(p), format_amount(i), format_amount(t), format_amount(b))
            for n, d, p, i, t, b in rows
        ),
    )
    total_p, total_i, total_t = totals
    return format_html(
        '<table class="loans-table loans-sample"><thead><tr>{}</tr></thead><tbody>{}</tbody>'
        '<tfoot><tr class="loans-totals"><th>Total</th><th></th><th class="num">{}</th>'
        '<th class="num">{}</th><th class="num">{}</th><th></th></tr></tfoot></table>',
        head,
        body,
        format_amount(total_p),
        format_amount(total_i),
        format_amount(total_t),
    )


def _approval_requests_of(loan: Loan) -> list:
    """The loan's approval requests with their decisions, read once per loan object (the action
    buttons and the Approvals panel both show them)."""
    cached = loan.__dict__.get("_admin_approval_requests")
    if cached is None:
        decisions = Prefetch("approvals", queryset=Approval.objects.select_related("approver"))
        cached = list(requests_for(subject=loan).select_related("requested_by").prefetch_related(decisions))
        loan.__dict__["_admin_approval_requests"] = cached
    return cached


def _flatten(fields) -> list[str]:
    out = []
    for item in fields:
        out.extend(item if isinstance(item, (tuple, list)) else [item])
    return out


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _date_or_none(value):
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _payment_by_key(key: str):
    return LoanPayment.objects.filter(journal_entry__idempotency_key=key).first()


def _disbursement_figures(loan: Loan) -> dict:
    net = loan.principal - loan.processing_fee
    return {
        "principal": format_amount(loan.principal),
        "fee": format_amount(loan.processing_fee),
        "net": format_amount(net),
        "net_words": amount_in_words(net, "NGN"),
    }
