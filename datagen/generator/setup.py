"""Setup through the normal code paths: roles, branches and their GL accounts, staff, products, counters."""

from __future__ import annotations

import hashlib
import io
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from cooperative.models import Branch, Sequence, User
from datagen import names
from ledger import services as ledger_services
from ledger.models import Account, Side
from ledger.numbering import check_digit
from loans.models import ArrearsBucket, LoanProduct

from .common import ACCOUNT_SEQUENCE, LOAN_SEQUENCE, MEMBER_SEQUENCE, PRODUCTS, GenerationRefused, to_kobo


class SetupPhase:
    """Roles, branches, GL accounts, staff, loan products; the counters reserved under lock."""

    def setup(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            self.superuser = bool(cursor.fetchone()[0])
        call_command("bootstrap_roles", verbosity=0, stdout=io.StringIO())
        groups = {g.name: g for g in Group.objects.filter(name__in=["TELLER", "LOAN_OFFICER", "MANAGER"])}
        self.branches: list[Branch] = []
        self.branch_city: list[tuple] = []
        self.tellers, self.officers, self.managers = [], [], []
        for n in range(self.sizes.branches):
            city, state, streets, weights = names.CITIES[n % len(names.CITIES)]
            code = f"{city.replace(' ', '')[:3].upper()}{n // len(names.CITIES) + 1:03d}"
            branch, _ = Branch.objects.get_or_create(
                code=code,
                defaults={
                    "name": f"{city} branch"
                    if n < len(names.CITIES)
                    else f"{city} branch {n // len(names.CITIES) + 1}",
                    "address": f"{10 + n} {streets[0]}, {city}",
                    "city": city,
                    "state": state,
                },
            )
            ledger_services.bootstrap_branch_ledger(branch_id=branch.pk)
            self.branches.append(branch)
            self.branch_city.append((city, state, streets, weights))
            for role, bucket in (
                ("TELLER", self.tellers),
                ("LOAN_OFFICER", self.officers),
                ("MANAGER", self.managers),
            ):
                email = f"{role.lower().replace('_', '.')}.{code.lower()}@generated.coopdesk.local"
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(
                        email, None, first_name=role.replace("_", " ").title(), last_name=city, is_staff=True
                    )
                    user.branches.add(branch)
                    if role in groups:
                        user.groups.add(groups[role])
                bucket.append(user.pk)
        # GL accounts: locked, with their current balance (append mode: they may hold money already).
        # Generated cash goes through each branch's vault, not through tellers' tills.
        branch_index = {b.pk: i for i, b in enumerate(self.branches)}
        gl_rows = (
            Account.objects.select_for_update()
            .filter(branch_id__in=list(branch_index), member__isnull=True, till_teller__isnull=True)
            .order_by("pk")
            .values_list("pk", "branch_id", "gl_code", "normal_balance", "balance")
        )
        for pk, branch_id, gl_code, normal, balance in gl_rows:
            self.gl[(branch_index[branch_id], gl_code)] = self._add_account(
                pk, normal == Side.DEBIT, branch_index[branch_id], to_kobo(balance)
            )
        self.products = []
        for name, rate, low, high, tmin, tmax, extra in PRODUCTS:
            product, _ = LoanProduct.objects.get_or_create(
                name=name,
                defaults={
                    "interest_rate": Decimal(rate),
                    "min_amount": Decimal(low),
                    "max_amount": Decimal(high),
                    "min_term": tmin,
                    "max_term": tmax,
                    "penalty_grace_days": 5,
                    **{k: (Decimal(v) if k.endswith(("_rate", "_value")) else v) for k, v in extra.items()},
                },
            )
            self.products.append(product)
        self.buckets = list(
            ArrearsBucket.objects.order_by("min_days").values_list("pk", "min_days", "max_days")
        )
        savings_defaults = settings.LEDGER_ACCOUNT_DEFAULTS.get("SAVINGS", {})
        self.savings_minimum = to_kobo(Decimal(savings_defaults.get("minimum_balance") or "0"))
        limit = savings_defaults.get("daily_withdrawal_limit")
        self.savings_daily_limit = to_kobo(Decimal(limit)) if limit else None

    def _add_account(self, pk, debit_normal: bool, branch: int, balance: int = 0) -> int:
        self.acc_id.append(pk)
        self.acc_debit.append(debit_normal)
        self.acc_branch.append(branch)
        self.acc_balance.append(balance)
        return len(self.acc_id) - 1

    def _lock_sequence(self, name: str) -> int:
        Sequence.objects.get_or_create(name=name, defaults={"last_value": 0})
        return Sequence.objects.select_for_update().get(name=name).last_value

    def reserve_counters(self) -> None:
        self.member_base = self._lock_sequence(MEMBER_SEQUENCE)
        self.account_base = self._lock_sequence(ACCOUNT_SEQUENCE)
        self.loan_base = self._lock_sequence(LOAN_SEQUENCE)
        self.next_serial = self.account_base
        digest = hashlib.sha256(
            f"{self.sizes.seed}:{self.member_base}:{self.account_base}:{self.loan_base}".encode()
        ).digest()
        self.prefix = int.from_bytes(digest[:7], "big")  # 56 bits; with table (16) and counter (56)
        self.run_tag = f"{self.member_base + 1:X}"

    def next_account_number(self) -> str:
        self.next_serial += 1
        serial = f"{self.next_serial:09d}"
        if len(serial) > 9:
            raise GenerationRefused("Account serials exhausted.")
        return serial + str(check_digit(settings.COOP_INSTITUTION_CODE, serial))
