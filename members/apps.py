from django.apps import AppConfig

from cooperative import demo


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # ready() is the first point where the models are loaded: these modules import them.
        from ledger.kyc import register_tier_source  # noqa: PLC0415

        from .demo import seed  # noqa: PLC0415
        from .selectors import kyc_tier  # noqa: PLC0415

        demo.register(seed, order=20)
        register_tier_source(kyc_tier)  # the ledger's KYC tier deposit limits (ledger/kyc.py)
