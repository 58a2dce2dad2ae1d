"""Default approval policies (every branch, every product). Administrators edit them in the admin.

loan_approval: up to ₦500,000 one MANAGER; up to ₦5,000,000 a MANAGER then two of the credit
committee; above that the same plus an ADMIN. withdrawal above ₦500,000, transfer above ₦1,000,000,
account_closure / reversal / write_off above ₦0: one MANAGER. Re-running leaves edited rows alone.
"""

from decimal import Decimal

from django.db import migrations

M, CC, A = "MANAGER", "CREDIT_COMMITTEE", "ADMIN"
DEFAULTS = [
    ("loan_approval", "0", "500000", [([M], 1)]),
    ("loan_approval", "500000", "5000000", [([M], 1), ([CC], 2)]),
    ("loan_approval", "5000000", None, [([M], 1), ([CC], 2), ([A], 1)]),
    ("withdrawal", "500000", None, [([M], 1)]),
    ("transfer", "1000000", None, [([M], 1)]),
    ("account_closure", "0", None, [([M], 1)]),
    ("reversal", "0", None, [([M], 1)]),
    ("write_off", "0", None, [([M], 1)]),
]


def create_policies(apps, schema_editor):
    policy_model = apps.get_model("approvals", "ApprovalPolicy")
    level_model = apps.get_model("approvals", "ApprovalLevel")
    for action_type, low, high, levels in DEFAULTS:
        if policy_model.objects.filter(action_type=action_type, branch__isnull=True, product_ref="").filter(
            min_amount=Decimal(low)
        ).exists():
            continue
        policy = policy_model.objects.create(
            action_type=action_type,
            min_amount=Decimal(low),
            max_amount=Decimal(high) if high else None,
            escalation_roles=[A],
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
    dependencies = [("approvals", "0001_initial")]

    operations = [migrations.RunPython(create_policies, remove_policies)]
