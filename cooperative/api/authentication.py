from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication


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
