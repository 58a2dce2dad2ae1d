"""What every loans API view shares: the OpenAPI error answers, the path parameters, the caller's
loan (branch scope first: another branch's loan is a 404, like one that does not exist) and the
loan's detail answer."""

from __future__ import annotations

from datetime import date

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.exceptions import ValidationError

from cooperative.api.errors import PROBLEM_CONTENT_TYPE
from cooperative.permissions import get_scoped_object_or_404
from ledger.api.serializers import ProblemSerializer

from ... import selectors
from ...models import Loan
from ..serializers import LoanDetailSerializer

PRODUCT_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Product id.")
LOAN_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Loan id.")


def problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ProblemSerializer, description=description)


ERRORS = {
    (400, PROBLEM_CONTENT_TYPE): problem("Invalid input; the field at fault is named in `errors`."),
    (403, PROBLEM_CONTENT_TYPE): problem("Not permitted (role, branch, or four-eyes rule)."),
    (404, PROBLEM_CONTENT_TYPE): problem("No such loan among those you can see."),
    (409, PROBLEM_CONTENT_TYPE): problem(
        "The loan's state does not allow this (e.g. closed, already disbursed)."
    ),
}


def loan_or_404(request, pk) -> Loan:
    return get_scoped_object_or_404(selectors.loan_rows(), request.user, pk=pk)


def detail(loan_id) -> dict:
    return LoanDetailSerializer(selectors.loan_detail(loan_id=loan_id)).data


def date_param(request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({name: ["Enter a date in the form YYYY-MM-DD."]}) from None
