"""The nightly ledger verification: a django-celery-beat PeriodicTask at 02:30 Africa/Lagos (after
end of day, before the branches open).

Created once; administrators edit or disable it in the admin (Periodic tasks). Re-running the
migration leaves an edited schedule alone.
"""

from django.db import migrations

TASK_NAME = "Ledger: nightly verification"
TASK = "ledger.tasks.verify_ledger_task"


def create_schedule(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    if task_model.objects.filter(name=TASK_NAME).exists():
        return
    crontab, _ = crontab_model.objects.get_or_create(
        minute="30",
        hour="2",
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
        description="Recomputes every balance from its legs and checks every entry balances (the "
        "checks of manage.py verify_ledger); offenders are logged and written to the audit log.",
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0004_posting_requests"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
