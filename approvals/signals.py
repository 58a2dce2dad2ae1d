"""Cache invalidation only (a decoupled side effect): any policy or level change, from the admin,
a migration or the shell, bumps the policy table's version.

Bumped twice: at once (so this transaction, and a test that never commits, sees its own change) and
again after the commit (a process that rebuilt the table from the old rows in between, tagging it
with the first bump, is invalidated by the second)."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import ApprovalLevel, ApprovalPolicy
from .selectors import policies_changed


@receiver([post_save, post_delete], sender=ApprovalPolicy)
@receiver([post_save, post_delete], sender=ApprovalLevel)
def _policy_changed(sender, **kwargs) -> None:
    policies_changed()
    transaction.on_commit(policies_changed)
