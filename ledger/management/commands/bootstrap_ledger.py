"""Create each branch's internal GL accounts (teller cash, bank, clearing, income, ...). Idempotent."""

from django.core.management.base import BaseCommand

from cooperative.models import Branch
from ledger.services import bootstrap_branch_ledger


class Command(BaseCommand):
    help = "Create the internal general-ledger accounts of every branch (idempotent)."

    def handle(self, *args, **options):
        for branch in Branch.objects.order_by("code"):
            accounts = bootstrap_branch_ledger(branch_id=branch.pk)
            self.stdout.write(f"{branch.code}: {len(accounts)} GL accounts")
