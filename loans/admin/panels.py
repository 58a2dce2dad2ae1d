"""The read-only panels of the loan page: summary, schedule, repayments, guarantors, holds, timeline
and approvals (LoanAdmin mixes them in)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from cooperative.money import format_amount
from ledger.models import Hold

from .. import selectors
from ..models import Loan, LoanPayment
from ..selectors import loan_summary
from ..workflow import LOAN_MACHINE
from .common import ZERO, _approval_requests_of, _current_request


class LoanPanelsMixin:
    @admin.display(description="Summary")
    def summary(self, obj: Loan):
        figures = loan_summary(obj)
        rows = [
            ("Principal outstanding", format_amount(figures["principal_outstanding"])),
            ("Total scheduled", format_amount(figures["total_due"])),
            ("Total paid", format_amount(figures["total_paid"])),
            ("Overdue", format_amount(figures["overdue_amount"])),
            (
                "Next due",
                f"{format_amount(figures['next_due_amount'])} on {figures['next_due_date']}"
                if figures["next_due_date"]
                else "—",
            ),
            ("Installments paid", f"{figures['installments_paid']} of {figures['installments']}"),
        ]
        if obj.status == Loan.Status.WRITTEN_OFF:
            # The contract is still owed (recoveries go against it) but the books carry nothing.
            rows[0] = ("Principal still owed (off the books)", rows[0][1])
            rows.insert(1, ("Written off", format_amount(obj.written_off_amount)))
            rows.insert(2, ("Recovered since", format_amount(obj.recovered_amount)))
        return format_html(
            '<table class="loans-summary">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    @admin.display(description="Schedule")
    def schedule_table(self, obj: Loan):
        rows = list(obj.schedule.all())
        if not rows:
            return "The schedule is fixed at disbursement. Use the application's preview until then."
        body = format_html_join(
            "",
            '<tr class="{}"><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td>'
            '<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>'
            "<td>{}</td></tr>",
            (
                (
                    "paid" if r.is_paid else ("overdue" if r.is_overdue else ""),
                    r.installment_number,
                    r.due_date.isoformat(),
                    format_amount(r.principal_amount),
                    format_amount(r.interest_amount),
                    format_amount(r.fee_amount + r.penalty_amount),
                    format_amount(r.total_amount),
                    format_amount(r.paid_amount),
                    format_amount(r.principal_balance),
                    "Paid" if r.is_paid else ("Overdue" if r.is_overdue else ""),
                )
                for r in rows
            ),
        )
        total = {
            name: sum((getattr(r, name) for r in rows), ZERO)
            for name in ("principal_amount", "interest_amount", "fee_amount", "penalty_amount")
        }
        total_due = sum((r.total_amount for r in rows), ZERO)
        total_paid = sum((r.paid_amount for r in rows), ZERO)
        return format_html(
            '<table class="loans-table" id="loans-schedule"><thead><tr><th>No.</th><th>Due</th>'
            "<th>Principal</th><th>Interest</th><th>Fees + penalties</th><th>Total</th><th>Paid</th>"
            "<th>Balance</th><th></th></tr></thead><tbody>{}</tbody>"
            '<tfoot><tr class="loans-totals"><th>Total</th><th></th><th class="num">{}</th>'
            '<th class="num">{}</th><th class="num">{}</th><th class="num">{}</th><th class="num">{}</th>'
            "<th></th><th></th></tr></tfoot></table>",
            body,
            format_amount(total["principal_amount"]),
            format_amount(total["interest_amount"]),
            format_amount(total["fee_amount"] + total["penalty_amount"]),
            format_amount(total_due),
            format_amount(total_paid),
        )

    @admin.display(description="Repayments")
    def repayments_table(self, obj: Loan):
        payments = list(obj.payments.select_related("journal_entry", "received_by").order_by("-created_at"))
        if not payments:
            return "No repayments yet."
        request = _current_request.get()
        may_reverse = bool(request and request.user.has_perm("loans.reverse_repayment"))

        def reverse_link(p: LoanPayment):
            if p.reversed_at:
                return format_html("Reversed {}", timezone.localtime(p.reversed_at).strftime("%Y-%m-%d"))
            if may_reverse:
                url = reverse("admin:loans_loan_reverse_payment", args=[obj.pk, p.pk])
                return format_html('<a href="{}" class="loans-reverse">Reverse</a>', url)
            return ""

        body = format_html_join(
            "",
            '<tr><td>{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td>'
            '<td class="num">{}</td><td class="num">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    p.payment_date.isoformat(),
                    format_amount(p.amount),
                    p.get_source_display(),
                    format_amount(p.principal_portion),
                    format_amount(p.interest_portion),
                    format_amount(p.fee_portion + p.penalty_portion),
                    format_amount(p.prepaid_principal),
                    p.journal_entry.reference if p.journal_entry_id else "",
                    p.reference,
                    reverse_link(p),
                )
                for p in payments
            ),
        )
        return format_html(
            '<table class="loans-table" id="loans-repayments"><thead><tr><th>Date</th><th>Amount</th>'
            "<th>Source</th><th>Principal</th><th>Interest</th><th>Fees + penalties</th><th>Prepaid</th>"
            "<th>Journal</th><th>Reference</th><th></th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="Guarantors")
    def guarantors_table(self, obj: Loan):
        guarantors = list(obj.guarantors.all())  # prefetched with their members on the loan page
        if not guarantors:
            return "No guarantors."
        request = _current_request.get()
        may_remove = bool(request and LOAN_MACHINE.offers(obj, "remove_guarantor", actor=request.user))

        def remove_link(g) -> str:
            if may_remove and g.status == g.Status.PLEDGED:
                url = reverse("admin:loans_loan_remove_guarantor", args=[obj.pk, g.pk])
                return format_html('<a href="{}" class="loans-remove-guarantor">Remove</a>', url)
            return ""

        return format_html(
            '<table class="loans-table" id="loans-guarantors"><thead><tr><th>Member</th><th>Pledged</th>'
            "<th>Status</th><th>Recovered</th><th></th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                '<tr><td>{} {} ({})</td><td class="num">{}</td><td>{}</td><td class="num">{}</td>'
                "<td>{}</td></tr>",
                (
                    (
                        g.member.first_name,
                        g.member.last_name,
                        g.member.member_number,
                        format_amount(g.pledged_amount),
                        g.get_status_display(),
                        format_amount(g.recovered_amount),
                        remove_link(g),
                    )
                    for g in guarantors
                ),
            ),
        )

    @admin.display(description="Holds on guarantors' savings")
    def holds_table(self, obj: Loan):
        hold_ids = [g.hold_id for g in obj.guarantors.all() if g.hold_id]
        holds = list(Hold.objects.filter(pk__in=hold_ids).select_related("account"))
        if not holds:
            return "No holds."
        return format_html(
            '<table class="loans-table" id="loans-holds"><thead><tr><th>Account</th><th>Amount</th>'
            "<th>Status</th><th>Reason</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                '<tr><td>{}</td><td class="num">{}</td><td>{}</td><td>{}</td></tr>',
                (
                    (h.account.account_number, format_amount(h.amount), h.get_status_display(), h.reason)
                    for h in holds
                ),
            ),
        )

    @admin.display(description="Timeline")
    def timeline(self, obj: Loan):
        events = list(selectors.loan_timeline(loan=obj).select_related("actor"))
        if not events:
            return "Nothing yet."
        return format_html(
            '<table class="loans-table" id="loans-timeline"><thead><tr><th>When</th><th>What</th>'
            "<th>Status</th><th>Who</th><th>Comment</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M"),
                        e.action.replace("_", " "),
                        f"{e.from_status} → {e.to_status}" if e.from_status or e.to_status else "",
                        (e.actor.get_full_name() or e.actor.email) if e.actor else "system",
                        e.comment,
                    )
                    for e in events
                ),
            ),
        )

    @admin.display(description="Approvals")
    def approvals_table(self, obj: Loan):
        """The loan's approval requests (approval, disbursement, write-off): where each stands and
        who decided what, with a link to the decision page."""
        requests = _approval_requests_of(obj)
        if not requests:
            return "No approval asked yet."
        return format_html(
            '<table class="loans-table" id="loans-approvals"><thead><tr><th>Request</th><th>Status</th>'
            "<th>Level</th><th>Asked by</th><th>Decisions</th><th></th></tr></thead>"
            "<tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                '<td><a href="{}">{}</a></td></tr>',
                (
                    (
                        r.action_label,
                        r.get_status_display(),
                        r.level_label if r.is_pending else "",
                        r.requested_by,
                        "; ".join(
                            f"{a.approver} {a.get_decision_display().lower()} (level {a.level})"
                            + (f": {a.comment}" if a.comment else "")
                            for a in sorted(r.approvals.all(), key=lambda a: a.decided_at)
                        )
                        or "—",
                        reverse("admin:approvals_approvalrequest_decide", args=[r.pk]),
                        "Decide…" if r.is_pending else "Open",
                    )
                    for r in requests
                ),
            ),
        )
