from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from cooperative.audit import record_event
from cooperative.models import AuditLog, Branch, User
from cooperative.permissions import scope_queryset, sees_all_branches

from .mixins import BranchScopedQuerysetMixin


class LockedOut(exceptions.APIException):
    status_code = 403
    default_detail = "Too many failed login attempts. The account is locked; try again later."
    default_code = "locked_out"


class EmailTokenObtainSerializer(TokenObtainPairSerializer):
    """{email, password} -> {access, refresh}; authentication goes through axes."""

    default_error_messages = {"no_active_account": "Email or password is not correct."}


def _rate(group, request):
    return settings.LOGIN_RATE_LIMIT


@method_decorator(ratelimit(key="ip", rate=_rate, method="POST", block=True, group="api-token"), name="post")
class TokenObtainView(TokenObtainPairView):
    serializer_class = EmailTokenObtainSerializer
    permission_classes = (AllowAny,)
    authentication_classes = ()

    def post(self, request, *args, **kwargs):
        http_request = request._request
        credentials = {"username": str(request.data.get("email", "")).strip().lower()}
        if AxesProxyHandler.is_locked(http_request, credentials):
            record_event(
                AuditLog.Event.TOKEN_REFUSED,
                request=request,
                username=credentials["username"],
                detail={"reason": "locked out"},
            )
            raise LockedOut()
        response = super().post(request, *args, **kwargs)
        record_event(AuditLog.Event.TOKEN_ISSUED, request=request, username=credentials["username"])
        return response

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.AuthenticationFailed):
            email = (
                str(self.request.data.get("email", "")).strip().lower()
                if hasattr(self.request, "data")
                else ""
            )
            record_event(
                AuditLog.Event.TOKEN_REFUSED,
                request=self.request,
                username=email,
                detail={"reason": "bad credentials"},
            )
            if AxesProxyHandler.is_locked(self.request._request, {"username": email}):
                exc = LockedOut()
        return super().handle_exception(exc)


@method_decorator(
    ratelimit(key="ip", rate=_rate, method="POST", block=True, group="api-refresh"), name="post"
)
class TokenRefreshThrottledView(TokenRefreshView):
    permission_classes = (AllowAny,)
    authentication_classes = ()


class BranchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Branch
        fields = ("id", "name", "code", "address", "city", "state", "status")


class BranchListView(BranchScopedQuerysetMixin, generics.ListAPIView):
    """Branches the caller may see."""

    queryset = Branch.objects.order_by("code")
    serializer_class = BranchSerializer
    filterset_fields = ("status", "state", "code")
    search_fields = ("name", "code", "city")
    ordering_fields = ("code", "name")


class BranchDetailView(BranchScopedQuerysetMixin, generics.RetrieveAPIView):
    queryset = Branch.objects.all()
    serializer_class = BranchSerializer


class MeSerializer(serializers.ModelSerializer):
    branches = BranchSerializer(many=True, read_only=True)
    roles = serializers.SerializerMethodField()
    sees_all_branches = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = (
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "status",
            "branches",
            "roles",
            "sees_all_branches",
        )

    def get_roles(self, obj) -> list[str]:
        return list(obj.groups.order_by("name").values_list("name", flat=True))

    def get_sees_all_branches(self, obj) -> bool:
        return sees_all_branches(obj)


class MeView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data, status=status.HTTP_200_OK)


__all__ = ["BranchListView", "MeView", "TokenObtainView", "scope_queryset"]
