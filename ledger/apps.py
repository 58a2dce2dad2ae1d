from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Ledger"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # ready() is the first point where the models are loaded: these modules import them.
        from cooperative import dashboard, demo  # noqa: PLC0415

        from . import demo as ledger_demo  # noqa: PLC0415
        from .admin import ready_to_pay, today_at_branch  # noqa: PLC0415
        from .approval_actions import register_action_types  # noqa: PLC0415

        demo.register(ledger_demo.seed, order=30)
        dashboard.register(
            title="Today at your branch",
            template="ledger/widget_today.html",
            context=today_at_branch,
            order=20,
            permission="ledger.post_transaction",
        )
        dashboard.register(
            title="Withdrawals ready to pay",
            template="ledger/widget_ready_to_pay.html",
            context=ready_to_pay,
            order=21,
            permission="ledger.post_transaction",
        )
        # Withdrawals and transfers above the policy bands, closures with a balance and reversals
        # wait for approval (ledger/approval_actions.py).
        register_action_types()
