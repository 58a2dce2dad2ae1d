from __future__ import annotations

import django_filters
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.models import update_last_login
from django.contrib.auth.signals import user_login_failed
from django.utils.decorators import method_decorator
from django_otp import devices_for_user, match_token
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenObtainSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from cooperative.audit import record_event
from cooperative.models import AuditLog, Branch, User
from cooperative.permissions import scope_queryset, sees_all_branches
from cooperative.roles import PARTNER

from .mixins import BranchScopedQuerysetMixin
from .permissions import HasPerm


class LockedOut(exceptions.APIException):
    """Axes refused the login: too many failures for this email or from this address."""

    status_code = 429
    default_detail = (
        "Too many failed login attempts for this account or from this address. "
        "It is locked for a while; try again later or ask an administrator to unlock it."
    )
    default_code = "locked_out"
    problem_title = "Account locked"
    problem_type = "locked-out"


class OtpRequired(exceptions.AuthenticationFailed):
    default_detail = "Staff sign in with the 6-digit code from their authenticator app: send it as `otp`."
    default_code = "otp_required"
    problem_title = "Authenticator code required"
    problem_type = "otp-required"


class OtpInvalid(exceptions.AuthenticationFailed):
    default_detail = "That authenticator code is not valid. Check the time on your phone and retry."
    default_code = "otp_invalid"
    problem_title = "Authenticator code not valid"
    problem_type = "otp-invalid"


class MfaNotEnrolled(exceptions.AuthenticationFailed):
    default_detail = (
        "Set up your authenticator app first: sign in to the admin (/admin/) once and scan the QR code."
    )
    default_code = "mfa_not_enrolled"
    problem_title = "Authenticator not set up"
    problem_type = "mfa-not-enrolled"


_OTP_REFUSALS = (OtpRequired, OtpInvalid, MfaNotEnrolled)


def needs_staff_otp(user) -> bool:
    """With REQUIRE_STAFF_MFA, staff need their authenticator code for a token as for the admin;
    partner (machine) users, who are not staff or hold the PARTNER role, keep their own credentials."""
    if not (settings.REQUIRE_STAFF_MFA and user.is_staff):
        return False
    return not user.groups.filter(name=PARTNER).exists()


class EmailTokenObtainSerializer(TokenObtainPairSerializer):
    """{email, password[, otp]} -> {access, refresh}; authentication goes through axes; staff add
    their TOTP code (`otp`) when REQUIRE_STAFF_MFA is on, as on the admin's sign-in page."""

    default_error_messages = {"no_active_account": "Email or password is not correct."}
    otp = serializers.CharField(
        required=False,
        write_only=True,
        max_length=8,
        help_text="Staff: the current 6-digit code from the authenticator app (REQUIRE_STAFF_MFA).",
    )

    def validate(self, attrs):
        otp = (attrs.pop("otp", "") or "").strip()
        authenticated = TokenObtainSerializer.validate(self, attrs)  # sets self.user, or raises
        if needs_staff_otp(self.user):
            self._check_otp(otp)
        return {**authenticated, **self._tokens()}

    def _check_otp(self, otp: str) -> None:
        user = self.user
        assert user is not None  # set by TokenObtainSerializer.validate, which raised otherwise
        if not any(True for _ in devices_for_user(user, confirmed=True)):
            raise MfaNotEnrolled()
        if not otp:
            raise OtpRequired()
        if match_token(user, otp) is None:
            request = self.context.get("request")
            record_event(AuditLog.Event.MFA_FAILURE, request=request, user=user)
            # Counts towards the axes lockout (the password alone succeeded and reset it).
            user_login_failed.send(sender=__name__, credentials={"username": user.email}, request=request)
            raise OtpInvalid()

    def _tokens(self) -> dict:
        user = self.user
        assert user is not None  # set by TokenObtainSerializer.validate, which raised otherwise
        refresh = self.get_token(user)
        if jwt_settings.UPDATE_LAST_LOGIN:
            update_last_login(User, user)  # the signal receiver's signature: (sender, user)
        # get_token returns a RefreshToken (typed as its base, Token).
        return {"refresh": str(refresh), "access": str(refresh.access_token)}  # type: ignore[attr-defined]


def _rate(group, request):
    return settings.LOGIN_RATE_LIMIT


def _email_of(data) -> str:
    """The email a token request names ("" when the body is not an object)."""
    value = data.get("email", "") if hasattr(data, "get") else ""
    return str(value).strip().lower()[:254]


