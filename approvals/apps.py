from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Apps are loaded before their modules may import models: these imports wait for ready().
        from . import signals  # noqa: F401, PLC0415 - policy edits invalidate the cached policy table
        from .dashboard import register_dashboard  # noqa: PLC0415 - needs the models loaded

        register_dashboard()
