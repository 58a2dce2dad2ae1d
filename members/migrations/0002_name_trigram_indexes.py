"""Trigram (pg_trgm) GIN indexes so name search with icontains/istartswith uses an index.

Django's icontains on PostgreSQL compares UPPER("column"::text), so the indexes are on exactly that
expression. SQLite has no pg_trgm: the operation does nothing there.
"""

from django.db import migrations

NAME_COLUMNS = ("first_name", "last_name")


def _is_postgres(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


def create_trigram_indexes(apps, schema_editor):
    if not _is_postgres(schema_editor):
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in NAME_COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS member_{column}_trgm_idx ON members_member "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if not _is_postgres(schema_editor):
        return
    for column in NAME_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS member_{column}_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]

    operations = [migrations.RunPython(create_trigram_indexes, drop_trigram_indexes, elidable=False)]
