from django.apps import AppConfig


class CooperativeConfig(AppConfig):
    name = "cooperative"
    verbose_name = "Coopdesk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connect the login/logout/lockout receivers and the permission-cache invalidation.
        from . import access_audit, audit, authz, checks  # noqa: F401
        from .api import schema  # noqa: F401 - registers the OpenAPI extensions
