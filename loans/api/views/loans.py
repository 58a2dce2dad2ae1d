"""Loans: the list (branch scoped), applications, the detail with its summary, the lifecycle
actions, the schedule, repayments (`@idempotent`: an `Idempotency-Key` header), guarantors and
settlement quotes. Each view reads through `loans.selectors` and changes through one
`loans.services` call (`DomainError` -> 400/403/409 problem)."""

from __future__ import annotations

from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters, generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cooperative.api.errors import PROBLEM_CONTENT_TYPE
from cooperative.api.permissions import DefaultApiPermission, HasPerm
from cooperative.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent, service_idempotency_key
from cooperative.pagination import EstimatedPageNumberPagination
from ledger.api.parsers import DecimalJSONParser

from ... import selectors, services
from ...models import Loan, LoanSchedule
from ..filters import LoanFilter
from ..serializers import (
    CommentInputSerializer,
    DisburseInputSerializer,
    GuarantorInputSerializer,
    GuarantorSerializer,
    LoanCreateSerializer,
    LoanDetailSerializer,
    LoanSerializer,
    ReasonInputSerializer,
    RepaymentInputSerializer,
    RepaymentSerializer,
    ScheduleRowSerializer,
    SettlementQuoteSerializer,
)
from ._common import ERRORS, LOAN_ID, date_param, detail, loan_or_404


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
        return selectors.loans_in_scope(user=self.request.user)

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return LoanCreateSerializer
        return LoanSerializer

    def create(self, request, *args, **kwargs):
        serializer = LoanCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        loan = services.create_application(
            actor=request.user,
            member=data["member"],
            product=data["product"],
            principal=data["principal"],
            term=data["term"],
            purpose=data["purpose"],
            first_due_date=data["first_due_date"],
        )
        return Response(detail(loan.pk), status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(summary="Read a loan, with a summary", parameters=[LOAN_ID]))
class LoanDetailView(generics.RetrieveAPIView):
    serializer_class = LoanDetailSerializer
    queryset = Loan.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Loan.objects.none()
        return selectors.loans_in_scope(user=self.request.user, with_schedule=True)


class _LoanActionView(APIView):
    """POST loans/{id}/<action>/: one lifecycle service call, answering the loan.

    Each subclass defines `call(self, request, loan, data)`, which calls its service.
    """

    parser_classes = (DecimalJSONParser,)
    input_serializer: type[serializers.Serializer] = CommentInputSerializer

    def post(self, request, pk):
        loan = loan_or_404(request, pk)
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.call(request, loan, serializer.validated_data)
        data = detail(loan.pk)
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
        services.submit_application(actor=request.user, loan_id=loan.pk, comment=data["comment"])


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
        services.approve_loan(actor=request.user, loan_id=loan.pk, comment=data["comment"])


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
        services.reject_loan(actor=request.user, loan_id=loan.pk, reason=data["reason"])


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
        services.withdraw_application(actor=request.user, loan_id=loan.pk, reason=data["reason"])


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
        services.disburse_loan(
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
        loan_or_404(request, kwargs["pk"])
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LoanSchedule.objects.none()
        return selectors.loan_schedule_rows(loan_id=self.kwargs["pk"])

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
        loan = loan_or_404(request, pk)
        return Response(RepaymentSerializer(selectors.loan_payments(loan_id=loan.pk), many=True).data)

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
        loan = loan_or_404(request, pk)
        serializer = RepaymentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payment = services.record_repayment(
            actor=request.user,
            loan_id=loan.pk,
            amount=data["amount"],
            source=data["source"],
            payment_date=data["payment_date"],
            reference=data["reference"],
            idempotency_key=service_idempotency_key(request),
        )
        return Response(
            RepaymentSerializer(selectors.loan_payment(payment_id=payment.pk)).data,
            status=status.HTTP_201_CREATED,
        )


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
        loan = loan_or_404(request, pk)
        return Response(GuarantorSerializer(selectors.loan_guarantors(loan_id=loan.pk), many=True).data)

    @extend_schema(
        summary="Add a guarantor",
        description="An ACTIVE member other than the borrower pledges an amount up to their free "
        "savings (savings − existing holds). Over-commitment is a 409.",
        parameters=[LOAN_ID],
        request=GuarantorInputSerializer,
        responses={201: GuarantorSerializer, **ERRORS},
    )
    def post(self, request, pk):
        loan = loan_or_404(request, pk)
        serializer = GuarantorInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        guarantor = services.add_guarantor(
            actor=request.user,
            loan_id=loan.pk,
            guarantor_member=serializer.validated_data["member"],
            amount=serializer.validated_data["amount"],
        )
        return Response(
            GuarantorSerializer(selectors.loan_guarantor(guarantor_id=guarantor.pk)).data,
            status=status.HTTP_201_CREATED,
        )


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
        loan = loan_or_404(request, pk)
        as_of = date_param(request, "date") or timezone.localdate()
        quote = selectors.settlement_quote(loan=loan, as_of=as_of)
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
