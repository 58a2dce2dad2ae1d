from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cooperative import demo
        from ledger.kyc import register_tier_source

        from .demo import seed
        from .selectors import kyc_tier

        demo.register(seed, order=20)
        register_tier_source(kyc_tier)  # the ledger's KYC tier deposit limits (ledger/kyc.py)
