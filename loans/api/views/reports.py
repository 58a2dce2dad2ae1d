"""Loan portfolio reports: JSON, or a CSV/XLSX download; branch scoped and audited (EXPORT)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from cooperative.api.errors import PROBLEM_CONTENT_TYPE
from cooperative.api.permissions import DefaultApiPermission, HasPerm
from cooperative.audit import record_event
from cooperative.models import AuditLog
from ledger.api.statement_views import CSVRenderer, XLSXRenderer

from ...report_exports import (
    REPORT_FORMATS,
    available_reports,
    export_detail,
    export_response,
    report_json,
    run_report,
)
from ..serializers import LoanReportSerializer
from ._common import date_param, problem


class LoanReportView(APIView):
    permission_classes = (DefaultApiPermission, HasPerm.of("loans.view_loan_reports"))
    renderer_classes = (JSONRenderer, CSVRenderer, XLSXRenderer)

    @extend_schema(
        summary="A loan portfolio report",
        description="Branch scoped; needs `loans.view_loan_reports`. Names: portfolio_summary, "
        "arrears_aging, par, provisioning, disbursements_repayments. `format=json` (default) answers the "
        "columns (key, label, kind) and rows keyed by column, amounts as strings; `csv` and `xlsx` "
        "download a file (formula-like text escaped). Periods: `date_from`/`date_to` (default 1 January "
        "through today); provisioning uses `date_to` (or `date`) as its 'as of' date (default: the latest "
        "end of day). Each request is audited (EXPORT).",
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Report name."),
            OpenApiParameter("format", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=list(REPORT_FORMATS)),
            OpenApiParameter("date_from", OpenApiTypes.DATE, OpenApiParameter.QUERY),
            OpenApiParameter("date_to", OpenApiTypes.DATE, OpenApiParameter.QUERY),
            OpenApiParameter("date", OpenApiTypes.DATE, OpenApiParameter.QUERY),
        ],
        responses={
            (200, "application/json"): LoanReportSerializer,
            (200, "text/csv"): OpenApiTypes.BINARY,
            (
                200,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ): OpenApiTypes.BINARY,
            (400, PROBLEM_CONTENT_TYPE): problem("Unknown format or bad date."),
            (403, PROBLEM_CONTENT_TYPE): problem("Needs loans.view_loan_reports."),
            (404, PROBLEM_CONTENT_TYPE): problem("No such report."),
        },
    )
    def get(self, request, name):
        reports = available_reports()
        if name not in reports:
            raise NotFound(f"No report named {name!r}. Available: {', '.join(sorted(reports)) or 'none'}.")
        fmt = (
            request.query_params.get("format") or getattr(request.accepted_renderer, "format", "json")
        ).lower()
        if fmt not in REPORT_FORMATS:
            raise ValidationError({"format": [f"One of {', '.join(REPORT_FORMATS)}."]})
        date_from = date_param(request, "date_from")
        date_to = date_param(request, "date_to") or date_param(request, "date")
        if date_from and date_to and date_from > date_to:
            raise ValidationError({"date_to": ["The end date is before the start date."]})
        report = run_report(name, user=request.user, date_from=date_from, date_to=date_to)
        record_event(AuditLog.Event.EXPORT, request=request, detail=export_detail(report, fmt))
        if fmt == "json":
            return Response(report_json(report))
        return export_response(report, fmt)

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except (NotFound, Http404):
            # An unknown ?format= is answered by `get` with a 400 naming the field, not a 404.
            return JSONRenderer(), JSONRenderer.media_type
