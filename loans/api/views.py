"""Loans API: products (with a schedule preview), loans and their lifecycle actions, schedule,
repayments, guarantors, settlement quotes and portfolio reports.

Every loan lookup goes through the caller's branch scope first (another branch's loan is a 404, like
one that does not exist); then `loans.services` decides (`DomainError` -> 400/403/409 problem).
Repayments are `@idempotent` and need an `Idempotency-Key` header.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.http import Http404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import filters, generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from cooperative.api.errors import PROBLEM_CONTENT_TYPE
from cooperative.api.permissions import DefaultApiPermission, HasPerm
from cooperative.audit import record_event
from cooperative.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent, service_idempotency_key
from cooperative.models import AuditLog
from cooperative.pagination import EstimatedPageNumberPagination
from cooperative.permissions import get_scoped_object_or_404, scope_queryset
from ledger.api.parsers import DecimalJSONParser
from ledger.api.serializers import ProblemSerializer
from ledger.api.statement_views import CSVRenderer, XLSXRenderer

from ..forms import PreviewError, preview_schedule
from ..models import Guarantor, Loan, LoanPayment, LoanProduct, LoanSchedule
from ..selectors import loan_summary  # noqa: F401  (moved to the selectors; the serializers read it here)
from .exports import (
    REPORT_FORMATS,
    available_reports,
    export_detail,
    export_response,
    report_json,
    run_report,
)
from .filters import LoanFilter, LoanProductFilter
from .serializers import (
    CommentInputSerializer,
    DisburseInputSerializer,
    GuarantorInputSerializer,
    GuarantorSerializer,
    InstallmentSerializer,
    LoanCreateSerializer,
    LoanDetailSerializer,
    LoanProductSerializer,
    LoanReportSerializer,
    LoanSerializer,
    ReasonInputSerializer,
    RepaymentInputSerializer,
    RepaymentSerializer,
    SchedulePreviewInputSerializer,
    ScheduleRowSerializer,
    SettlementQuoteSerializer,
)

ZERO = Decimal("0.00")
PRODUCT_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Product id.")
LOAN_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Loan id.")


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ProblemSerializer, description=description)


ERRORS = {
    (400, PROBLEM_CONTENT_TYPE): _problem("Invalid input; the field at fault is named in `errors`."),
    (403, PROBLEM_CONTENT_TYPE): _problem("Not permitted (role, branch, or four-eyes rule)."),
    (404, PROBLEM_CONTENT_TYPE): _problem("No such loan among those you can see."),
    (409, PROBLEM_CONTENT_TYPE): _problem(
        "The loan's state does not allow this (e.g. closed, already disbursed)."
    ),
}


def _services():
    from loans import services

    return services


def _selectors():
    from loans import selectors

    return selectors


def loans_queryset():
    return Loan.objects.select_related("member", "product", "branch", "loan_officer", "arrears_bucket")


# --- Products -------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(summary="List loan products", description="Filter with ?active=true."),
    post=extend_schema(
        summary="Create a loan product",
        responses={201: LoanProductSerializer, **{k: v for k, v in ERRORS.items() if k[0] in (400, 403)}},
    ),
)
class LoanProductListCreateView(generics.ListCreateAPIView):
    serializer_class = LoanProductSerializer
    queryset = LoanProduct.objects.all()
    filter_backends = (DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter)
    filterset_class = LoanProductFilter
    search_fields = ("name",)
    ordering_fields = ("name", "interest_rate", "created_at")
    ordering = ("name",)
    parser_classes = (DecimalJSONParser,)


@extend_schema_view(
    get=extend_schema(summary="Read a loan product", parameters=[PRODUCT_ID]),
    put=extend_schema(summary="Replace a loan product's settings", parameters=[PRODUCT_ID]),
    patch=extend_schema(summary="Change some of a loan product's settings", parameters=[PRODUCT_ID]),
)
class LoanProductDetailView(generics.RetrieveUpdateAPIView):
    serializer_class = LoanProductSerializer
    queryset = LoanProduct.objects.all()
    parser_classes = (DecimalJSONParser,)


class LoanProductSchedulePreviewView(APIView):
    permission_classes = (DefaultApiPermission, HasPerm.of("loans.view_loanproduct"))
    parser_classes = (DecimalJSONParser,)

    @extend_schema(
        summary="Preview a schedule for a product",
        description="The installments a loan of this product, amount and term would get; the same "
        "JSON as `manage.py loan_schedule --json` (amounts as strings). Nothing is stored.",
        parameters=[PRODUCT_ID],
        request=SchedulePreviewInputSerializer,
        responses={
            200: InstallmentSerializer(many=True),
            (400, PROBLEM_CONTENT_TYPE): _problem("Amount or term outside the product's limits, bad date."),
            (404, PROBLEM_CONTENT_TYPE): _problem("No such product."),
        },
    )
    def post(self, request, pk):
        product = LoanProduct.objects.filter(pk=pk).first()
        if product is None:
            raise NotFound("No such loan product.")
        serializer = SchedulePreviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            schedule = preview_schedule(
                product,
                principal=data["principal"],
                term=data["term"],
                disbursed_on=data.get("disbursed_on"),
                first_due_on=data.get("first_due_on"),
            )
        except PreviewError as exc:
            raise ValidationError({exc.field or "non_field_errors": [exc.message]}) from exc
        return Response(schedule.as_list())


# --- Loans ----------------------------------------------------------------------------------------


def _loan_or_404(request, pk) -> Loan:
    return get_scoped_object_or_404(loans_queryset(), request.user, pk=pk)


def _detail(loan_id) -> dict:
    loan = loans_queryset().prefetch_related("schedule").get(pk=loan_id)
    return LoanDetailSerializer(loan).data


@extend_schema_view(
    get=extend_schema(
        summary="List loans",
        description="Loans in your branches. Filters: status, branch, product, member, officer. "
        "Search by loan number, member number or name.",
    ),
    post=extend_schema(
        summary="Take a loan application",
        description="Creates a DRAFT application (`loans.add_loan`). Amount and term must be within the "
        "product's limits (400 naming the field); an inactive product is a 400.",
        request=LoanCreateSerializer,
        responses={201: LoanDetailSerializer, **ERRORS},
    ),
)
class LoanListCreateView(generics.ListCreateAPIView):
    serializer_class = LoanSerializer
    queryset = Loan.objects.none()
    filter_backends = (DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter)
    filterset_class = LoanFilter
    pagination_class = EstimatedPageNumberPagination
    search_fields = ("loan_number", "member__member_number", "member__first_name", "member__last_name")
    ordering_fields = ("created_at", "principal", "loan_number", "days_past_due")
    ordering = ("-created_at",)
    parser_classes = (DecimalJSONParser,)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Loan.objects.none()
        return scope_queryset(loans_queryset(), self.request.user)

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return LoanCreateSerializer
        return LoanSerializer

    def create(self, request, *args, **kwargs):
        serializer = LoanCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        loan = _services().create_application(
            actor=request.user,
            member=data["member"],
            product=data["product"],
            principal=data["principal"],
            term=data["term"],
            purpose=data["purpose"],
            first_due_date=data["first_due_date"],
        )
        return Response(_detail(loan.pk), status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(summary="Read a loan, with a summary", parameters=[LOAN_ID]))
class LoanDetailView(generics.RetrieveAPIView):
    serializer_class = LoanDetailSerializer
    queryset = Loan.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Loan.objects.none()
        return scope_queryset(loans_queryset().prefetch_related("schedule"), self.request.user)


class _LoanActionView(APIView):
    """POST loans/{id}/<action>/: one lifecycle service call, answering the loan.

    Each subclass defines `call(self, request, loan, data)`, which calls its service.
    """

    parser_classes = (DecimalJSONParser,)
    input_serializer: type[serializers.Serializer] = CommentInputSerializer

    def post(self, request, pk):
        loan = _loan_or_404(request, pk)
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.call(request, loan, serializer.validated_data)
        data = _detail(loan.pk)
        # 202: the step is recorded but waits for (further) approvers: the status has not moved yet.
        waiting = data["status"] == loan.status and data["pending_approval"] is not None
        return Response(data, status=status.HTTP_202_ACCEPTED if waiting else status.HTTP_200_OK)


def _action_schema(summary: str, description: str, request_serializer):
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[LOAN_ID],
        request=request_serializer,
        responses={200: LoanDetailSerializer, 202: LoanDetailSerializer, **ERRORS},
    )


class LoanSubmitView(_LoanActionView):
    permission_classes = (DefaultApiPermission, HasPerm.of("loans.submit_loan"))
    input_serializer = CommentInputSerializer

    @_action_schema(
        "Submit an application",
        "DRAFT -> SUBMITTED. Runs the eligibility checks and guarantor coverage (400 with the reason).",
        CommentInputSerializer,
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def call(self, request, loan, data):
        _services().submit_application(actor=request.user, loan_id=loan.pk)


class LoanApproveView(_LoanActionView):
    permission_classes = (DefaultApiPermission, HasPerm.of("loans.approve_loan"))
    input_serializer = CommentInputSerializer

    @_action_schema(
        "Approve an application",
        "Decides the loan's pending `loan_approval` request as the caller (the same request as "
        "`POST /approvals/{id}/decide/`). The final approval makes the loan APPROVED (200; guarantor "
        "pledges become holds); an approval at an earlier level answers 202 with the loan still "
        "SUBMITTED and `pending_approval` at its next level. The loan's creator or submitter, a second "
        "decision by the same person, or someone without the level's role gets 403.",
        CommentInputSerializer,
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def call(self, request, loan, data):
        _services().approve_loan(actor=request.user, loan_id=loan.pk, comment=data["comment"])


class LoanRejectView(_LoanActionView):
    permission_classes = (DefaultApiPermission, HasPerm.of("loans.approve_loan"))
    input_serializer = ReasonInputSerializer

    @_action_schema(
        "Reject an application",
        "Rejects the loan's pending `loan_approval` request with the reason: SUBMITTED -> REJECTED "
        "(the same rules as approving).",
        ReasonInputSerializer,
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def call(self, request, loan, data):
        _services().reject_loan(actor=request.user, loan_id=loan.pk, reason=data["reason"])


class LoanWithdrawView(_LoanActionView):
    permission_classes = (DefaultApiPermission, HasPerm.of("loans.change_loan"))
    input_serializer = ReasonInputSerializer

    @_action_schema(
        "Withdraw an application",
        "DRAFT, SUBMITTED or APPROVED -> WITHDRAWN (the applicant changed their mind); releases holds.",
        ReasonInputSerializer,
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def call(self, request, loan, data):
        _services().withdraw_application(actor=request.user, loan_id=loan.pk, reason=data["reason"])


class LoanDisburseView(_LoanActionView):
    permission_classes = (DefaultApiPermission, HasPerm.of("loans.disburse_loan"))
    input_serializer = DisburseInputSerializer

    @_action_schema(
        "Disburse an approved loan",
        "APPROVED -> DISBURSED, once: credits the member's savings (less the processing fee) and "
        "stores the schedule. When a `loan_disbursement` approval policy covers the loan, answers 202: "
        "the loan stays APPROVED until the request's final approver disburses it.",
        DisburseInputSerializer,
    )
    def post(self, request, pk):
        return super().post(request, pk)

    def call(self, request, loan, data):
        _services().disburse_loan(
            actor=request.user,
            loan_id=loan.pk,
            disbursement_date=data["disbursement_date"],
            first_due_date=data["first_due_date"],
        )


@extend_schema_view(
    get=extend_schema(
        summary="A loan's schedule",
        description="Installments with what has been paid against each (amounts as strings).",
        parameters=[LOAN_ID],
    )
)
class LoanScheduleView(generics.ListAPIView):
    serializer_class = ScheduleRowSerializer
    pagination_class = None
    queryset = LoanSchedule.objects.none()

    def list(self, request, *args, **kwargs):
        _loan_or_404(request, kwargs["pk"])
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LoanSchedule.objects.none()
        return LoanSchedule.objects.filter(loan_id=self.kwargs["pk"]).order_by("installment_number")

    def get_permissions(self):
        return [DefaultApiPermission(), HasPerm.of("loans.view_loan")()]


class LoanRepaymentsView(APIView):
    parser_classes = (DecimalJSONParser,)

    def get_permissions(self):
        if self.request is not None and self.request.method == "POST":
            return [DefaultApiPermission(), HasPerm.of("loans.record_repayment")()]
        return [DefaultApiPermission(), HasPerm.of("loans.view_loan")()]

    @extend_schema(
        summary="A loan's repayments",
        description="Newest first, reversed ones included (`reversed`).",
        parameters=[LOAN_ID],
        responses={
            200: RepaymentSerializer(many=True),
            (404, PROBLEM_CONTENT_TYPE): ERRORS[(404, PROBLEM_CONTENT_TYPE)],
        },
    )
    def get(self, request, pk):
        loan = _loan_or_404(request, pk)
        payments = LoanPayment.objects.filter(loan=loan).select_related("journal_entry", "received_by")
        return Response(RepaymentSerializer(payments, many=True).data)

    @extend_schema(
        summary="Record a repayment",
        description="Allocated by the product's order (penalties, fees, interest, principal; oldest "
        "installment first). Source CASH (teller cash), SAVINGS (the member's savings) or BANK. "
        "A closed loan is a 409. Needs `loans.record_repayment` and an Idempotency-Key.",
        parameters=[LOAN_ID, IDEMPOTENCY_KEY_PARAMETER],
        request=RepaymentInputSerializer,
        responses={201: RepaymentSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request, pk):
        loan = _loan_or_404(request, pk)
        serializer = RepaymentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payment = _services().record_repayment(
            actor=request.user,
            loan_id=loan.pk,
            amount=data["amount"],
            source=data["source"],
            payment_date=data["payment_date"],
            reference=data["reference"],
            idempotency_key=service_idempotency_key(request),
        )
        payment = LoanPayment.objects.select_related("journal_entry", "received_by").get(pk=payment.pk)
        return Response(RepaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class LoanGuarantorsView(APIView):
    parser_classes = (DecimalJSONParser,)

    def get_permissions(self):
        if self.request is not None and self.request.method == "POST":
            return [DefaultApiPermission(), HasPerm.of("loans.add_guarantor")()]
        return [DefaultApiPermission(), HasPerm.of("loans.view_loan")()]

    @extend_schema(
        summary="A loan's guarantors",
        parameters=[LOAN_ID],
        responses={
            200: GuarantorSerializer(many=True),
            (404, PROBLEM_CONTENT_TYPE): ERRORS[(404, PROBLEM_CONTENT_TYPE)],
        },
    )
    def get(self, request, pk):
        loan = _loan_or_404(request, pk)
        guarantors = Guarantor.objects.filter(loan=loan).select_related("member")
        return Response(GuarantorSerializer(guarantors, many=True).data)

    @extend_schema(
        summary="Add a guarantor",
        description="An ACTIVE member other than the borrower pledges an amount up to their free "
        "savings (savings − existing holds). Over-commitment is a 409.",
        parameters=[LOAN_ID],
        request=GuarantorInputSerializer,
        responses={201: GuarantorSerializer, **ERRORS},
    )
    def post(self, request, pk):
        loan = _loan_or_404(request, pk)
        serializer = GuarantorInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        guarantor = _services().add_guarantor(
            actor=request.user,
            loan_id=loan.pk,
            guarantor_member=serializer.validated_data["member"],
            amount=serializer.validated_data["amount"],
        )
        guarantor = Guarantor.objects.select_related("member").get(pk=guarantor.pk)
        return Response(GuarantorSerializer(guarantor).data, status=status.HTTP_201_CREATED)


class LoanSettlementQuoteView(APIView):
    permission_classes = (DefaultApiPermission, HasPerm.of("loans.view_loan"))

    @extend_schema(
        summary="Settlement quote",
        description="The exact amount that pays the loan off on `date` (default today).",
        parameters=[
            LOAN_ID,
            OpenApiParameter("date", OpenApiTypes.DATE, OpenApiParameter.QUERY, description="YYYY-MM-DD."),
        ],
        responses={200: SettlementQuoteSerializer, **ERRORS},
    )
    def get(self, request, pk):
        loan = _loan_or_404(request, pk)
        as_of = _date_param(request, "date") or timezone.localdate()
        quote = _selectors().settlement_quote(loan=loan, as_of=as_of)
        return Response(
            SettlementQuoteSerializer(
                {
                    "as_of": as_of,
                    "principal": quote.principal,
                    "interest": quote.interest,
                    "fees": quote.fees,
                    "penalties": quote.penalties,
                    "total": quote.total,
                }
            ).data
        )


def _date_param(request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({name: ["Enter a date in the form YYYY-MM-DD."]}) from None


# --- Reports --------------------------------------------------------------------------------------


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
            (400, PROBLEM_CONTENT_TYPE): _problem("Unknown format or bad date."),
            (403, PROBLEM_CONTENT_TYPE): _problem("Needs loans.view_loan_reports."),
            (404, PROBLEM_CONTENT_TYPE): _problem("No such report."),
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
        date_from = _date_param(request, "date_from")
        date_to = _date_param(request, "date_to") or _date_param(request, "date")
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
