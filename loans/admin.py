"""Loans in the admin: products (settings in fieldsets, with a sample schedule), the application
form (member autocomplete, eligibility and a live schedule preview), the loan page (summary,
schedule with totals, repayments, guarantors, holds, timeline) with buttons for every lifecycle
step, and the portfolio reports page.

Every change goes through `loans.services`; the admin collects input, asks for confirmation where
money moves, and turns a `DomainError` into a form error (never a 500).
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, Prefetch
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from cooperative.admin_scoping import ScopedHistoryAdmin
from cooperative.audit import record_event
from cooperative.exceptions import DomainError
from cooperative.models import AuditLog
from cooperative.money import amount_in_words, parse_amount
from cooperative.pagination import EstimatedCountPaginator
from cooperative.permissions import scope_queryset
from ledger.models import Hold
from members.models import Member

from .api.exports import available_reports, display_rows, export_detail, export_response, run_report
from .forms import (
    ApplicationChangeForm,
    CommentForm,
    DisburseForm,
    GuarantorForm,
    LoanApplicationForm,
    PreviewError,
    ReasonForm,
    RecoveryForm,
    RepaymentForm,
    ReportForm,
    preview_schedule,
)
from .models import ArrearsBucket, Guarantor, Loan, LoanPayment, LoanProduct

PENDING_SESSION_KEY = "loans_pending_repayments"
# The request being rendered by LoanAdmin.change_view (the read-only tables show links by permission).
_current_request: ContextVar = ContextVar("loans_admin_request", default=None)
MAX_PENDING = 20
ZERO = Decimal("0.00")
S = Loan.Status


def _money(value) -> str:
    return "" if value is None else f"{value:,.2f}"


def _services():
    from loans import services

    return services


def _selectors():
    from loans import selectors

    return selectors


# --- Products -------------------------------------------------------------------------------------


@admin.register(LoanProduct)
class LoanProductAdmin(ScopedHistoryAdmin):
    list_display = (
        "name",
        "active",
        "interest_rate",
        "calculation_method",
        "repayment_frequency",
        "min_amount",
        "max_amount",
        "min_term",
        "max_term",
    )
    list_filter = ("active", "calculation_method", "repayment_frequency")
    search_fields = ("name",)
    readonly_fields = ("sample_schedule",)
    fieldsets = (
        (None, {"fields": ("name", "description", "active")}),
        (
            "Pricing and limits",
            {
                "fields": ("interest_rate", ("min_amount", "max_amount"), ("min_term", "max_term")),
                "description": "The rate is a yearly percentage; terms count installments.",
            },
        ),
        (
            "Schedule",
            {
                "fields": (
                    "calculation_method",
                    "amortization",
                    "repayment_frequency",
                    "interest_period",
                    ("days_in_year", "days_in_month"),
                    ("grace_on_principal", "grace_on_interest_payment", "interest_free_periods"),
                    ("rounding_mode", "installment_multiple"),
                ),
                "description": "Reducing balance charges interest on the balance; flat rate on the original "
                "amount for the whole term. Daily interest counts the days between due dates (days in year "
                "and month apply only then). Grace on principal = interest-only installments; grace on "
                "interest payment = interest collected with the first installment after the grace; "
                "interest-free = no interest charged. The last installment absorbs rounding.",
            },
        ),
        (
            "Fees, penalties and repayments",
            {
                "fields": (
                    ("processing_fee_type", "processing_fee_value"),
                    ("penalty_rate", "penalty_basis", "penalty_frequency", "penalty_grace_days"),
                    "allocation_order",
                    "arrears_tolerance",
                    "overpayment_policy",
                    "auto_debit_savings",
                ),
                "description": "The processing fee is deducted at disbursement (percent of principal or "
                "a flat amount). Penalties are charged by end of day after the grace days.",
            },
        ),
        (
            "Eligibility and guarantors",
            {
                "fields": (
                    "min_membership_months",
                    ("savings_multiple", "ceiling_includes_shares"),
                    "max_active_loans",
                    ("required_guarantors", "guarantor_coverage_percent"),
                ),
                "description": "Ceiling = savings multiple × the member's savings (plus shares when "
                "ticked); 0 means no ceiling. Guarantors' pledges must cover this percent of the loan.",
            },
        ),
        ("Sample schedule", {"fields": ("sample_schedule",), "classes": ("collapse",)}),
    )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        may_preview = request.user.has_perm("loans.view_loan") or request.user.has_perm("loans.add_loan")
        extra_context = {
            **(extra_context or {}),
            "loans_preview_url": reverse("admin:loans_loan_preview") if may_preview else "",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Sample schedule (minimum amount, minimum term, disbursed today)")
    def sample_schedule(self, obj: LoanProduct | None):
        if obj is None or obj.pk is None:
            return "Save the product to see a sample schedule."
        try:
            schedule = preview_schedule(obj, principal=obj.min_amount, term=obj.min_term)
        except PreviewError as exc:
            return str(exc)
        return _schedule_table(
            [
                (i.number, i.due_date, i.principal, i.interest, i.total, i.balance)
                for i in schedule.installments
            ],
            ("No.", "Due", "Principal", "Interest", "Total", "Balance"),
            totals=(schedule.total_principal, schedule.total_interest, schedule.total_repayment),
        )


def _schedule_table(rows, headers, *, totals) -> str:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>'
        '<td class="num">{}</td></tr>',
        ((n, d.isoformat(), _money(p), _money(i), _money(t), _money(b)) for n, d, p, i, t, b in rows),
    )
    total_p, total_i, total_t = totals
    return format_html(
        '<table class="loans-table loans-sample"><thead><tr>{}</tr></thead><tbody>{}</tbody>'
        '<tfoot><tr class="loans-totals"><th>Total</th><th></th><th class="num">{}</th>'
        '<th class="num">{}</th><th class="num">{}</th><th></th></tr></tfoot></table>',
        head,
        body,
        _money(total_p),
        _money(total_i),
        _money(total_t),
    )


# --- Loans ----------------------------------------------------------------------------------------


class ArrearsBucketFilter(admin.SimpleListFilter):
    title = "arrears bucket"
    parameter_name = "bucket"

    def lookups(self, request, model_admin):
        return [("none", "Not classified"), *((b.code, b.name) for b in ArrearsBucket.objects.all())]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(arrears_bucket__isnull=True)
        if self.value():
            return queryset.filter(arrears_bucket__code=self.value())
        return queryset


class OfficerFilter(admin.SimpleListFilter):
    """Loan officers of the loans the user can see (not every user of every branch)."""

    title = "loan officer"
    parameter_name = "officer"

    def lookups(self, request, model_admin):
        from cooperative.models import User

        visible = model_admin.get_queryset(request)
        if visible.query.where:  # branch-scoped: the branches' loans first, then their officers
            ids = visible.exclude(loan_officer=None).order_by().values("loan_officer").distinct()
            officers = User.objects.filter(pk__in=ids)
        else:  # every loan: one loan_officer index probe per user (50,000 loans: 1 ms, not 60)
            officers = User.objects.filter(Exists(visible.filter(loan_officer=OuterRef("pk"))))
        return [(str(u.pk), u.get_full_name() or u.email) for u in officers]

    def queryset(self, request, queryset):
        if self.value():
            try:
                return queryset.filter(loan_officer_id=self.value())
            except (ValueError, Exception):
                return queryset.none()
        return queryset


@dataclass(frozen=True)
class LoanAction:
    name: str
    label: str
    permission: str
    statuses: tuple[str, ...]
    form_class: type
    service: str
    success: str
    help: str = ""


ACTIONS = {
    "edit": LoanAction(
        "edit",
        "Edit application",
        "loans.change_loan",
        (S.DRAFT, S.SUBMITTED),
        ApplicationChangeForm,
        "update_application",
        "updated",
        "Amount, term, first due date and purpose can change until the loan is approved. Changing a "
        "submitted application cancels its approval request and asks again for the new terms.",
    ),
    "submit": LoanAction(
        "submit",
        "Submit",
        "loans.submit_loan",
        (S.DRAFT,),
        CommentForm,
        "submit_application",
        "submitted for approval",
        "Runs the eligibility checks and the guarantor coverage; a manager then approves.",
    ),
    "approve": LoanAction(
        "approve",
        "Approve",
        "loans.approve_loan",
        (S.SUBMITTED,),
        CommentForm,
        "approve_loan",
        "approved",
        "Guarantor pledges become holds on their savings. "
        "You cannot approve a loan you created or submitted.",
    ),
    "reject": LoanAction(
        "reject", "Reject", "loans.approve_loan", (S.SUBMITTED,), ReasonForm, "reject_loan", "rejected"
    ),
    "withdraw": LoanAction(
        "withdraw",
        "Withdraw",
        "loans.change_loan",
        (S.DRAFT, S.SUBMITTED, S.APPROVED),
        ReasonForm,
        "withdraw_application",
        "withdrawn",
        "The applicant no longer wants the loan; guarantors' holds are released.",
    ),
    "disburse": LoanAction(
        "disburse",
        "Disburse",
        "loans.disburse_loan",
        (S.APPROVED,),
        DisburseForm,
        "disburse_loan",
        "disbursed",
        "Credits the member's savings with the principal less the processing fee and fixes the schedule.",
    ),
    "guarantor": LoanAction(
        "guarantor",
        "Add guarantor",
        "loans.add_guarantor",
        (S.DRAFT, S.SUBMITTED),
        GuarantorForm,
        "add_guarantor",
        "guarantor added",
        "An active member other than the borrower pledges part of their free savings.",
    ),
    "repayment": LoanAction(
        "repayment",
        "Record repayment",
        "loans.record_repayment",
        (S.DISBURSED,),
        RepaymentForm,
        "record_repayment",
        "repayment recorded",
    ),
    "write_off": LoanAction(
        "write_off",
        "Write off",
        "loans.write_off_loan",
        (S.DISBURSED,),
        ReasonForm,
        "write_off_loan",
        "written off",
        "Posts the outstanding principal to loan-loss expense. Recoveries can still be recorded.",
    ),
    "recover": LoanAction(
        "recover",
        "Recover from guarantors",
        "loans.recover_from_guarantors",
        (S.DISBURSED, S.WRITTEN_OFF),
        CommentForm,
        "recover_from_guarantors",
        "recovered from the guarantors",
        "Debits each guarantor's savings for their share of what is overdue (one entry per guarantor).",
    ),
    "recovery": LoanAction(
        "recovery",
        "Record recovery",
        "loans.write_off_loan",
        (S.WRITTEN_OFF,),
        RecoveryForm,
        "record_recovery",
        "recovery recorded",
        "Money received on a written-off loan.",
    ),
}


def _approval_requests_of(loan: Loan) -> list:
    """The loan's approval requests with their decisions, read once per loan object (the action
    buttons and the Approvals panel both show them)."""
    cached = loan.__dict__.get("_admin_approval_requests")
    if cached is None:
        from approvals.models import Approval
        from approvals.selectors import requests_for

        decisions = Prefetch("approvals", queryset=Approval.objects.select_related("approver"))
        cached = list(requests_for(subject=loan).select_related("requested_by").prefetch_related(decisions))
        loan.__dict__["_admin_approval_requests"] = cached
    return cached


@admin.register(Loan)
class LoanAdmin(ScopedHistoryAdmin):
    list_display = (
        "loan_number",
        "member_name",
        "product",
        "branch",
        "status",
        "principal_display",
        "days_past_due",
        "arrears_class",
        "loan_officer",
        "created_at",
    )
    # created_at as a sidebar filter rather than a date hierarchy: the hierarchy's two extra queries
    # (MIN/MAX and DISTINCT year) read every loan the other filters match.
    list_filter = ("status", "branch", "product", OfficerFilter, ArrearsBucketFilter, "created_at")
    search_fields = ("loan_number", "member__member_number", "member__first_name", "member__last_name")
    list_select_related = ("member", "product", "branch", "arrears_bucket", "loan_officer")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    change_form_template = "admin/loans/loan/change_form.html"
    change_list_template = "admin/loans/loan/change_list.html"
    fieldsets = (
        (
            "Loan",
            {
                "fields": (
                    ("loan_number", "status"),
                    ("member", "branch"),
                    ("product", "loan_officer"),
                    ("principal", "annual_rate", "term"),
                    ("processing_fee", "purpose"),
                    ("disbursement_date", "first_due_date"),
                    ("days_past_due", "arrears_amount", "arrears_bucket"),
                    "decision_reason",
                )
            },
        ),
        ("Summary", {"fields": ("summary",)}),
        ("Approvals", {"fields": ("approvals_table",)}),
        ("Schedule", {"fields": ("schedule_table",)}),
        ("Repayments", {"fields": ("repayments_table",)}),
        ("Guarantors and holds", {"fields": ("guarantors_table", "holds_table")}),
        ("Timeline", {"fields": ("timeline",)}),
    )

    # --- list ---

    @admin.display(description="Member", ordering="member__last_name")
    def member_name(self, obj: Loan) -> str:
        return f"{obj.member.first_name} {obj.member.last_name} ({obj.member.member_number})"

    @admin.display(description="Arrears bucket", ordering="days_past_due")
    def arrears_class(self, obj: Loan):
        # Sorted by days past due (the buckets are ranges of it), which loan_status_dpd_idx serves;
        # sorting by the bucket's own columns joined and sorted every matching loan.
        return obj.arrears_bucket or "—"

    @admin.display(description="Principal", ordering="principal")
    def principal_display(self, obj: Loan) -> str:
        return _money(obj.principal)

    # --- permissions: a loan changes only through the services ---

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        names = [f for line in self.fieldsets for f in _flatten(line[1]["fields"])]
        return names

    # --- the loan page ---

    @admin.display(description="Summary")
    def summary(self, obj: Loan):
        from .api.views import loan_summary

        figures = loan_summary(obj)
        rows = [
            ("Principal outstanding", _money(figures["principal_outstanding"])),
            ("Total scheduled", _money(figures["total_due"])),
            ("Total paid", _money(figures["total_paid"])),
            ("Overdue", _money(figures["overdue_amount"])),
            (
                "Next due",
                f"{_money(figures['next_due_amount'])} on {figures['next_due_date']}"
                if figures["next_due_date"]
                else "—",
            ),
            ("Installments paid", f"{figures['installments_paid']} of {figures['installments']}"),
        ]
        if obj.status == Loan.Status.WRITTEN_OFF:
            # The contract is still owed (recoveries go against it) but the books carry nothing.
            rows[0] = ("Principal still owed (off the books)", rows[0][1])
            rows.insert(1, ("Written off", _money(obj.written_off_amount)))
            rows.insert(2, ("Recovered since", _money(obj.recovered_amount)))
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
                    _money(r.principal_amount),
                    _money(r.interest_amount),
                    _money(r.fee_amount + r.penalty_amount),
                    _money(r.total_amount),
                    _money(r.paid_amount),
                    _money(r.principal_balance),
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
            _money(total["principal_amount"]),
            _money(total["interest_amount"]),
            _money(total["fee_amount"] + total["penalty_amount"]),
            _money(total_due),
            _money(total_paid),
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
                    _money(p.amount),
                    p.get_source_display(),
                    _money(p.principal_portion),
                    _money(p.interest_portion),
                    _money(p.fee_portion + p.penalty_portion),
                    _money(p.prepaid_principal),
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
        may_remove = bool(
            request
            and request.user.has_perm("loans.delete_guarantor")
            and obj.status in (S.DRAFT, S.SUBMITTED)
        )

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
                        _money(g.pledged_amount),
                        g.get_status_display(),
                        _money(g.recovered_amount),
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
                    (h.account.account_number, _money(h.amount), h.get_status_display(), h.reason)
                    for h in holds
                ),
            ),
        )

    @admin.display(description="Timeline")
    def timeline(self, obj: Loan):
        events = list(_selectors().loan_timeline(loan=obj).select_related("actor"))
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

    def buttons_for(self, request, loan: Loan) -> list[dict]:
        """The steps this person may take now. A pending approval request freezes the loan (only
        its deciders get Approve / Reject, which decide that request); the others wait for it."""
        from approvals.selectors import can_decide

        services = _services()
        pending = [r for r in _approval_requests_of(loan) if r.status == "PENDING"]
        to_decide = next((r for r in pending if r.action_type == "loan_approval"), None)
        buttons = []
        for action in ACTIONS.values():
            if loan.status not in action.statuses or not request.user.has_perm(action.permission):
                continue
            if not hasattr(services, action.service):
                continue
            if action.name in ("approve", "reject"):
                if to_decide is None or not can_decide(to_decide, request.user):
                    continue  # four-eyes, the level's role, one decision each: the service refuses too
            elif pending and action.name in ("guarantor", "disburse", "write_off"):
                continue  # the loan cannot change while a request is pending
            buttons.append({"name": action.name, "label": action.label, "url": self._url(action.name, loan)})
        return buttons

    def _page_loan_or_404(self, request, object_id) -> Loan:
        """The loan page's loan, read once (scoped, 404 like `_loan_or_404`) with the rows its
        read-only panels show: the joined foreign keys, the schedule and the guarantors."""
        queryset = (
            self.get_queryset(request)
            .select_related(*self.list_select_related)
            .prefetch_related("schedule", Prefetch("guarantors", Guarantor.objects.select_related("member")))
        )
        try:
            loan = queryset.filter(pk=object_id).first()
        except (ValueError, TypeError, DjangoValidationError):  # an id that is not a UUID
            loan = None
        if loan is None or not self.has_view_or_change_permission(request, loan):
            raise Http404
        return loan

    def get_object(self, request, object_id, from_field=None):
        # The change form gets the loan the page already read (see change_view), not a second copy.
        page_loan = getattr(request, "_coop_loan_page", None)
        if page_loan is not None and from_field is None and str(page_loan.pk) == str(object_id):
            return page_loan
        return super().get_object(request, object_id, from_field)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            self._loan_or_404(request, object_id)  # out-of-scope ids still answer 404
            raise PermissionDenied  # a loan changes only through the action buttons (the services)
        loan = self._page_loan_or_404(request, object_id)
        request._coop_loan_page = loan
        token = _current_request.set(request)
        extra_context = {
            **(extra_context or {}),
            "loans_buttons": self.buttons_for(request, loan),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):
                response.render()  # the read-only tables read the request: render while it is set
            return response
        finally:
            _current_request.reset(token)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "loans_reports_url": reverse("admin:loans_loan_reports")
            if request.user.has_perm("loans.view_loan_reports")
            else "",
        }
        return super().changelist_view(request, extra_context)

    # --- URLs ---

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_json), name="{}_{}_preview".format(*info)),
            path("eligibility/", wrap(self.eligibility_json), name="{}_{}_eligibility".format(*info)),
            path("reports/", wrap(self.reports_view), name="{}_{}_reports".format(*info)),
            *(
                path(
                    f"<path:object_id>/{name}/",
                    wrap(self.action_view),
                    {"action": name},
                    name=f"{info[0]}_{info[1]}_{name}",
                )
                for name in ACTIONS
            ),
            path(
                "<path:object_id>/guarantors/<uuid:guarantor_id>/remove/",
                wrap(self.remove_guarantor_view),
                name="{}_{}_remove_guarantor".format(*info),
            ),
            path(
                "<path:object_id>/payments/<uuid:payment_id>/reverse/",
                wrap(self.reverse_payment_view),
                name="{}_{}_reverse_payment".format(*info),
            ),
            *super().get_urls(),
        ]

    def _url(self, name: str, loan: Loan) -> str:
        return reverse(f"admin:loans_loan_{name}", args=[loan.pk])

    def _loan_or_404(self, request, object_id) -> Loan:
        loan = self.get_object(request, object_id)  # 404 for missing, malformed and out-of-scope ids
        if loan is None or not self.has_view_or_change_permission(request, loan):
            raise Http404
        return loan

    def _context(self, request, loan: Loan | None, title: str, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": loan,
            "loan": loan,
            "title": title,
            "change_url": reverse("admin:loans_loan_change", args=[loan.pk]) if loan else "",
            **extra,
        }

    # --- application (add view) ---

    def _application_form(self, request, data=None):
        members = scope_queryset(Member.objects.all(), request.user)
        return LoanApplicationForm(
            data,
            members=members,
            products=LoanProduct.objects.filter(active=True),
            admin_site=self.admin_site,
        )

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = self._application_form(request, request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                loan = _services().create_application(
                    actor=request.user,
                    member=data["member"],
                    product=data["product"],
                    principal=data["principal"],
                    term=data["term"],
                    purpose=data["purpose"],
                    loan_officer=request.user,
                    first_due_date=data["first_due_date"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = 400
            else:
                messages.success(request, f"Application {loan.loan_number} saved as a draft.")
                return HttpResponseRedirect(reverse("admin:loans_loan_change", args=[loan.pk]))
        elif request.method == "POST":
            status = 400
        context = self._context(
            request,
            None,
            "New loan application",
            form=form,
            media=self.media + form.media,
            preview_url=reverse("admin:loans_loan_preview"),
            eligibility_url=reverse("admin:loans_loan_eligibility"),
        )
        return TemplateResponse(request, "admin/loans/loan/application.html", context, status=status)

    def preview_json(self, request):
        """GET product, principal, term, first_due -> the schedule the application would get."""
        if not (self.has_add_permission(request) or self.has_view_permission(request)):
            raise PermissionDenied
        params = request.GET
        product = LoanProduct.objects.filter(pk=_uuid_or_none(params.get("product"))).first()
        if product is None:
            return JsonResponse({"error": "Choose a product.", "field": "product"}, status=400)
        try:
            principal = parse_amount((params.get("principal") or "").replace(",", ""))
        except (ValueError, ArithmeticError):
            return JsonResponse({"error": "Enter the amount, e.g. 250000.", "field": "principal"}, status=400)
        try:
            term = int(params.get("term") or "")
        except ValueError:
            return JsonResponse({"error": "Enter the number of installments.", "field": "term"}, status=400)
        first_due = _date_or_none(params.get("first_due"))
        try:
            schedule = preview_schedule(product, principal=principal, term=term, first_due_on=first_due)
        except PreviewError as exc:
            return JsonResponse({"error": exc.message, "field": exc.field}, status=400)
        return JsonResponse(
            {
                "rows": schedule.as_list(),
                "totals": {
                    "principal": str(schedule.total_principal),
                    "interest": str(schedule.total_interest),
                    "total": str(schedule.total_repayment),
                },
            }
        )

    def eligibility_json(self, request):
        """GET member, product, principal -> savings, ceiling, active loans and pass/fail reasons."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        params = request.GET
        member = scope_queryset(Member.objects.all(), request.user).filter(
            pk=_uuid_or_none(params.get("member"))
        )
        member = member.first()
        if member is None:
            return JsonResponse({"error": "Choose a member.", "field": "member"}, status=400)
        product = LoanProduct.objects.filter(pk=_uuid_or_none(params.get("product"))).first()
        if product is None:
            return JsonResponse({"error": "Choose a product.", "field": "product"}, status=400)
        try:
            principal = parse_amount((params.get("principal") or "").replace(",", ""))
        except (ValueError, ArithmeticError):
            principal = product.min_amount
        result = _selectors().check_eligibility(member=member, product=product, principal=principal)
        return JsonResponse(
            {
                "member": f"{member.first_name} {member.last_name} ({member.member_number})",
                "eligible": result.eligible,
                "reasons": list(result.reasons),
                "savings": _money(result.savings),
                "shares": _money(result.shares),
                "ceiling": _money(result.ceiling) if result.ceiling is not None else "no ceiling",
                "active_loans": result.active_loans,
                "membership_months": result.membership_months,
            }
        )

    # --- lifecycle actions ---

    def _action_form(self, request, action: LoanAction, data=None):
        if action.form_class is GuarantorForm:
            members = scope_queryset(Member.objects.filter(status="ACTIVE"), request.user)
            return GuarantorForm(data, members=members, admin_site=self.admin_site)
        return action.form_class(data)

    def _edit_form(self, loan: Loan, data=None):
        initial = {
            "principal": f"{loan.principal:.2f}",
            "term": loan.term,
            "first_due_date": loan.first_due_date,
            "purpose": loan.purpose,
        }
        return ApplicationChangeForm(data, initial=initial)

    def action_view(self, request, object_id, action: str):
        spec = ACTIONS[action]
        loan = self._loan_or_404(request, object_id)
        if not request.user.has_perm(spec.permission):
            raise PermissionDenied
        change_url = reverse("admin:loans_loan_change", args=[loan.pk])
        if loan.status not in spec.statuses:
            messages.error(request, f"A {loan.get_status_display().lower()} loan cannot be {spec.success}.")
            return HttpResponseRedirect(change_url)
        if spec.name == "repayment":
            return self._repayment_view(request, loan, spec)
        data = request.POST if request.method == "POST" else None
        form = self._edit_form(loan, data) if spec.name == "edit" else self._action_form(request, spec, data)
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                try:
                    self._call(request, loan, spec, form.cleaned_data)
                except DomainError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                    status = exc.status
                else:
                    messages.success(request, self._outcome(loan, spec))
                    return HttpResponseRedirect(change_url)
        return self._action_page(request, loan, spec, form, status)

    def _outcome(self, loan: Loan, spec: LoanAction) -> str:
        """What happened: done, or asked and waiting for the approvers (a policy covers the step)."""
        from approvals.selectors import requests_for

        after = Loan.objects.get(pk=loan.pk)
        waiting = requests_for(subject=after).filter(status="PENDING").order_by("-created_at").first()
        if after.status == loan.status and waiting is not None and spec.name != "edit":
            return (
                f"Loan {loan.loan_number}: {waiting.action_label.lower()} is waiting for approval "
                f"(level {waiting.level_label})."
            )
        if spec.name == "submit" and waiting is not None:
            return f"Loan {loan.loan_number} submitted: waiting for approval (level {waiting.level_label})."
        return f"Loan {loan.loan_number} {spec.success}."

    def _action_page(self, request, loan, spec, form, status=200, **extra):
        extra.setdefault("disbursement", _disbursement_figures(loan) if spec.name == "disburse" else None)
        context = self._context(
            request,
            loan,
            f"{spec.label} – {loan.loan_number}",
            form=form,
            action=spec,
            media=self.media + form.media,
            form_url=self._url(spec.name, loan),
            **extra,
        )
        return TemplateResponse(request, "admin/loans/loan/action.html", context, status=status)

    def _call(self, request, loan: Loan, spec: LoanAction, data: dict):
        services = _services()
        service = getattr(services, spec.service)
        actor = request.user
        if spec.name == "submit":
            return service(actor=actor, loan_id=loan.pk)
        if spec.name == "edit":
            return service(
                actor=actor,
                loan_id=loan.pk,
                principal=data["principal"],
                term=data["term"],
                purpose=data["purpose"],
                first_due_date=data["first_due_date"],
            )
        if spec.name == "approve":
            return service(actor=actor, loan_id=loan.pk, comment=data.get("comment", ""))
        if spec.name in ("reject", "withdraw", "write_off"):
            return service(actor=actor, loan_id=loan.pk, reason=data["reason"])
        if spec.name == "disburse":
            return service(
                actor=actor,
                loan_id=loan.pk,
                disbursement_date=data.get("disbursement_date"),
                first_due_date=data.get("first_due_date"),
            )
        if spec.name == "guarantor":
            return service(
                actor=actor, loan_id=loan.pk, guarantor_member=data["guarantor"], amount=data["amount"]
            )
        if spec.name == "recover":
            return service(actor=actor, loan_id=loan.pk)
        if spec.name == "recovery":
            return service(actor=actor, loan_id=loan.pk, amount=data["amount"], source=data["source"])
        raise PermissionDenied  # pragma: no cover - every action is handled above

    # --- repayment with a confirmation step (the one-time token is the idempotency key) ---

    def _repayment_view(self, request, loan: Loan, spec: LoanAction):
        if request.method == "POST" and request.POST.get("confirmation_token"):
            return self._repayment_confirmed(request, loan, spec, request.POST["confirmation_token"])
        form = RepaymentForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            payload = {
                "loan_id": str(loan.pk),
                "amount": str(data["amount"]),
                "source": data["source"],
                "payment_date": data["payment_date"].isoformat() if data["payment_date"] else "",
                "reference": data["reference"],
            }
            token = secrets.token_urlsafe(24)
            pending = dict(request.session.get(PENDING_SESSION_KEY, {}))
            while len(pending) >= MAX_PENDING:
                pending.pop(next(iter(pending)))
            pending[token] = payload
            request.session[PENDING_SESSION_KEY] = pending
            amount = data["amount"]
            context = self._context(
                request,
                loan,
                "Confirm repayment",
                action=spec,
                token=token,
                amount=_money(amount),
                amount_words=amount_in_words(amount, "NGN"),
                source=dict(RepaymentForm.SOURCES).get(data["source"], data["source"]),
                payment_date=data["payment_date"] or timezone.localdate(),
                reference=data["reference"],
                form_url=self._url(spec.name, loan),
            )
            return TemplateResponse(request, "admin/loans/loan/repayment_confirm.html", context)
        return self._action_page(request, loan, spec, form, 400 if request.method == "POST" else 200)

    def _repayment_confirmed(self, request, loan: Loan, spec: LoanAction, token: str):
        change_url = reverse("admin:loans_loan_change", args=[loan.pk])
        idempotency_key = f"admin:{token}"
        pending = dict(request.session.get(PENDING_SESSION_KEY, {}))
        payload = pending.get(token)
        if payload is None or payload["loan_id"] != str(loan.pk):
            done = _payment_by_key(idempotency_key)
            if done is not None:
                messages.warning(request, "This repayment was already recorded; nothing was posted again.")
                return HttpResponseRedirect(change_url)
            messages.error(request, "This confirmation has expired or was already used. Please start again.")
            return HttpResponseRedirect(self._url(spec.name, loan))
        amount = Decimal(payload["amount"])
        try:
            payment = _services().record_repayment(
                actor=request.user,
                loan_id=loan.pk,
                amount=amount,
                source=payload["source"],
                payment_date=_date_or_none(payload["payment_date"]),
                reference=payload["reference"],
                idempotency_key=idempotency_key,
            )
        except DomainError as exc:
            pending.pop(token, None)
            request.session[PENDING_SESSION_KEY] = pending
            form = RepaymentForm({k: payload[k] for k in ("amount", "source", "payment_date", "reference")})
            form.is_valid()
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self._action_page(request, loan, spec, form, exc.status)
        pending.pop(token, None)
        request.session[PENDING_SESSION_KEY] = pending
        messages.success(
            request,
            f"Repayment of {_money(payment.amount)} NGN recorded on {loan.loan_number}.",
        )
        return HttpResponseRedirect(change_url)

    def remove_guarantor_view(self, request, object_id, guarantor_id):
        loan = self._loan_or_404(request, object_id)
        if not request.user.has_perm("loans.delete_guarantor"):
            raise PermissionDenied
        guarantor = loan.guarantors.select_related("member").filter(pk=guarantor_id).first()
        if guarantor is None:
            raise Http404
        spec = LoanAction(
            "remove_guarantor", "Remove guarantor", "loans.delete_guarantor", (), CommentForm, "", "changed"
        )
        form = CommentForm(request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                _services().remove_guarantor(actor=request.user, guarantor_id=guarantor.pk)
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, f"{guarantor.member} no longer guarantees {loan.loan_number}.")
                return HttpResponseRedirect(reverse("admin:loans_loan_change", args=[loan.pk]))
        context = self._context(
            request,
            loan,
            f"Remove guarantor {guarantor.member} ({_money(guarantor.pledged_amount)})",
            form=form,
            action=spec,
            media=self.media + form.media,
            form_url=request.path,
            disbursement=None,
        )
        return TemplateResponse(request, "admin/loans/loan/action.html", context, status=status)

    def reverse_payment_view(self, request, object_id, payment_id):
        loan = self._loan_or_404(request, object_id)
        if not request.user.has_perm("loans.reverse_repayment"):
            raise PermissionDenied
        payment = LoanPayment.objects.filter(loan=loan, pk=payment_id).first()
        if payment is None:
            raise Http404
        spec = LoanAction(
            "reverse_payment", "Reverse repayment", "loans.reverse_repayment", (), ReasonForm, "", "reversed"
        )
        form = ReasonForm(request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                try:
                    _services().reverse_repayment(
                        actor=request.user, payment_id=payment.pk, reason=form.cleaned_data["reason"]
                    )
                except DomainError as exc:
                    form.add_error(None, exc.message)
                    status = exc.status
                else:
                    messages.success(request, f"Repayment of {_money(payment.amount)} reversed.")
                    return HttpResponseRedirect(reverse("admin:loans_loan_change", args=[loan.pk]))
        context = self._context(
            request,
            loan,
            f"Reverse repayment of {_money(payment.amount)} ({payment.payment_date})",
            form=form,
            action=spec,
            media=self.media + form.media,
            form_url=request.path,
            disbursement=None,
        )
        return TemplateResponse(request, "admin/loans/loan/action.html", context, status=status)

    # --- reports ---

    def reports_view(self, request):
        if not request.user.has_perm("loans.view_loan_reports"):
            raise PermissionDenied
        reports = available_reports()
        data = request.GET if "report" in request.GET else None
        form = ReportForm(data, reports=reports)
        table = None
        if data is not None and form.is_valid():
            cleaned = form.cleaned_data
            try:
                table = run_report(
                    cleaned["report"],
                    user=request.user,
                    date_from=cleaned["date_from"],
                    date_to=cleaned["date_to"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                if request.GET.get("download"):
                    response = export_response(table, cleaned["format"])
                    record_event(
                        AuditLog.Event.EXPORT, request=request, detail=export_detail(table, cleaned["format"])
                    )
                    return response
        context = self._context(
            request,
            None,
            "Loan portfolio reports",
            form=form,
            table=table,
            table_rows=display_rows(table) if table is not None else [],
            no_reports=not reports,
            changelist_url=reverse("admin:loans_loan_changelist"),
        )
        return TemplateResponse(
            request, "admin/loans/loan/reports.html", context, status=400 if form.errors else 200
        )


def _flatten(fields) -> list[str]:
    out = []
    for item in fields:
        out.extend(item if isinstance(item, (tuple, list)) else [item])
    return out


def _uuid_or_none(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _date_or_none(value):
    from datetime import date

    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _payment_by_key(key: str):
    return LoanPayment.objects.filter(journal_entry__idempotency_key=key).first()


def _disbursement_figures(loan: Loan) -> dict:
    net = loan.principal - loan.processing_fee
    return {
        "principal": _money(loan.principal),
        "fee": _money(loan.processing_fee),
        "net": _money(net),
        "net_words": amount_in_words(net, "NGN"),
    }


@admin.register(ArrearsBucket)
class ArrearsBucketAdmin(ScopedHistoryAdmin):
    list_display = ("code", "name", "min_days", "max_days", "provision_percent")
    ordering = ("min_days",)
