from django.apps import AppConfig

from cooperative import demo


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .demo import seed  # noqa: PLC0415 - members.demo imports the services and so the models

        demo.register(seed, order=20)
