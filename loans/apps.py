from django.apps import AppConfig


class LoansConfig(AppConfig):
    name = "loans"
    verbose_name = "Loans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .dashboard import register_dashboard_widgets  # noqa: PLC0415 - the admin's widgets (L3)

        register_dashboard_widgets()

        from .approval_actions import register_action_types  # noqa: PLC0415 - loans plug into approvals

        register_action_types()

        from cooperative import demo

        from . import demo as loans_demo

        demo.register(loans_demo.seed, order=40)
