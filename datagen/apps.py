from django.apps import AppConfig


class DatagenConfig(AppConfig):
    """`generate_data`: a realistic, consistent, large dataset for benchmarks (sits on top of the stack)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "datagen"
    verbose_name = "Data generator"
