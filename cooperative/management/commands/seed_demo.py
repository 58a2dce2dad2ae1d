"""Demo data for `make run`. Idempotent: running it twice changes nothing the second time.

Apps add their own demo data through `cooperative.demo.register(...)` in AppConfig.ready().
"""

from __future__ import annotations

import io

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cooperative import demo
from cooperative.models import Branch, User

DEMO_STAFF = [
    ("admin@coopdesk.local", "Ada", "Okafor", "ADMIN", True),
    ("manager@coopdesk.local", "Musa", "Bello", "MANAGER", False),
    ("officer@coopdesk.local", "Ngozi", "Eze", "LOAN_OFFICER", False),
    ("teller@coopdesk.local", "Tunde", "Adeyemi", "TELLER", False),
    ("accountant@coopdesk.local", "Halima", "Yusuf", "ACCOUNTANT", False),
    ("auditor@coopdesk.local", "Chidi", "Nwosu", "AUDITOR", False),
    ("committee1@coopdesk.local", "Funmi", "Ogunleye", "CREDIT_COMMITTEE", False),
]
# More people in a role, for the approvals that need several (two managers, a committee of two).
# Kept apart so DEMO_STAFF stays one person per role ({role: person} in the seeders and tests).
DEMO_EXTRA_STAFF = [
    ("manager2@coopdesk.local", "Aisha", "Garba", "MANAGER", False),
    ("committee2@coopdesk.local", "Emeka", "Obi", "CREDIT_COMMITTEE", False),
]


class Command(BaseCommand):
    help = "Load demo data: roles, Main Branch MB001 (Lagos), demo staff, members and accounts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default=None, help="Password for the demo users (default: COOP_DEMO_PASSWORD)."
        )

    def handle(self, *args, **options):
        password = options["password"] or getattr(settings, "DEMO_PASSWORD", "")
        if not password:
            raise CommandError(
                "No demo password: pass --password or set COOP_DEMO_PASSWORD "
                "(production never gets a default password)."
            )
        call_command("bootstrap_roles", verbosity=0, stdout=io.StringIO())
        with transaction.atomic():
            branch, _ = Branch.objects.get_or_create(
                code="MB001",
                defaults={
                    "name": "Main Branch",
                    "address": "12 Broad Street",
                    "city": "Lagos",
                    "state": "Lagos",
                },
            )
            second, _ = Branch.objects.get_or_create(
                code="AB002",
                defaults={"name": "Abuja Branch", "address": "5 Garki Road", "city": "Abuja", "state": "FCT"},
            )
            for email, first, last, role, is_superuser in (*DEMO_STAFF, *DEMO_EXTRA_STAFF):
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User(
                        email=email,
                        first_name=first,
                        last_name=last,
                        is_staff=True,
                        is_superuser=is_superuser,
                    )
                    user.set_password(password)
                    user.save()
                user.groups.add(Group.objects.get(name=role))
                user.branches.add(branch)
            context = {
                "branch": branch,
                "other_branch": second,
                "stdout": self.stdout,
                "staff": {role: User.objects.get(email=e) for e, _f, _l, role, _s in DEMO_STAFF},
            }
        for seeder in demo.seeders():
            with transaction.atomic():
                seeder(**context)
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
