from django.apps import AppConfig


class CooperativeConfig(AppConfig):
    name = "cooperative"
    verbose_name = "Coopdesk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import audit  # noqa: F401 - connects the login/logout/lockout receivers
        from .api import schema  # noqa: F401 - registers the OpenAPI extensions
