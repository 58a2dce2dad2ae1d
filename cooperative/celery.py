"""The Celery app `cooperative` (`celery -A cooperative worker`)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cooperative.settings.base")

app = Celery("cooperative")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
