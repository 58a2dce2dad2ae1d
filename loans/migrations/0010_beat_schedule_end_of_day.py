"""The nightly end-of-day job: a django-celery-beat PeriodicTask at 23:30 Africa/Lagos.

Created once; administrators edit or disable it in the admin (Periodic tasks). Re-running the
migration leaves an edited schedule alone.
"""

from django.db import migrations

TASK_NAME = "Loans: end of day"
TASK = "loans.tasks.run_end_of_day_task"


def create_schedule(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    if task_model.objects.filter(name=TASK_NAME).exists():
        return
    crontab, _ = crontab_model.objects.get_or_create(
        minute="30",
        hour="23",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Africa/Lagos",
    )
    task_model.objects.create(
        name=TASK_NAME,
        task=TASK,
        crontab=crontab,
        enabled=True,
        description="Overdue installments, penalties, auto-debit, classification and the portfolio "
        "snapshot for today's business date (docs/end-of-day.md). Idempotent per date.",
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("loans", "0003_loan_writeoff_amounts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
