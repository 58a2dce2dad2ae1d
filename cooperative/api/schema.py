"""drf-spectacular extensions for Coopdesk's own API classes (imported in CooperativeConfig.ready)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class MFASessionAuthenticationScheme(OpenApiAuthenticationExtension):
    """The admin's browser session (cookie), accepted once the session is OTP-verified."""

    target_class = "cooperative.api.authentication.MFASessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class ActiveUserJWTScheme(SimpleJWTScheme):
    """The bearer JWT, as drf-spectacular describes simplejwt's (the class only adds a status check)."""

    target_class = "cooperative.api.authentication.ActiveUserJWTAuthentication"
