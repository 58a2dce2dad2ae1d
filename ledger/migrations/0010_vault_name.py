"""Each branch's vault reads "Vault" wherever a person sees it ("Teller cash" is the account type)."""

from django.db import migrations

VAULTS = {"type": "TELLER_CASH", "gl_code": "TELLER_CASH", "till_teller__isnull": True, "member__isnull": True}


def name_the_vaults(apps, schema_editor):
    apps.get_model("ledger", "Account").objects.filter(**VAULTS, name="Teller cash").update(name="Vault")


def unname_the_vaults(apps, schema_editor):
    apps.get_model("ledger", "Account").objects.filter(**VAULTS, name="Vault").update(name="Teller cash")


class Migration(migrations.Migration):
    # Another branch adds 0008 (TRUNCATE triggers) at the same time; the merge makes this one follow it.
    dependencies = [("ledger", "0009_deposit_requests")]

    operations = [migrations.RunPython(name_the_vaults, unname_the_vaults, elidable=True)]
