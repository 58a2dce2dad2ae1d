"""The hourly approvals job (reminders, escalation, expiry): a django-celery-beat PeriodicTask.

Created once; administrators edit or disable it in the admin (Periodic tasks). Re-running the
migration leaves an edited schedule alone.
"""

from django.db import migrations

TASK_NAME = "Approvals: reminders, escalation and expiry"
TASK = "approvals.tasks.process_approval_deadlines_task"


def create_schedule(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    if task_model.objects.filter(name=TASK_NAME).exists():
        return
    crontab, _ = crontab_model.objects.get_or_create(
        minute="5",
        hour="*",
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
        description="Reminds approvers of requests waiting past the policy's reminder time, then "
        "escalates or expires those past its timeout (docs/approvals.md). Idempotent.",
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0002_default_policies"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
