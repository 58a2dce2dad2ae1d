"""COPY of the planned members, accounts, journal entries and legs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone as dj_timezone

from ledger.models import Account, JournalEntry, Side, Transaction
from members.models import Member

from .common import LAGOS, GenerationRefused, generated_reference, kobo_str


class Writers:
    """`copy` and the writers of members, accounts, entries and legs."""

    def copy(self, model, columns: list[str], rows: Iterable[tuple], *, skip: tuple = ()) -> int:
        """COPY rows (values for `columns`, in order) into model's table; every other column gets the
        field's default (the same for every row), so new fields with defaults need no change here."""
        now = dj_timezone.now()
        given = set(columns) | set(skip)
        extra_fields = [f for f in model._meta.concrete_fields if f.column not in given]
        constants = []
        for f in extra_fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = now
            elif f.has_default() or f.null or f.empty_strings_allowed:
                value = f.get_default()  # the default, None, or "" for text columns
            else:
                raise GenerationRefused(
                    f"{model.__name__}.{f.name} has no default: the generator must set it."
                )
            if isinstance(value, (dict, list)):
                value = json.dumps(value)
            elif isinstance(value, Decimal):
                value = str(value)
            constants.append(value)
        constants = tuple(constants)
        names_sql = ", ".join([*columns, *(f.column for f in extra_fields)])
        count = 0
        with self.cursor.copy(f"COPY {model._meta.db_table} ({names_sql}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row + constants)
                count += 1
        return count

    def write_members(self) -> None:
        columns = [
            "id",
            "member_number",
            "first_name",
            "last_name",
            "email",
            "phone",
            "date_of_birth",
            "gender",
            "occupation",
            "employer",
            "address",
            "city",
            "state",
            "status",
            "status_reason",
            "status_changed_at",
            "join_date",
            "branch_id",
            "next_of_kin_name",
            "next_of_kin_relationship",
            "next_of_kin_phone",
            "kyc_status",
            "kyc_reviewed_by_id",
            "kyc_reviewed_at",
            "kyc_rejection_reason",
            "created_by_id",
            "created_at",
            "updated_at",
        ]
        self.copy(Member, columns, self.member_rows)

    def write_accounts(self) -> None:
        columns = [
            "id",
            "account_number",
            "name",
            "member_id",
            "type",
            "normal_balance",
            "currency",
            "branch_id",
            "balance",
            "minimum_balance",
            "daily_withdrawal_limit",
            "opened_at",
            "created_by_id",
            "created_at",
            "updated_at",
        ]
        members = [row[0] for row in self.member_rows]
        minimum = kobo_str(self.savings_minimum)
        limit = kobo_str(self.savings_daily_limit) if self.savings_daily_limit is not None else None

        def rows():
            for index, member, kind, ts, name in self.acc_new:
                branch = self.acc_branch[index]
                opened = self.ts_dt(ts)
                savings = kind == "SAVINGS"
                yield (
                    self.acc_id[index],
                    self.next_account_number(),
                    name,
                    members[member],
                    kind,
                    Side.DEBIT if self.acc_debit[index] else Side.CREDIT,
                    settings.COOP_CURRENCY,
                    self.branches[branch].pk,
                    kobo_str(self.acc_balance[index]),
                    minimum if savings else "0.00",
                    limit if savings else None,
                    opened,
                    self.tellers[branch],
                    opened,
                    opened,
                )

        self.copy(Account, columns, rows())
        # The branches' GL accounts existed already: write their new balances (one statement).
        gl = [(self.acc_id[i], kobo_str(self.acc_balance[i])) for i in self.gl.values()]
        self.cursor.executemany(
            "UPDATE ledger_account SET balance = %s, updated_at = now() WHERE id = %s",
            [(b, i) for i, b in gl],
        )

    def write_entries(self) -> None:
        columns = [
            "id",
            "reference",
            "kind",
            "narration",
            "value_date",
            "posted_at",
            "posted_by_id",
            "branch_id",
            "idempotency_key",
            "metadata",
        ]
        branch_ids = [b.pk for b in self.branches]
        tag = self.run_tag

        def rows():
            for n, (ts, kind, narration, branch, user, key, metadata) in enumerate(self.entries):
                local = datetime.fromtimestamp(ts, LAGOS)
                yield (
                    self.new_uuid(3, n),
                    generated_reference(local, tag, n),
                    kind,
                    narration,
                    local.date(),
                    local,
                    user,
                    branch_ids[branch],
                    key,
                    metadata,
                )

        self.copy(JournalEntry, columns, rows())

    def write_legs(self) -> None:
        columns = [
            "id",
            "entry_id",
            "account_id",
            "branch_id",
            "type",
            "amount",
            "balance_after",
            "description",
            "reference",
            "value_date",
            "created_at",
            "created_by_id",
        ]
        branch_ids = [b.pk for b in self.branches]
        tag = self.run_tag
        entries = self.entries

        def rows():
            last, entry_id, reference, local, day, user = -1, None, "", None, None, None
            for n, (entry, account, is_debit, amount, balance, description) in enumerate(self.legs):
                if entry != last:
                    ts, _, _, _, user, _, _ = entries[entry]
                    local = datetime.fromtimestamp(ts, LAGOS)
                    day = local.date()
                    entry_id = self.new_uuid(3, entry)
                    reference = generated_reference(local, tag, entry)
                    last = entry
                yield (
                    self.new_uuid(5, n),
                    entry_id,
                    self.acc_id[account],
                    branch_ids[self.acc_branch[account]],
                    "DEBIT" if is_debit else "CREDIT",
                    kobo_str(amount),
                    kobo_str(balance),
                    description[:255],
                    reference,
                    day,
                    local,
                    user,
                )

        self.copy(Transaction, columns, rows())
