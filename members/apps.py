from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cooperative import demo  # noqa: PLC0415 - in ready(): the demo seed needs loaded models

        from .demo import seed  # noqa: PLC0415 - members.demo imports the services and so the models

        demo.register(seed, order=20)
