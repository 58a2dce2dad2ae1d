"""Default classification: the CBN microfinance-bank table (../shared/domain, §4.1). Editable in the admin."""

from decimal import Decimal

from django.db import migrations

CBN_MFB = [
    ("PERFORMING", "Performing", 0, 0, Decimal("1.00")),
    ("PASS_WATCH", "Pass and watch", 1, 30, Decimal("5.00")),
    ("SUBSTANDARD", "Substandard", 31, 60, Decimal("20.00")),
    ("DOUBTFUL", "Doubtful", 61, 90, Decimal("50.00")),
    ("LOST", "Lost", 91, None, Decimal("100.00")),
]


def create_buckets(apps, schema_editor):
    bucket = apps.get_model("loans", "ArrearsBucket")
    for code, name, low, high, percent in CBN_MFB:
        bucket.objects.get_or_create(
            code=code,
            defaults={"name": name, "min_days": low, "max_days": high, "provision_percent": percent},
        )


class Migration(migrations.Migration):
    dependencies = [("loans", "0001_initial")]

    operations = [migrations.RunPython(create_buckets, migrations.RunPython.noop)]
