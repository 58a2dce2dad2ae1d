"""Members API: list/search, register, read, update; exit and KYC decisions as actions.

Members are never deleted (their history is the cooperative's record): DELETE answers 405 and
points to the exit endpoint.
"""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, filters, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cooperative.api.mixins import BranchScopedQuerysetMixin
from cooperative.api.permissions import HasPerm
from cooperative.pagination import EstimatedPageNumberPagination

from .. import services
from ..models import Member
from ..selectors import search_members
from .serializers import (
    KycDecisionSerializer,
    MemberCreateSerializer,
    MemberOutputSerializer,
    MemberUpdateSerializer,
    ReasonSerializer,
    StatusChangeSerializer,
)

DELETE_REFUSED = (
    "Members are never deleted: their history is kept. To take a member out of the cooperative, "
    "POST a reason to /api/v1/members/{id}/exit/."
)


class MemberFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Member.Status.choices)
    kyc_status = django_filters.ChoiceFilter(choices=Member.KycStatus.choices)
    branch = django_filters.UUIDFilter(field_name="branch_id")

    class Meta:
        model = Member
        fields = ("status", "kyc_status", "branch")


class MemberSearchFilter(filters.BaseFilterBackend):
    """`?search=` through `members.selectors.search_members` (number, name, phone, BVN, NIN, email)."""

    param = "search"

    def filter_queryset(self, request, queryset, view):
        return search_members(queryset, request.query_params.get(self.param, ""))

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.param,
                "required": False,
                "in": "query",
                "description": "Member number, any part of the name, phone in any format, BVN, NIN or email.",
                "schema": {"type": "string"},
            }
        ]


@extend_schema_view(
    list=extend_schema(summary="List and search members", responses=MemberOutputSerializer(many=True)),
    retrieve=extend_schema(summary="A member", responses=MemberOutputSerializer),
)
class MemberViewSet(
    BranchScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Member.objects.select_related("branch")
    serializer_class = MemberOutputSerializer
    filter_backends = (DjangoFilterBackend, MemberSearchFilter, filters.OrderingFilter)
    filterset_class = MemberFilter
    pagination_class = EstimatedPageNumberPagination  # no COUNT(*) over 100,000 members
    ordering_fields = ("member_number", "last_name", "first_name", "join_date", "created_at", "status")
    ordering = ("member_number",)
    http_method_names = ("get", "post", "patch", "delete", "head", "options")

    def check_permissions(self, request):
        if request.method == "DELETE":
            # Nothing to authorise: the answer is always the same 405 explaining the exit route.
            if not (request.user and request.user.is_authenticated):
                self.permission_denied(request)
            return
        super().check_permissions(request)

    def http_method_not_allowed(self, request, *args, **kwargs):
        if request.method == "DELETE":
            raise exceptions.MethodNotAllowed("DELETE", detail=DELETE_REFUSED)
        return super().http_method_not_allowed(request, *args, **kwargs)

    def _out(self, member: Member, code: int = status.HTTP_200_OK) -> Response:
        member = self.get_queryset().get(pk=member.pk)
        return Response(
            MemberOutputSerializer(member, context=self.get_serializer_context()).data, status=code
        )

    @extend_schema(
        summary="Register a member", request=MemberCreateSerializer, responses={201: MemberOutputSerializer}
    )
    def create(self, request, *args, **kwargs):
        data = MemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.register_member(actor=request.user, **data.validated_data)
        return self._out(member, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Update a member's details", request=MemberUpdateSerializer, responses=MemberOutputSerializer
    )
    def partial_update(self, request, *args, **kwargs):
        member = self.get_object()
        data = MemberUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        member = services.update_member(actor=request.user, member_id=member.pk, **data.validated_data)
        return self._out(member)

    @extend_schema(
        summary="Exit a member (all balances must be zero)",
        request=ReasonSerializer,
        responses=MemberOutputSerializer,
    )
    @action(detail=True, methods=["post"], permission_classes=[HasPerm.of("members.exit_member")])
    def exit(self, request, pk=None):
        member = self.get_object()
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.exit_member(
            actor=request.user, member_id=member.pk, reason=data.validated_data["reason"]
        )
        return self._out(member)

    @extend_schema(
        summary="Verify or reject a member's KYC",
        request=KycDecisionSerializer,
        responses=MemberOutputSerializer,
    )
    @action(detail=True, methods=["post"], permission_classes=[HasPerm.of("members.verify_kyc")])
    def kyc(self, request, pk=None):
        member = self.get_object()
        data = KycDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["decision"] == Member.KycStatus.VERIFIED:
            member = services.verify_kyc(actor=request.user, member_id=member.pk)
        else:
            member = services.reject_kyc(
                actor=request.user, member_id=member.pk, reason=data.validated_data.get("reason", "")
            )
        return self._out(member)

    @extend_schema(
        summary="Set a member ACTIVE, DORMANT or SUSPENDED",
        request=StatusChangeSerializer,
        responses=MemberOutputSerializer,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="status",
        permission_classes=[HasPerm.of("members.change_member")],
    )
    def change_status(self, request, pk=None):
        member = self.get_object()
        data = StatusChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.change_member_status(actor=request.user, member_id=member.pk, **data.validated_data)
        return self._out(member)
