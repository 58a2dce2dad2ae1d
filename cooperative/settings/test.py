"""Test settings: the base settings plus fast hashing and eager Celery. DATABASE_URL still applies."""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("COOP_ENABLE_DATAGEN", "true")  # tests/datagen exercise generate_data

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
REQUIRE_STAFF_MFA = env.bool("REQUIRE_STAFF_MFA", default=False)
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": None}  # in-memory
# xdist workers share one Redis database: give each its own key space, so one worker's rate-limit
# counters (and tests/conftest.py's per-test clearing) never touch another's.
for _cache in CACHES.values():
    _cache["KEY_PREFIX"] = f"coopdesk-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The test runner empties tables with TRUNCATE between transactional tests; the append-only
    # tables refuse it unless the session says so (ledger 0008, cooperative 0003).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c coopdesk.allow_truncate=on"
