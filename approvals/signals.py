"""Cache invalidation only (a decoupled side effect): any policy or level change, from the admin,
a migration or the shell, bumps the policy table's version once the change commits."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import ApprovalLevel, ApprovalPolicy
from .selectors import policies_changed


@receiver([post_save, post_delete], sender=ApprovalPolicy)
@receiver([post_save, post_delete], sender=ApprovalLevel)
def _policy_changed(sender, **kwargs) -> None:
    transaction.on_commit(policies_changed)
