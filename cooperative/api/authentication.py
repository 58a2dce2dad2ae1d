from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication


class MFASessionAuthentication(SessionAuthentication):
    """Browser sessions on the API count only when OTP-verified (if staff MFA is required)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, auth = result
        if settings.REQUIRE_STAFF_MFA and not (hasattr(user, "is_verified") and user.is_verified()):
            raise exceptions.PermissionDenied("Two-factor verification is required for this session.")
        return user, auth


class ActiveUserJWTAuthentication(JWTAuthentication):
    """simplejwt reads the user afresh for every request; this also refuses a suspended or departed
    user whose status was changed without save() (a QuerySet.update), which leaves is_active True."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if not getattr(user, "can_sign_in", user.is_active):
            raise exceptions.AuthenticationFailed("User is inactive", code="user_inactive")
        return user
