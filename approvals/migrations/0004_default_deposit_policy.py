"""Default approval policy for cash deposits (issue 12): above ₦5,000,000 one MANAGER, every branch.

Administrators edit it (or add per-branch bands) in the admin like the withdrawal band of 0002.
Re-running leaves an edited row alone.
"""

from decimal import Decimal

from django.db import migrations

DEFAULTS = [("deposit", "5000000", None, [(["MANAGER"], 1)])]


def create_policies(apps, schema_editor):
    policy_model = apps.get_model("approvals", "ApprovalPolicy")
    level_model = apps.get_model("approvals", "ApprovalLevel")
    for action_type, low, high, levels in DEFAULTS:
        if policy_model.objects.filter(
            action_type=action_type, branch__isnull=True, product_ref="", min_amount=Decimal(low)
        ).exists():
            continue
        policy = policy_model.objects.create(
            action_type=action_type,
            min_amount=Decimal(low),
            max_amount=Decimal(high) if high else None,
            escalation_roles=["ADMIN"],
        )
        for order, (roles, required) in enumerate(levels, start=1):
            level_model.objects.create(policy=policy, order=order, roles=roles, required_approvals=required)


def remove_policies(apps, schema_editor):
    policy_model = apps.get_model("approvals", "ApprovalPolicy")
    for action_type, low, _high, _levels in DEFAULTS:
        for policy in policy_model.objects.filter(
            action_type=action_type, branch__isnull=True, product_ref="", min_amount=Decimal(low)
        ):
            policy.levels.all().delete()
            policy.delete()


class Migration(migrations.Migration):
    dependencies = [("approvals", "0003_beat_schedule_deadlines")]

    operations = [migrations.RunPython(create_policies, remove_policies)]
