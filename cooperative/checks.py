"""Deploy checks (`manage.py check --deploy`) beyond Django's own."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.db import DatabaseError

from .db_roles import database_role_problems

DOC = "Run the application as a role that does not own the tables: docs/operations.md, 'Database roles'."


@register(Tags.security, deploy=True)
def check_database_role(app_configs=None, **kwargs):
    """The app must not connect as a superuser or as the tables' owner: either can TRUNCATE, switch
    the append-only triggers off or rewrite the ledger. Silence only where that is intended (a CI
    database): DJANGO_SILENCED_CHECKS=cooperative.W001,cooperative.W002."""
    if not settings.IS_POSTGRES:
        return []
    try:
        problem = database_role_problems()
    except DatabaseError:
        return []  # an unreachable database is the readiness probe's business, not this check's
    if problem is None:
        return []
    kind, role = problem
    if kind == "superuser":
        return [
            Warning(
                f"The application connects to PostgreSQL as the superuser {role!r}.",
                hint=DOC,
                id="cooperative.W001",
            )
        ]
    return [
        Warning(
            f"The application connects to PostgreSQL as {role!r}, which owns the ledger tables "
            "(it can TRUNCATE them or disable their append-only triggers).",
            hint=DOC,
            id="cooperative.W002",
        )
    ]