@method_decorator(ratelimit(key="ip", rate=_rate, method="POST", block=True, group="api-token"), name="post")
class TokenObtainView(TokenObtainPairView):
    """Email + password -> JWT pair. Failures count towards the axes lockout like admin logins.

    The serializer authenticates with DRF's Request; axes records the failure from it (the client IP
    rule unwraps `_request`), but its middleware only sees the HttpRequest, so this view asks axes
    itself whether the caller is locked and answers with a 429 problem.
    """

    serializer_class = EmailTokenObtainSerializer
    permission_classes = (AllowAny,)  # type: ignore[assignment]  # simplejwt types it as ()
    authentication_classes = ()

    def post(self, request, *args, **kwargs):
        email = _email_of(request.data)  # malformed JSON raises ParseError here: a 400 problem
        if AxesProxyHandler.is_locked(request._request, {"username": email}):
            record_event(
                AuditLog.Event.TOKEN_REFUSED,
                request=request,
                user=User.objects.filter(email=email).first() if email else None,
                username=email,
                detail={"reason": "locked out"},
            )
            raise LockedOut()
        response = super().post(request, *args, **kwargs)
        record_event(
            AuditLog.Event.TOKEN_ISSUED,
            request=request,
            user=User.objects.filter(email=email).first(),
            username=email,
        )
        return response

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.AuthenticationFailed):
            email = _email_of(self.request.data)  # parsed already: authentication ran
            record_event(
                AuditLog.Event.TOKEN_REFUSED,
                request=self.request,
                user=User.objects.filter(email=email).first() if email else None,
                username=email,
                detail={
                    "reason": getattr(exc, "default_code", "")
                    if isinstance(exc, _OTP_REFUSALS)
                    else "bad credentials"
                },
            )
            if AxesProxyHandler.is_locked(self.request._request, {"username": email}):
                exc = LockedOut()
        return super().handle_exception(exc)


@method_decorator(
    ratelimit(key="ip", rate=_rate, method="POST", block=True, group="api-refresh"), name="post"
)
class TokenRefreshThrottledView(TokenRefreshView):
    permission_classes = (AllowAny,)  # type: ignore[assignment]  # simplejwt types it as ()
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


class AuditLogSerializer(serializers.ModelSerializer):
    user = serializers.UUIDField(source="user_id", read_only=True, allow_null=True)
    branch = serializers.UUIDField(source="branch_id", read_only=True, allow_null=True)

    class Meta:
        model = AuditLog
        fields = (
            "id",
            "created_at",
            "event",
            "user",
            "username",
            "branch",
            "ip_address",
            "user_agent",
            "request_id",
            "path",
            "detail",
        )
        read_only_fields = fields


class AuditLogFilter(django_filters.FilterSet):
    event = django_filters.MultipleChoiceFilter(choices=AuditLog.Event.choices)
    user = django_filters.UUIDFilter(field_name="user_id")
    username = django_filters.CharFilter(lookup_expr="iexact")
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="On or after this date (YYYY-MM-DD)"
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="On or before this date (YYYY-MM-DD)"
    )

    class Meta:
        model = AuditLog
        fields = ("event", "user", "username", "created_after", "created_before")


_audit_permissions = (IsAuthenticated, HasPerm.of("cooperative.view_audit_log"))


class AuditLogListView(BranchScopedQuerysetMixin, generics.ListAPIView):
    """The security audit log (read-only), newest first, scoped to the caller's branches.

    Filters: `event` (repeatable), `user` (id), `username`, `created_after` / `created_before`
    (YYYY-MM-DD, inclusive). Needs `cooperative.view_audit_log` (AUDITOR, MANAGER, ADMIN).
    """

    queryset = AuditLog.objects.select_related("user", "branch")
    serializer_class = AuditLogSerializer
    permission_classes = _audit_permissions
    filterset_class = AuditLogFilter
    search_fields = ("username", "ip_address", "request_id", "path")
    ordering_fields = ("created_at", "event")
    ordering = ("-created_at", "-id")


class AuditLogDetailView(BranchScopedQuerysetMixin, generics.RetrieveAPIView):
    queryset = AuditLog.objects.select_related("user", "branch")
    serializer_class = AuditLogSerializer
    permission_classes = _audit_permissions


__all__ = ["AuditLogListView", "BranchListView", "MeView", "TokenObtainView", "scope_queryset"]
