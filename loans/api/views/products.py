"""Loan products: list, create, read, change, and a schedule preview (nothing stored)."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import filters, generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from cooperative.api.errors import PROBLEM_CONTENT_TYPE
from cooperative.api.permissions import DefaultApiPermission, HasPerm
from ledger.api.parsers import DecimalJSONParser

from ... import selectors
from ...forms import PreviewError, preview_schedule
from ..filters import LoanProductFilter
from ..serializers import InstallmentSerializer, LoanProductSerializer, SchedulePreviewInputSerializer
from ._common import ERRORS, PRODUCT_ID, problem


@extend_schema_view(
    get=extend_schema(summary="List loan products", description="Filter with ?active=true."),
    post=extend_schema(
        summary="Create a loan product",
        responses={201: LoanProductSerializer, **{k: v for k, v in ERRORS.items() if k[0] in (400, 403)}},
    ),
)
class LoanProductListCreateView(generics.ListCreateAPIView):
    serializer_class = LoanProductSerializer
    queryset = selectors.loan_products()
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
    queryset = selectors.loan_products()
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
            (400, PROBLEM_CONTENT_TYPE): problem("Amount or term outside the product's limits, bad date."),
            (404, PROBLEM_CONTENT_TYPE): problem("No such product."),
        },
    )
    def post(self, request, pk):
        product = selectors.find_loan_product(pk)
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
