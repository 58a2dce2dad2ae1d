"""Sizes, constants and helpers shared by the generator's phases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from loans.models import Loan

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


# Every journal entry the generator writes has a reference of this shape (`JE`, the value date, `G`, the
# run's tag in hex, `-`, the entry's index); the ledger's own references are `JE`, a date and ten hex
# digits, never a `G` or a `-`. `generate_data` counts entries without it as real postings.
GENERATED_REFERENCE = r"^JE[0-9]{6}G[0-9A-F]+-[0-9]+$"


def generated_reference(local: datetime, tag: str, index: int) -> str:
    return f"JE{local:%y%m%d}G{tag}-{index}"


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
    into_real_books: bool = False  # generate even where real (non-generated) postings exist


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
