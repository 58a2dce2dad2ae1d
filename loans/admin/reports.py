"""The loan portfolio reports page of the admin."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse

from cooperative.audit import record_event
from cooperative.exceptions import DomainError
from cooperative.models import AuditLog

from ..forms import ReportForm
from ..report_exports import available_reports, display_rows, export_detail, export_response, run_report


class LoanReportsMixin:
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
