"""`GET /api/v1/accounts/{id}/statement/?from=YYYY-MM-DD&to=YYYY-MM-DD&format=json|csv|xlsx|pdf`."""

from __future__ import annotations

import re
from datetime import date

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from cooperative.audit import record_event
from cooperative.exceptions import ValidationFailed
from cooperative.models import AuditLog
from cooperative.permissions import get_scoped_object_or_404

from ..models import Account
from ..statements import EXPORT_FORMATS, account_statement, export_detail, statement_http_response

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FORMATS = ("json", *EXPORT_FORMATS)


class _FileRenderer(BaseRenderer):
    """Declares a download format (the view answers with a ready-made file response)."""

    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class CSVRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


class XLSXRenderer(_FileRenderer):
    media_type = EXPORT_FORMATS["xlsx"][0]
    format = "xlsx"


class PDFRenderer(_FileRenderer):
    media_type = "application/pdf"
    format = "pdf"


class StatementMovementSerializer(serializers.Serializer):
    posted_at = serializers.DateTimeField()
    value_date = serializers.DateField()
    reference = serializers.CharField()
    description = serializers.CharField()
    debit = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    credit = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    balance = serializers.DecimalField(max_digits=18, decimal_places=2)


class StatementAccountSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    account_number = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    currency = serializers.CharField()
    member_number = serializers.CharField(source="member.member_number", allow_null=True, default=None)
    member_name = serializers.CharField(source="member.full_name", allow_null=True, default=None)
    branch = serializers.CharField(source="branch.code")


# "from" is a Python keyword, so the output serializer is assembled with type().
StatementSerializer = type(
    "StatementSerializer",
    (serializers.Serializer,),
    {
        "account": StatementAccountSerializer(),
        "from": serializers.DateField(source="date_from"),
        "to": serializers.DateField(source="date_to"),
        "opening_balance": serializers.DecimalField(max_digits=18, decimal_places=2),
        "total_debits": serializers.DecimalField(max_digits=18, decimal_places=2),
        "total_credits": serializers.DecimalField(max_digits=18, decimal_places=2),
        "closing_balance": serializers.DecimalField(max_digits=18, decimal_places=2),
        "movement_count": serializers.IntegerField(),
        "movements": StatementMovementSerializer(many=True, source="movement_list"),
        "__module__": __name__,
        "__doc__": "An account statement: opening balance, movements with running balance, closing balance.",
    },
)


def _parse_date(params, name: str, default: date) -> date:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not DATE_PATTERN.match(raw):
        raise ValidationFailed(f"'{name}' must be a date in the form YYYY-MM-DD.", field=name)
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed(f"'{name}' is not a valid date.", field=name) from exc


class AccountStatementApi(APIView):
    """An account's statement as JSON, or as a CSV, XLSX or PDF download."""

    queryset = Account.objects.all()  # view_account is required, like every account read
    renderer_classes = (JSONRenderer, CSVRenderer, XLSXRenderer, PDFRenderer)

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except (exceptions.NotFound, Http404):
            # An unknown ?format= is answered by `get` with a 400 naming the field, not a 404.
            return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        summary="Account statement",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (default: account opening)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, inclusive (default: today)."),
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=list(FORMATS),
                description="json (default), or a csv / xlsx / pdf download (needs export_statement).",
            ),
        ],
        responses={
            (200, "application/json"): StatementSerializer,
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, EXPORT_FORMATS["xlsx"][0]): OpenApiTypes.BINARY,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            400: OpenApiResponse(
                description="Bad date, from after to, unknown format, or too long for a PDF."
            ),
            403: OpenApiResponse(description="No permission to export statements."),
            404: OpenApiResponse(description="No such account in your branches."),
        },
    )
    def get(self, request, pk):
        account = get_scoped_object_or_404(
            Account.objects.select_related("member", "branch"), request.user, pk=pk
        )
        params = request.query_params
        # ?format= wins; otherwise the Accept header chose the renderer (JSON for */*).
        fmt = (params.get("format") or getattr(request.accepted_renderer, "format", "json")).lower()
        if fmt not in FORMATS:
            raise ValidationFailed(f"'format' must be one of {', '.join(FORMATS)}.", field="format")
        date_to = _parse_date(params, "to", timezone.localdate())
        date_from = _parse_date(params, "from", min(timezone.localtime(account.opened_at).date(), date_to))
        if date_from > date_to:
            raise ValidationFailed("'from' must be on or before 'to'.", field="from")
        if fmt != "json" and not request.user.has_perm("ledger.export_statement"):
            raise exceptions.PermissionDenied("You do not have permission to export statements.")

        statement = account_statement(account=account, date_from=date_from, date_to=date_to)
        if fmt == "json":
            statement_data = StatementSerializer(_WithMovements(statement)).data
            return Response(statement_data)
        response = statement_http_response(statement, fmt)  # a too-long PDF is a 400 here
        record_event(AuditLog.Event.EXPORT, request=request, detail=export_detail(statement, fmt))
        return response


class _WithMovements:
    """The statement with its movements as a list (what the JSON serializer reads)."""

    def __init__(self, statement):
        self._statement = statement
        self.movement_list = list(statement.movements())

    def __getattr__(self, name):
        return getattr(self._statement, name)
