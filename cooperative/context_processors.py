import functools

from django.conf import settings

from . import dashboard


def coopdesk(request) -> dict:
    return {
        "COOP_NAME": settings.COOP_NAME,
        "COOP_DEMO_MODE": settings.DEMO_MODE,
        "REQUIRE_STAFF_MFA": settings.REQUIRE_STAFF_MFA,
        # A callable: templates call it only where the header shows the badges (admin pages), so
        # other pages run no count query.
        "COOP_HEADER_BADGES": functools.partial(dashboard.badges_for, request),
    }
