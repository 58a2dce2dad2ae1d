"""Grant the application's PostgreSQL role exactly what it needs (see cooperative/db_roles.py).

Run as the tables' owner after every `migrate` (new tables need their grants):
    DATABASE_URL=postgres://coopdesk_owner@db/coopdesk python manage.py grant_app_role --role coopdesk_app
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from cooperative.db_roles import grant_statements


class Command(BaseCommand):
    help = "Grant a PostgreSQL login role the application's privileges (append-only ledger and audit log)."

    def add_arguments(self, parser):
        parser.add_argument("--role", required=True, help="The role the application connects as.")
        parser.add_argument("--print", action="store_true", help="Print the SQL instead of running it.")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("grant_app_role needs PostgreSQL (DATABASE_URL=postgres://...).")
        role = options["role"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            row = cursor.fetchone()
        if row is None:
            raise CommandError(
                f"No PostgreSQL role {role!r}. Create it first: CREATE ROLE {role} LOGIN PASSWORD '...';"
            )
        if row[0]:
            raise CommandError(f"{role} is a superuser: privileges mean nothing for it. Use a plain role.")
        statements = grant_statements(
            role, connection.introspection.table_names(), connection.settings_dict["NAME"]
        )
        if options["print"]:
            self.stdout.write(";\n".join(statements) + ";")
            return
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(
            f"Granted {role} the application's privileges on {connection.settings_dict['NAME']}."
        )
