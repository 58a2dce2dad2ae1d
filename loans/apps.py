from django.apps import AppConfig

from cooperative import demo


class LoansConfig(AppConfig):
    name = "loans"
    verbose_name = "Loans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .dashboard import register_dashboard_widgets  # noqa: PLC0415 - the admin's widgets (L3)

        register_dashboard_widgets()

        from .approval_actions import register_action_types  # noqa: PLC0415 - loans plug into approvals

        register_action_types()

        from . import demo as loans_demo  # noqa: PLC0415 - in ready(): the seed imports the models

        demo.register(loans_demo.seed, order=40)
