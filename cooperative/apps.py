from django.apps import AppConfig


class CooperativeConfig(AppConfig):
    name = "cooperative"
    verbose_name = "Coopdesk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connect the login/logout/lockout receivers and the permission-cache invalidation.
        # Imported here, not at the top: the models must be loaded first (ready() is the first safe point).
        from . import access_audit, audit, authz, checks  # noqa: F401, PLC0415
        from .api import schema  # noqa: F401, PLC0415 - registers the OpenAPI extensions
