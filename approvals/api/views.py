"""Approvals API: the queue, one request, decide and cancel.

Every lookup goes through `requests_visible_to` (branch scope, and requesters see only their own
requests plus those they may decide): anything else is a 404, like an id that does not exist.
Deciding can move money (the final approval runs the action), so it is `@idempotent` and needs an
`Idempotency-Key` header. The service decides the rules (403 not permitted, 409 already decided).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from cooperative.api.errors import PROBLEM_CONTENT_TYPE
from cooperative.api.permissions import DefaultApiPermission, HasPerm
from cooperative.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from cooperative.permissions import get_scoped_object_or_404

from .. import services
from ..models import ApprovalRequest
from ..selectors import requests_visible_to
from .filters import ApprovalRequestFilter
from .serializers import (
    PROBLEM_SCHEMA,
    ApprovalRequestSerializer,
    CancelInputSerializer,
    DecideInputSerializer,
)

REQUEST_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Approval request id."
)


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=PROBLEM_SCHEMA, description=description)


DECIDE_ERRORS = {
    (400, PROBLEM_CONTENT_TYPE): _problem(
        "Invalid decision, a rejection without a comment, or a missing Idempotency-Key."
    ),
    (403, PROBLEM_CONTENT_TYPE): _problem(
        "You may not decide it: you asked for it or prepared the subject (four-eyes), you already "
        "decided, you hold no role of the current level, or it is not your branch."
    ),
    (404, PROBLEM_CONTENT_TYPE): _problem("No such request among those you can see."),
    (409, PROBLEM_CONTENT_TYPE): _problem(
        "Already decided (approved, rejected, cancelled or expired; the detail says by whom), the "
        "approved action was refused (e.g. insufficient funds), or the Idempotency-Key was reused."
    ),
}


def _visible(request):
    return requests_visible_to(request.user).prefetch_related("approvals__approver")


def _detail(request, pk) -> Response:
    obj = _visible(request).get(pk=pk)
    return Response(ApprovalRequestSerializer(obj, context={"request": request}).data)


@extend_schema_view(
    get=extend_schema(
        summary="List approval requests",
        description="Requests of your branches (deciders and auditors) or your own and those you may "
        "decide (requesters). `?status=PENDING&mine=true` is your queue: what you may decide now, "
        "oldest first.",
    )
)
class ApprovalRequestListView(generics.ListAPIView):
    serializer_class = ApprovalRequestSerializer
    filterset_class = ApprovalRequestFilter
    search_fields = ("title", "member_display")
    ordering_fields = ("created_at", "amount", "status")
    ordering = ("created_at",)
    queryset = ApprovalRequest.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApprovalRequest.objects.none()
        return _visible(self.request)


@extend_schema_view(get=extend_schema(summary="Read an approval request", parameters=[REQUEST_ID]))
class ApprovalRequestDetailView(generics.RetrieveAPIView):
    serializer_class = ApprovalRequestSerializer
    queryset = ApprovalRequest.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApprovalRequest.objects.none()
        return _visible(self.request)


class ApprovalDecideView(APIView):
    permission_classes = (DefaultApiPermission, HasPerm.of("approvals.view_approvalrequest"))

    @extend_schema(
        summary="Approve or reject",
        description="`decision` APPROVED or REJECTED (a comment is required to reject). When this is "
        "the last approval the request needs, the approved action runs at once, exactly once. Needs an "
        "Idempotency-Key; a retry with the same key returns the first answer.",
        parameters=[REQUEST_ID, IDEMPOTENCY_KEY_PARAMETER],
        request=DecideInputSerializer,
        responses={200: ApprovalRequestSerializer, **DECIDE_ERRORS},
    )
    @idempotent
    def post(self, request, pk):
        target = get_scoped_object_or_404(requests_visible_to(request.user), request.user, pk=pk)
        serializer = DecideInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.decide_approval(
            request_id=target.pk,
            actor=request.user,
            decision=serializer.validated_data["decision"],
            comment=serializer.validated_data["comment"],
        )
        return _detail(request, target.pk)


class ApprovalCancelView(APIView):
    permission_classes = (DefaultApiPermission, HasPerm.of("approvals.view_approvalrequest"))

    @extend_schema(
        summary="Cancel your request",
        description="Only the requester, only while it is pending (403 / 409 otherwise).",
        parameters=[REQUEST_ID],
        request=CancelInputSerializer,
        responses={200: ApprovalRequestSerializer, **DECIDE_ERRORS},
    )
    def post(self, request, pk):
        target = get_scoped_object_or_404(requests_visible_to(request.user), request.user, pk=pk)
        serializer = CancelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.cancel_approval_request(
            request_id=target.pk, actor=request.user, reason=serializer.validated_data["reason"]
        )
        return _detail(request, target.pk)
