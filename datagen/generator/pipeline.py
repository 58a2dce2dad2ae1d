"""The generator: its state, the run (refusals, phases in one transaction), counters and checks."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone as dj_timezone

from cooperative.models import Sequence
from ledger.models import Account, JournalEntry, Transaction
from ledger.selectors import ledger_discrepancies
from loans.models import Loan, LoanEvent, LoanPayment, LoanSchedule
from members.models import Member

from .common import (
    ACCOUNT_SEQUENCE,
    GENERATED_REFERENCE,
    LAGOS,
    LOAN_SEQUENCE,
    MEMBER_SEQUENCE,
    GenerationRefused,
    Sizes,
)
from .loan_planning import LoanPlanning
from .loan_rows import LoanRows
from .member_planning import MemberPlanning
from .setup import SetupPhase
from .simulation import Simulation
from .writers import Writers

REAL_BOOKS_FLAG = "--i-know-this-writes-fake-money-into-real-books"


def real_postings() -> int:
    """Journal entries the generator did not write (their reference lacks its marker)."""
    return JournalEntry.objects.exclude(reference__regex=GENERATED_REFERENCE).count()


class Generator(SetupPhase, MemberPlanning, LoanPlanning, Simulation, Writers, LoanRows):
    """One run: refuse what must not be done, then every phase in one transaction (see the package)."""

    def __init__(self, sizes: Sizes, *, out: Callable[[str], None] = print):
        self.sizes = sizes
        self.out = out
        self.rng = random.Random(sizes.seed)  # noqa: S311 (reproducible test data, not secrets)
        self.as_of = sizes.as_of or dj_timezone.localdate()
        self.window_start = self.as_of - timedelta(days=365)
        self.timings: dict[str, float] = {}
        # Accounts: parallel lists indexed by account number in this run.
        self.acc_id: list[uuid.UUID] = []
        self.acc_debit: list[bool] = []
        self.acc_branch: list[int] = []
        self.acc_balance: list[int] = []
        self.acc_new: list[tuple] = []  # (index, member index, type, opened ts, name) for COPY
        self.gl: dict[tuple[int, str], int] = {}
        # Entries and legs, compact.
        self.entries: list[tuple] = []  # (ts, kind, narration, branch, user, idempotency key, metadata)
        self.legs: list[tuple] = []  # (entry, account, is_debit, amount, balance_after, description)

    # --- helpers ----------------------------------------------------------------------------------
    def phase(self, name: str, fn: Callable[[], object]):
        started = time.perf_counter()
        self.out(f"[{name}] …")
        result = fn()
        elapsed = time.perf_counter() - started
        self.timings[name] = round(elapsed, 2)
        self.out(f"[{name}] done in {elapsed:.1f}s")
        return result

    def new_uuid(self, table: int, counter: int) -> uuid.UUID:
        # Ordered within a table (cheap index appends), unique per run (prefix from seed and counters).
        return uuid.UUID(int=(self.prefix << 72) | (table << 56) | counter, version=4)

    def ts_on(self, day: date, *, start_hour: int = 8, end_hour: int = 17) -> int:
        base = datetime(day.year, day.month, day.day, tzinfo=LAGOS)
        return int(base.timestamp()) + self.rng.randrange(start_hour * 3600, end_hour * 3600)

    @staticmethod
    def ts_date(ts: int) -> date:
        return datetime.fromtimestamp(ts, LAGOS).date()

    @staticmethod
    def ts_dt(ts: int) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    # --- the run --------------------------------------------------------------------------------
    def run(self) -> dict:
        if connection.vendor != "postgresql":
            raise GenerationRefused(
                "generate_data needs PostgreSQL (it loads with COPY): set DATABASE_URL=postgres://… "
                "(SQLite is not supported)."
            )
        if Member.objects.exists() and not self.sizes.append:
            raise GenerationRefused(
                "The database already has members. generate_data refuses to mix generated data into "
                "an existing database; pass --append to add a generated dataset on top of it anyway."
            )
        real = real_postings()
        if real and not self.sizes.into_real_books:
            raise GenerationRefused(
                f"The database holds {real:,} journal entries that generate_data did not write (real "
                "postings). Generated members, loans and money would sit in the same books as real ones, "
                "and generate_data writes its legs by COPY with the ledger's triggers switched off. Use "
                "an empty or generated database; only if these books are themselves test data, pass "
                f"{REAL_BOOKS_FLAG}."
            )
        started = time.perf_counter()
        with transaction.atomic():
            self.phase("setup: roles, branches, GL accounts, staff, products", self.setup)
            self.phase("reserve counters", self.reserve_counters)
            self.phase("plan members", self.plan_members)
            self.phase("plan loans and schedules", self.plan_loans)
            self.phase("simulate a year of money movements", self.simulate)
            with connection.cursor() as cursor:
                if self.superuser:
                    cursor.execute("SET LOCAL session_replication_role = replica")
                self.cursor = cursor.cursor  # the psycopg cursor, for COPY
                self.phase("write members", self.write_members)
                self.phase("write accounts", self.write_accounts)
                self.phase(f"write {len(self.entries):,} journal entries", self.write_entries)
                self.phase(f"write {len(self.legs):,} legs", self.write_legs)
                self.phase("write loans, schedules, payments, timelines", self.write_loans)
                self.phase("advance counters", self.advance_counters)
                self.phase("check consistency", self.check)
                if self.superuser:
                    cursor.execute("SET LOCAL session_replication_role = origin")
        self.phase("analyze", self.analyze)
        total = time.perf_counter() - started
        summary = {
            "members": self.sizes.members,
            "accounts": len(self.acc_new),
            "loans": len(self.loans),
            "journal_entries": len(self.entries),
            "legs": len(self.legs),
            "seconds": round(total, 1),
            "phases": self.timings,
        }
        self.out(
            f"Generated in {total:.1f}s: " + json.dumps({k: v for k, v in summary.items() if k != "phases"})
        )
        return summary

    def advance_counters(self) -> None:
        updates = {
            MEMBER_SEQUENCE: self.member_base + self.sizes.members,
            ACCOUNT_SEQUENCE: self.next_serial,
            LOAN_SEQUENCE: self.loan_base + len(self.loans),
        }
        for name, value in updates.items():
            Sequence.objects.filter(name=name).update(last_value=value)

    def check(self) -> None:
        """The guarantees the disabled triggers would have given, checked set-based before commit."""
        cursor = self.cursor
        cursor.execute(
            """SELECT count(*) FROM ledger_transaction t
               LEFT JOIN ledger_journalentry e ON e.id = t.entry_id
               LEFT JOIN ledger_account a ON a.id = t.account_id
               WHERE e.id IS NULL OR a.id IS NULL"""
        )
        orphans = cursor.fetchone()[0]
        cursor.execute(
            """SELECT count(*) FROM loans_loanpayment p
               LEFT JOIN ledger_journalentry e ON e.id = p.journal_entry_id WHERE e.id IS NULL"""
        )
        orphans += cursor.fetchone()[0]
        if orphans:
            raise AssertionError(f"generator bug: {orphans} rows point at missing entries or accounts")
        problems = {key: rows for key, rows in ledger_discrepancies(limit=5).items() if rows}
        if problems:
            raise AssertionError(f"generator bug: the ledger does not verify: {problems}")

    def analyze(self) -> None:
        with connection.cursor() as cursor:
            for table in (
                Member._meta.db_table,
                Account._meta.db_table,
                JournalEntry._meta.db_table,
                Transaction._meta.db_table,
                Loan._meta.db_table,
                LoanSchedule._meta.db_table,
                LoanPayment._meta.db_table,
                LoanEvent._meta.db_table,
            ):
                # VACUUM (visibility map, for index-only scans) cannot run inside a transaction.
                cursor.execute(f"{'ANALYZE' if connection.in_atomic_block else 'VACUUM ANALYZE'} {table}")
