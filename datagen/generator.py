"""A realistic, consistent Coopdesk dataset, loaded fast (PostgreSQL COPY) for the scale benchmarks.

What is generated (all deterministic for a given `seed`, `as_of` and starting database):
- `branches` branches in Nigerian cities, each with its GL accounts (the normal ledger service), a
  teller, a loan officer and a manager (unusable passwords, role groups from `bootstrap_roles`);
- `members` members with Yoruba, Igbo, Hausa, Edo, South-South and Tiv names weighted by the branch's
  city, valid +234 mobile numbers, emails, dates of birth, addresses, next of kin, KYC states;
- a SAVINGS and a SHARES account each (10-digit NUBAN-style numbers from the `account_serial` counter);
- `loans` loans in every state (DRAFT, SUBMITTED, APPROVED, REJECTED, WITHDRAWN, DISBURSED, CLOSED,
  WRITTEN_OFF) with the schedule engine's schedules, repayments (LoanPayment rows with their
  allocation), timelines, and a quarter of the active loans behind on their installments;
- `postings` ledger legs (`ledger_transaction` rows) in all: every member's opening deposit (3 legs:
  teller cash or bank against savings and shares), each loan's disbursement, repayments and write-off
  take their share first; the rest are a year of member deposits, share purchases, withdrawals and
  transfers (2 legs each; one 3-leg split deposit when the remainder is odd), so the total is exact.

Money is simulated in time order in Python (integer kobo), so every leg carries its running
`balance_after`, withdrawals never overdraw, and each account row is written once, with its final
balance. Everything is written in ONE transaction; on PostgreSQL superuser connections the row
triggers (the ledger's append-only and deferred balance triggers, and the foreign-key triggers) are
switched off for that transaction only (`SET LOCAL session_replication_role = replica`) and the same
guarantees are checked set-based before commit: every entry balances, every cached balance equals
its legs, all legs sum to zero, every leg's entry and account exist. Any failure rolls everything back.
Counters (`member_number`, `account_serial`, `loan_number`) are advanced past what was used, so
registrations, new accounts and new loans through the services carry on after generation.
Generated rows have no django-simple-history rows (as if migrated in from a previous system).
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone as dj_timezone

from cooperative.models import Branch, Sequence, User
from ledger import services as ledger_services
from ledger.models import Account, JournalEntry, Side, Transaction
from ledger.numbering import check_digit
from ledger.selectors import ledger_discrepancies
from loans.models import ArrearsBucket, Loan, LoanEvent, LoanPayment, LoanProduct, LoanSchedule
from loans.schedule import build_schedule
from loans.selectors import product_schedule_settings, schedule_terms_for
from loans.services.applications import processing_fee_for
from members.models import Member

from . import names

LAGOS = timezone(timedelta(hours=1))
MEMBER_SEQUENCE, ACCOUNT_SEQUENCE, LOAN_SEQUENCE = "member_number", "account_serial", "loan_number"

# Loan states and their shares of the generated loans.
LOAN_MIX = [
    (Loan.Status.DRAFT, 4),
    (Loan.Status.SUBMITTED, 5),
    (Loan.Status.APPROVED, 3),
    (Loan.Status.REJECTED, 3),
    (Loan.Status.WITHDRAWN, 2),
    (Loan.Status.DISBURSED, 60),
    (Loan.Status.CLOSED, 20),
    (Loan.Status.WRITTEN_OFF, 3),
]
DELINQUENT_SHARE = 0.25  # of the active (DISBURSED) loans: stop paying at some point, so overdue
HEAVY_ACCOUNTS = 5  # busy savings accounts (market associations) that get HEAVY_SHARE of the activity
HEAVY_SHARE = 0.06

PRODUCTS = [
    # name, rate, min, max, min term, max term, extra settings
    ("Trader working-capital loan", "24", 50_000, 2_000_000, 3, 12, {"penalty_rate": "2"}),
    ("Personal loan", "18", 30_000, 1_000_000, 6, 18, {"processing_fee_value": "1"}),
    ("Emergency loan", "12", 10_000, 200_000, 1, 6, {"days_in_year": "360", "days_in_month": "30"}),
    ("Asset acquisition loan", "20", 100_000, 3_000_000, 12, 24, {"processing_fee_value": "1.5"}),
    (
        "School fees loan",
        "15",
        20_000,
        800_000,
        3,
        10,
        {"penalty_rate": "0.05", "penalty_frequency": "PER_DAY", "penalty_basis": "OVERDUE_PRINCIPAL"},
    ),
]


class GenerationRefused(Exception):
    """The database or the arguments do not allow a run (message says why)."""


@dataclass(frozen=True)
class Sizes:
    members: int
    loans: int
    postings: int
    branches: int
    seed: int = 42
    as_of: date | None = None
    append: bool = False


def kobo_str(value: int) -> str:
    sign, value = ("-", -value) if value < 0 else ("", value)
    return f"{sign}{value // 100}.{value % 100:02d}"


def to_kobo(value: Decimal) -> int:
    return int((Decimal(value) * 100).to_integral_value())


@dataclass
class LoanPlan:
    index: int
    member: int
    product: int
    status: str
    principal: int  # kobo
    term: int
    created: int  # timestamps (seconds, UTC)
    fee: int = 0
    disbursed_on: date | None = None
    disbursed_ts: int = 0
    rows: list = field(default_factory=list)  # [due_date, principal, interest, paid(bool), paid_on, ts]
    pays: int = 0  # installments paid
    writeoff_ts: int = 0
    account: int = -1  # index in the account table
    entry: int = -1  # disbursement entry index
    payments: list = field(default_factory=list)  # (installment index, ts, entry index, source, amount)
    closed_ts: int = 0
    written_off: int = 0


class Generator:
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

    # --- setup through the normal code paths ---------------------------------------------------------
    def setup(self) -> None:
        from django.core.management import call_command

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

    # --- members ---------------------------------------------------------------------------------
    def plan_members(self) -> None:
        rng, count = self.rng, self.sizes.members
        # Join dates: 30% in the last year, the rest over the ten years before; sorted, so member
        # numbers follow the order in which people joined.
        joins = sorted(
            self.as_of
            - timedelta(days=rng.randrange(1, 365) if rng.random() < 0.3 else rng.randrange(365, 3650))
            for _ in range(count)
        )
        self.member_join = joins
        self.member_join_ord = [d.toordinal() for d in joins]
        self.member_branch = [rng.randrange(len(self.branches)) for _ in range(count)]
        self.member_rows = []
        self.member_savings, self.member_shares, self.member_status = [], [], []
        self.member_names = []
        mult = 7_654_321  # coprime with 10^7: phone numbers are a permutation of serials
        statuses = [Member.Status.ACTIVE] * 94 + [Member.Status.DORMANT] * 4 + [Member.Status.SUSPENDED] * 2
        group_tables = {}
        for i in range(count):
            serial = self.member_base + 1 + i
            branch = self.member_branch[i]
            city, state, streets, weights = self.branch_city[branch]
            if city not in group_tables:
                group_tables[city] = (list(weights), list(weights.values()))
            groups, gweights = group_tables[city]
            group = rng.choices(groups, gweights)[0]
            female_names, male_names, surnames = names.NAMES[group]
            female = rng.random() < 0.52
            first = rng.choice(female_names if female else male_names)
            last = rng.choice(surnames)
            quotient, slot = divmod(serial, len(names.PHONE_PREFIXES))
            local = (quotient * mult + slot * 2_718_281 + 1_234_567) % 10_000_000
            phone = f"+234{names.PHONE_PREFIXES[slot]}{local:07d}"
            email = ""
            if rng.random() < 0.7:
                handle = f"{first}.{last}{serial}".lower().replace("'", "")
                email = f"{handle}@{rng.choice(names.EMAIL_DOMAINS)}"
            join = joins[i]
            born = join - timedelta(days=rng.randrange(18 * 366, 70 * 365))
            status = rng.choice(statuses)
            kyc_roll = rng.random()
            kyc = "VERIFIED" if kyc_roll < 0.75 else ("PENDING" if kyc_roll < 0.97 else "REJECTED")
            created_ts = self.ts_on(join)
            reviewed_at = (
                self.ts_dt(created_ts + rng.randrange(3600, 5 * 86400)) if kyc != "PENDING" else None
            )
            kin_first = rng.choice(male_names if female else female_names)
            kin_serial = (serial * 31 + 17) % 10_000_000
            kin_prefix = names.PHONE_PREFIXES[(serial * 7) % len(names.PHONE_PREFIXES)]
            created = self.ts_dt(created_ts)
            self.member_rows.append(
                (
                    self.new_uuid(1, i),
                    f"MEM{serial:05d}",
                    first,
                    last,
                    email,
                    phone,
                    born,
                    "F" if female else "M",
                    rng.choice(names.OCCUPATIONS),
                    rng.choice(names.EMPLOYERS),
                    f"{rng.randrange(1, 120)} {rng.choice(streets)}",
                    city,
                    state,
                    status,
                    ""
                    if status == "ACTIVE"
                    else ("No activity for 12 months" if status == "DORMANT" else "Under review"),
                    None if status == "ACTIVE" else created,
                    join,
                    self.branches[branch].pk,
                    f"{kin_first} {last}",
                    rng.choice(names.RELATIONSHIPS),
                    f"+234{kin_prefix}{kin_serial:07d}",
                    kyc,
                    self.managers[branch] if kyc != "PENDING" else None,
                    reviewed_at,
                    "Photo ID does not match the applicant" if kyc == "REJECTED" else "",
                    self.tellers[branch],
                    created,
                    created,
                )
            )
            self.member_status.append(status)
            self.member_names.append(f"{first} {last}")
            for kind, bucket in (("SAVINGS", self.member_savings), ("SHARES", self.member_shares)):
                index = self._add_account(self.new_uuid(2, len(self.acc_new)), False, branch)
                self.acc_new.append((index, i, kind, created_ts, f"{first} {last} – {kind.title()}"))
                bucket.append(index)
        # The busiest savings accounts (market associations, cooperative groups): early members.
        self.heavy = list(range(min(HEAVY_ACCOUNTS, count)))

    # --- loans -----------------------------------------------------------------------------------
    def plan_loans(self) -> None:
        rng = self.rng
        mix_states = [s for s, _ in LOAN_MIX]
        mix_weights = [w for _, w in LOAN_MIX]
        active_members = [i for i, s in enumerate(self.member_status) if s == Member.Status.ACTIVE]
        if not active_members and self.sizes.loans:
            raise GenerationRefused("Loans need at least one active member.")
        self.loans: list[LoanPlan] = []
        used: set[int] = set()
        as_of = self.as_of
        for n in range(self.sizes.loans):
            status = rng.choices(mix_states, mix_weights)[0]
            product_index = rng.randrange(len(self.products))
            product = self.products[product_index]
            low, high = int(product.min_amount), int(product.max_amount)
            principal = max(
                low, min(high, int(math.exp(rng.uniform(math.log(low), math.log(high))) // 5000 * 5000))
            )
            term = rng.randint(product.min_term, product.max_term)
            if status == Loan.Status.DISBURSED:
                back = rng.randrange(10, max(11, term * 30 - 10))
            elif status == Loan.Status.CLOSED:
                back = term * 31 + rng.randrange(5, 200)
            elif status == Loan.Status.WRITTEN_OFF:
                back = max(term * 31, 200) + rng.randrange(30, 200)
            else:
                back = rng.randrange(7, 60)
            day = as_of - timedelta(days=back)
            # A member who had joined a month before, and has no other loan of this run if possible.
            cutoff = bisect.bisect_right(self.member_join_ord, (day - timedelta(days=30)).toordinal())
            member = None
            for _ in range(8):
                candidate = active_members[rng.randrange(len(active_members))]
                if (
                    self.member_join_ord[candidate] <= (day - timedelta(days=30)).toordinal()
                    and candidate not in used
                ):
                    member = candidate
                    break
            if member is None:
                member = active_members[min(rng.randrange(max(1, cutoff)), len(active_members) - 1)]
                if self.member_join[member] > day - timedelta(days=1):
                    day = self.member_join[member] + timedelta(days=1)
                    if day >= as_of:
                        status = Loan.Status.SUBMITTED
                        day = as_of
            used.add(member)
            plan = LoanPlan(
                index=n,
                member=member,
                product=product_index,
                status=status,
                principal=principal * 100,
                term=term,
                created=self.ts_on(day - timedelta(days=rng.randrange(3, 15)) if back > 15 else day),
            )
            if status in (Loan.Status.DISBURSED, Loan.Status.CLOSED, Loan.Status.WRITTEN_OFF):
                self._plan_disbursed(plan, product, day)
            self.loans.append(plan)

    def _plan_disbursed(self, plan: LoanPlan, product: LoanProduct, day: date) -> None:
        rng, as_of = self.rng, self.as_of
        plan.fee = to_kobo(processing_fee_for(product, Decimal(plan.principal) / 100))
        plan.disbursed_on = day
        plan.disbursed_ts = self.ts_on(day, start_hour=10, end_hour=15)
        schedule = build_schedule(
            schedule_terms_for(
                product=product, principal=Decimal(plan.principal) / 100, term=plan.term, disbursed_on=day
            )
        )
        plan.rows = [
            [row.due_date, to_kobo(row.principal), to_kobo(row.interest), False, None, 0]
            for row in schedule.installments
        ]
        due = [r for r in plan.rows if r[0] < as_of]
        if plan.status == Loan.Status.DISBURSED:
            if rng.random() < DELINQUENT_SHARE and due:
                plan.pays = rng.randrange(0, len(due))
            else:
                plan.pays = len(due)
            if plan.pays == len(plan.rows):  # everything fell due: keep the last one open
                plan.pays -= 1
        elif plan.status == Loan.Status.CLOSED:
            plan.pays = len(plan.rows)
        else:  # WRITTEN_OFF
            plan.pays = rng.randrange(0, min(3, len(due) - 1) + 1) if due else 0
        last_paid = plan.disbursed_ts
        for k in range(plan.pays):
            row = plan.rows[k]
            on = max(day + timedelta(days=1), row[0] - timedelta(days=rng.randrange(0, 4)))
            on = min(on, as_of)
            ts = max(self.ts_on(on), last_paid + 60)
            last_paid = ts
            row[3], row[4], row[5] = True, self.ts_date(ts), ts
        if plan.status == Loan.Status.CLOSED:
            plan.closed_ts = last_paid + 1
        if plan.status == Loan.Status.WRITTEN_OFF:
            missed = plan.rows[plan.pays][0] if plan.pays < len(plan.rows) else as_of
            when = min(
                missed + timedelta(days=rng.randrange(180, 240)), as_of - timedelta(days=rng.randrange(1, 10))
            )
            plan.writeoff_ts = max(self.ts_on(max(when, day + timedelta(days=1))), last_paid + 60)

    # --- the simulation ----------------------------------------------------------------------------
    def _entry(self, ts, kind, narration, branch, user, legs, key=None, metadata="{}") -> int:
        """Append an entry and its legs; legs = [(account, is_debit, amount, description)]."""
        index = len(self.entries)
        self.entries.append((ts, kind, narration, branch, user, key, metadata))
        debit = credit = 0
        for account, is_debit, amount, description in legs:
            if is_debit:
                debit += amount
            else:
                credit += amount
            balance = self.acc_balance[account] + (amount if is_debit == self.acc_debit[account] else -amount)
            self.acc_balance[account] = balance
            self.legs.append((index, account, is_debit, amount, balance, description or narration))
        if debit != credit or debit <= 0:
            raise AssertionError(f"generator bug: unbalanced entry {narration}")
        return index

    def _amount(self, median_naira: int, spread: float = 0.9, step: int = 100) -> int:
        naira = int(math.exp(self.rng.gauss(math.log(median_naira), spread)))
        return max(step, naira // step * step) * 100

    def simulate(self) -> None:
        rng = self.rng
        events: list[tuple] = []
        # Opening deposits: one per member on joining (3 legs).
        for i, join in enumerate(self.member_join):
            events.append((self.ts_on(join), 0, i))
        fixed = 3 * len(self.member_join)
        for plan in self.loans:
            if plan.disbursed_on is None:
                continue
            events.append((plan.disbursed_ts, 1, plan.index))
            fixed += 3 if plan.fee else 2
            for k in range(plan.pays):
                row = plan.rows[k]
                events.append((row[5], 2, plan.index, k))
                fixed += 1 + (1 if row[1] else 0) + (1 if row[2] else 0)
            if plan.writeoff_ts:
                events.append((plan.writeoff_ts, 3, plan.index))
                fixed += 2
        remaining = self.sizes.postings - fixed
        if remaining < 0:
            raise GenerationRefused(
                f"--postings {self.sizes.postings:,} is too few: the members' opening deposits and the loans "
                f"alone need {fixed:,} legs. Raise --postings or lower --members/--loans."
            )
        activities, split = divmod(remaining, 2)
        if split and activities == 0:
            raise GenerationRefused("--postings leaves a single leg over; add one more.")
        # A year of activity, weekdays busier, month ends busiest.
        days = [self.window_start + timedelta(days=d) for d in range(1, 366)]
        weights = [
            (1.0 if d.weekday() < 5 else (0.5 if d.weekday() == 5 else 0.1)) * (1.5 if d.day >= 25 else 1.0)
            for d in days
        ]
        for n, day in enumerate(rng.choices(days, weights, k=activities)):
            events.append((self.ts_on(day), 4, n))
        self.split_activity = 0 if split else -1
        events.sort()
        self.out(f"  {len(events):,} events: {fixed:,} legs of openings and loans, {activities:,} activities")
        handlers = {
            0: self._opening,
            1: self._disburse,
            2: self._repay,
            3: self._write_off,
            4: self._activity,
        }
        for event in events:
            handlers[event[1]](event)

    def _opening(self, event) -> None:
        ts, _, i = event
        branch = self.member_branch[i]
        savings, shares = self._amount(20_000, 1.0), self._amount(10_000, 0.6, 1000)
        cash = self.rng.random() < 0.7
        counter = self.gl[(branch, "TELLER_CASH" if cash else "BANK")]
        self._entry(
            ts,
            JournalEntry.Kind.DEPOSIT,
            "Opening deposit and share capital" + ("" if cash else " (bank transfer)"),
            branch,
            self.tellers[branch],
            [
                (counter, True, savings + shares, ""),
                (self.member_savings[i], False, savings, "Opening savings deposit"),
                (self.member_shares[i], False, shares, "Share capital"),
            ],
        )

    def _activity(self, event) -> None:
        ts, _, n = event
        rng = self.rng
        day_ord = self.ts_date(ts).toordinal()
        joined = bisect.bisect_right(self.member_join_ord, day_ord)
        if joined == 0:
            joined = 1  # nobody had joined yet: the first member was early
        if self.heavy and rng.random() < HEAVY_SHARE:
            member = rng.choice(self.heavy)
            account = self.member_savings[member]
        else:
            member = rng.randrange(joined)
            account = self.member_savings[member]
        branch = self.acc_branch[account]
        teller = self.tellers[branch]
        roll = rng.random()
        cash = rng.random() < 0.75
        counter = self.gl[(branch, "TELLER_CASH" if cash else "BANK")]
        channel = "Cash" if cash else "Bank transfer"
        if self.split_activity == 0:
            self.split_activity = -1
            amount = self._amount(30_000)
            part = max(100, amount // 200 * 100)
            self._entry(
                ts,
                JournalEntry.Kind.DEPOSIT,
                "Deposit (cash and cheque)",
                branch,
                teller,
                [
                    (self.gl[(branch, "TELLER_CASH")], True, part, ""),
                    (self.gl[(branch, "BANK")], True, amount - part, ""),
                    (account, False, amount, ""),
                ],
            )
            return
        available = self.acc_balance[account] - self.savings_minimum
        if roll < 0.3:  # withdrawal
            amount = min(self._amount(15_000), available // 10_000 * 10_000)
            if self.savings_daily_limit is not None:
                amount = min(amount, self.savings_daily_limit)
            if amount >= 50_000:
                self._entry(
                    ts,
                    JournalEntry.Kind.WITHDRAWAL,
                    f"{channel} withdrawal",
                    branch,
                    teller,
                    [(account, True, amount, ""), (counter, False, amount, "")],
                )
                return
        elif roll < 0.45:  # transfer to another member
            amount = min(self._amount(10_000), available // 10_000 * 10_000)
            other = rng.randrange(joined)
            if amount >= 50_000 and self.member_savings[other] != account:
                to = self.member_savings[other]
                narration = f"Transfer to {self.member_names[other]}"
                self._entry(
                    ts,
                    JournalEntry.Kind.TRANSFER,
                    narration,
                    branch,
                    teller,
                    [(account, True, amount, narration), (to, False, amount, "Transfer received")],
                )
                return
        elif roll < 0.55:  # share purchase
            amount = self._amount(5_000, 0.5, 1000)
            self._entry(
                ts,
                JournalEntry.Kind.DEPOSIT,
                "Share purchase",
                branch,
                teller,
                [(counter, True, amount, ""), (self.member_shares[member], False, amount, "")],
            )
            return
        amount = self._amount(12_000)  # deposit (and whatever could not be withdrawn or sent)
        self._entry(
            ts,
            JournalEntry.Kind.DEPOSIT,
            f"{channel} deposit",
            branch,
            teller,
            [(counter, True, amount, ""), (account, False, amount, "")],
        )

    def _loan_number(self, plan: LoanPlan) -> str:
        return f"LN{self.loan_base + 1 + plan.index:08d}"

    def _loan_meta(self, plan: LoanPlan, **extra) -> str:
        return json.dumps(
            {"loan": str(self.new_uuid(4, plan.index)), "loan_number": self._loan_number(plan), **extra}
        )

    def _disburse(self, event) -> None:
        plan = self.loans[event[2]]
        branch = self.member_branch[plan.member]
        number = self._loan_number(plan)
        plan.account = self._add_account(self.new_uuid(2, len(self.acc_new)), True, branch)
        self.acc_new.append(
            (
                plan.account,
                plan.member,
                "LOAN",
                plan.disbursed_ts,
                f"Loan {number} – {self.member_names[plan.member]}",
            )
        )
        narration = f"Disbursement of loan {number}"
        legs = [
            (plan.account, True, plan.principal, narration),
            (self.member_savings[plan.member], False, plan.principal - plan.fee, narration),
        ]
        if plan.fee:
            legs.append((self.gl[(branch, "FEE_INCOME")], False, plan.fee, f"Processing fee, loan {number}"))
        plan.entry = self._entry(
            plan.disbursed_ts,
            JournalEntry.Kind.LOAN_DISBURSEMENT,
            narration,
            branch,
            self.managers[branch],
            legs,
            key=f"loan:{self.new_uuid(4, plan.index)}:disbursement",
            metadata=self._loan_meta(plan),
        )

    def _repay(self, event) -> None:
        ts, _, index, k = event
        plan = self.loans[index]
        branch = self.member_branch[plan.member]
        row = plan.rows[k]
        amount = row[1] + row[2]
        savings = self.member_savings[plan.member]
        source = (
            "SAVINGS"
            if self.rng.random() < 0.4 and self.acc_balance[savings] - amount >= self.savings_minimum
            else "CASH"
        )
        debit = savings if source == "SAVINGS" else self.gl[(branch, "TELLER_CASH")]
        narration = f"Repayment of loan {self._loan_number(plan)}"
        legs = [(debit, True, amount, narration)]
        if row[1]:
            legs.append((plan.account, False, row[1], f"{narration}: principal"))
        if row[2]:
            legs.append((self.gl[(branch, "INTEREST_INCOME")], False, row[2], f"{narration}: interest"))
        entry = self._entry(
            ts,
            JournalEntry.Kind.LOAN_REPAYMENT,
            narration,
            branch,
            self.tellers[branch],
            legs,
            metadata=self._loan_meta(plan, source=source),
        )
        plan.payments.append((k, ts, entry, source, amount))

    def _write_off(self, event) -> None:
        plan = self.loans[event[2]]
        branch = self.member_branch[plan.member]
        outstanding = self.acc_balance[plan.account]
        number = self._loan_number(plan)
        plan.written_off = outstanding
        if outstanding <= 0:
            raise AssertionError(f"generator bug: loan {number} has nothing to write off")
        narration = f"Write-off of loan {number}"
        self._entry(
            plan.writeoff_ts,
            JournalEntry.Kind.WRITE_OFF,
            f"{narration}: no payment for over 180 days",
            branch,
            self.managers[branch],
            [
                (self.gl[(branch, "LOAN_LOSS_EXPENSE")], True, outstanding, narration),
                (plan.account, False, outstanding, narration),
            ],
            key=f"loan:{self.new_uuid(4, plan.index)}:write-off",
            metadata=json.dumps({"loan": str(self.new_uuid(4, plan.index))}),
        )

    # --- COPY ------------------------------------------------------------------------------------
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
                    f"JE{local:%y%m%d}G{tag}-{n}",
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
                    reference = f"JE{local:%y%m%d}G{tag}-{entry}"
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

    def _bucket_for(self, dpd: int):
        for pk, low, high in self.buckets:
            if dpd >= low and (high is None or dpd <= high):
                return pk
        return None

    def write_loans(self) -> None:
        rng = self.rng
        members = [row[0] for row in self.member_rows]
        settings_by_product = [json.dumps(product_schedule_settings(p)) for p in self.products]
        loan_rows, schedule_rows, payment_rows, event_rows = [], [], [], []
        as_of = self.as_of
        for plan in self.loans:
            branch = self.member_branch[plan.member]
            officer, manager, teller = self.officers[branch], self.managers[branch], self.tellers[branch]
            loan_id = self.new_uuid(4, plan.index)
            created = self.ts_dt(plan.created)
            status = plan.status
            submitted = decided = disbursed_at = closed_at = written_off_at = None
            reason = ""
            timeline = [
                (
                    created,
                    officer,
                    "created",
                    "",
                    "DRAFT",
                    f"Application for {kobo_str(plan.principal)} over {plan.term} installment(s)",
                )
            ]
            if status != Loan.Status.DRAFT:
                submitted = created + timedelta(hours=rng.randrange(1, 48))
                end = "WITHDRAWN" if status == Loan.Status.WITHDRAWN else "SUBMITTED"
                timeline.append((submitted, officer, "submitted", "DRAFT", "SUBMITTED", ""))
                if status == Loan.Status.WITHDRAWN:
                    decided = submitted + timedelta(hours=rng.randrange(1, 72))
                    reason = "The applicant no longer needs the loan"
                    timeline.append((decided, officer, "withdrawn", "SUBMITTED", end, reason))
            if status == Loan.Status.REJECTED:
                decided = submitted + timedelta(hours=rng.randrange(2, 96))
                reason = rng.choice(
                    [
                        "Insufficient savings history",
                        "Existing arrears with another lender",
                        "Guarantors not available",
                    ]
                )
                timeline.append((decided, manager, "rejected", "SUBMITTED", "REJECTED", reason))
            if status in (
                Loan.Status.APPROVED,
                Loan.Status.DISBURSED,
                Loan.Status.CLOSED,
                Loan.Status.WRITTEN_OFF,
            ):
                decided = submitted + timedelta(hours=rng.randrange(2, 72))
                if plan.disbursed_ts:
                    decided = min(decided, self.ts_dt(plan.disbursed_ts - 600))
                    submitted = min(submitted, decided - timedelta(minutes=30))
                timeline.append(
                    (decided, manager, "approved", "SUBMITTED", "APPROVED", "Appraisal satisfactory")
                )
            paid_k = 0
            if plan.disbursed_ts:
                disbursed_at = self.ts_dt(plan.disbursed_ts)
                created = min(created, submitted - timedelta(hours=1))
                timeline[0] = (created, *timeline[0][1:])
                timeline.append(
                    (
                        disbursed_at,
                        manager,
                        "disbursed",
                        "APPROVED",
                        "DISBURSED",
                        f"{kobo_str(plan.principal)} to savings",
                    )
                )
                payment_ids = {}
                for k, ts, entry, source, amount in plan.payments:
                    row = plan.rows[k]
                    payment_id = self.new_uuid(6, entry)
                    payment_ids[k] = payment_id
                    record = {"installment": k + 1, "paid_on_before": None, "overdue_before": False}
                    if row[2]:
                        record["interest"] = kobo_str(row[2])
                    if row[1]:
                        record["principal"] = kobo_str(row[1])
                    at = self.ts_dt(ts)
                    payment_rows.append(
                        (
                            payment_id,
                            loan_id,
                            kobo_str(amount),
                            source,
                            self.ts_date(ts),
                            kobo_str(row[1]),
                            kobo_str(row[2]),
                            json.dumps([record]),
                            self.new_uuid(3, entry),
                            teller,
                            at,
                            at,
                        )
                    )
                    timeline.append(
                        (
                            at,
                            teller,
                            "repayment",
                            "DISBURSED",
                            "DISBURSED",
                            f"{kobo_str(amount)} received",
                            json.dumps(
                                {
                                    "payment": str(payment_id),
                                    "amount": kobo_str(amount),
                                    "principal": kobo_str(row[1]),
                                    "interest": kobo_str(row[2]),
                                }
                            ),
                        )
                    )
                    paid_k += 1
                if status == Loan.Status.CLOSED:
                    closed_at = self.ts_dt(plan.closed_ts)
                    timeline.append(
                        (
                            closed_at,
                            teller,
                            "closed",
                            "DISBURSED",
                            "CLOSED",
                            f"Repaid in full on {self.ts_date(plan.closed_ts)}",
                        )
                    )
                if status == Loan.Status.WRITTEN_OFF:
                    written_off_at = self.ts_dt(plan.writeoff_ts)
                    reason = "No payment for over 180 days"
                    timeline.append(
                        (written_off_at, manager, "written_off", "DISBURSED", "WRITTEN_OFF", reason)
                    )
                oldest_overdue, arrears = None, 0
                for k, row in enumerate(plan.rows):
                    due_on, principal, interest, paid, paid_on, _ = row
                    overdue = not paid and due_on < as_of
                    if overdue and oldest_overdue is None:
                        oldest_overdue = due_on
                    if overdue:
                        arrears += principal + interest
                    balance = plan.principal - sum(r[1] for r in plan.rows[: k + 1])
                    total = principal + interest
                    schedule_rows.append(
                        (
                            loan_id,
                            k + 1,
                            due_on,
                            kobo_str(principal),
                            kobo_str(interest),
                            kobo_str(total),
                            kobo_str(balance),
                            kobo_str(principal if paid else 0),
                            kobo_str(interest if paid else 0),
                            kobo_str(total if paid else 0),
                            paid,
                            paid_on,
                            overdue and status == Loan.Status.DISBURSED,
                        )
                    )
                dpd = (
                    (as_of - oldest_overdue).days if oldest_overdue and status == Loan.Status.DISBURSED else 0
                )
                arrears = arrears if dpd else 0
            else:
                dpd, arrears = 0, 0
            last_event = max(t[0] for t in timeline)
            loan_rows.append(
                (
                    loan_id,
                    self._loan_number(plan),
                    members[plan.member],
                    self.products[plan.product].pk,
                    self.branches[branch].pk,
                    officer,
                    status,
                    rng.choice(names.LOAN_PURPOSES),
                    kobo_str(plan.principal),
                    str(self.products[plan.product].interest_rate),
                    plan.term,
                    settings_by_product[plan.product],
                    kobo_str(plan.fee)
                    if plan.disbursed_ts
                    else str(processing_fee_for(self.products[plan.product], Decimal(plan.principal) / 100)),
                    plan.disbursed_on,
                    plan.rows[0][0] if plan.rows else None,
                    self.acc_id[plan.account] if plan.account >= 0 else None,
                    self.new_uuid(3, plan.entry) if plan.entry >= 0 else None,
                    officer,
                    officer if submitted else None,
                    submitted,
                    manager if decided else None,
                    decided,
                    reason,
                    manager if disbursed_at else None,
                    disbursed_at,
                    closed_at,
                    written_off_at,
                    kobo_str(plan.written_off),
                    dpd,
                    kobo_str(arrears),
                    self._bucket_for(dpd) if dpd else None,
                    created,
                    last_event,
                )
            )
            for at, actor, action, before, after, comment, *meta in timeline:
                event_rows.append(
                    (loan_id, at, actor, action, before, after, comment[:255], meta[0] if meta else "{}")
                )
        self.copy(
            Loan,
            [
                "id",
                "loan_number",
                "member_id",
                "product_id",
                "branch_id",
                "loan_officer_id",
                "status",
                "purpose",
                "principal",
                "annual_rate",
                "term",
                "schedule_terms",
                "processing_fee",
                "disbursement_date",
                "first_due_date",
                "account_id",
                "disbursement_entry_id",
                "created_by_id",
                "submitted_by_id",
                "submitted_at",
                "decided_by_id",
                "decided_at",
                "decision_reason",
                "disbursed_by_id",
                "disbursed_at",
                "closed_at",
                "written_off_at",
                "written_off_amount",
                "days_past_due",
                "arrears_amount",
                "arrears_bucket_id",
                "created_at",
                "updated_at",
            ],
            loan_rows,
        )
        self.copy(
            LoanSchedule,
            [
                "loan_id",
                "installment_number",
                "due_date",
                "principal_amount",
                "interest_amount",
                "total_amount",
                "principal_balance",
                "principal_paid",
                "interest_paid",
                "paid_amount",
                "is_paid",
                "paid_on",
                "is_overdue",
            ],
            schedule_rows,
            skip=("id",),
        )
        self.copy(
            LoanPayment,
            [
                "id",
                "loan_id",
                "amount",
                "source",
                "payment_date",
                "principal_portion",
                "interest_portion",
                "allocation",
                "journal_entry_id",
                "received_by_id",
                "created_at",
                "updated_at",
            ],
            payment_rows,
        )
        self.copy(
            LoanEvent,
            ["loan_id", "at", "actor_id", "action", "from_status", "to_status", "comment", "metadata"],
            event_rows,
            skip=("id",),
        )
        self.counts = {
            "loans": len(loan_rows),
            "schedule_rows": len(schedule_rows),
            "payments": len(payment_rows),
            "loan_events": len(event_rows),
        }
        self.out("  " + json.dumps(self.counts))

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
