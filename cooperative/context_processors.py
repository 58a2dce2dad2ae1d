from django.conf import settings


def coopdesk(request) -> dict:
    return {
        "COOP_NAME": settings.COOP_NAME,
        "COOP_DEMO_MODE": settings.DEMO_MODE,
        "REQUIRE_STAFF_MFA": settings.REQUIRE_STAFF_MFA,
    }
