"""The loan list and the loan page (LoanAdmin): list columns and filters, the read-only page with
its panels and buttons, and the URLs of every lifecycle step."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.urls import path, reverse

from cooperative.admin_scoping import ScopedHistoryAdmin
from cooperative.money import format_amount
from cooperative.pagination import EstimatedCountPaginator

from ..models import Guarantor, Loan
from .application import LoanApplicationMixin
from .common import _current_request, _flatten
from .filters import ArrearsBucketFilter, OfficerFilter
from .lifecycle import ACTIONS, LoanLifecycleMixin
from .panels import LoanPanelsMixin
from .repayments import LoanRepaymentsMixin
from .reports import LoanReportsMixin


@admin.register(Loan)
class LoanAdmin(
    LoanPanelsMixin,
    LoanLifecycleMixin,
    LoanRepaymentsMixin,
    LoanApplicationMixin,
    LoanReportsMixin,
    ScopedHistoryAdmin,
):
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
        return format_amount(obj.principal)

    # --- permissions: a loan changes only through the services ---

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        names = [f for line in self.fieldsets for f in _flatten(line[1]["fields"])]
        return names

    # --- the loan page ---

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
