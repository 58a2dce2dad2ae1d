"""The large-cash report (for the NFIU currency transaction report) and the structuring flags.

A *cash movement* is cash crossing the counter for a member: a journal entry with a leg on teller
cash (a teller's till or the branch's vault: that is how every cash posting reaches the ledger,
`ledger.services._counter_movement` and `counter_account_id`) and a leg on a member account. The
amount is the teller-cash leg's (the cash counted, also when a loan repayment splits it between
principal and income). Cash moved between the vault and the tills (`TILL_TRANSFER`) and reversals
are not movements; a movement that was later reversed is still listed, marked as reversed.

A movement is listed when its amount is at or above the reporting threshold of the member's
category (settings `LARGE_CASH_THRESHOLD_INDIVIDUAL`, `LARGE_CASH_THRESHOLD_ORGANISATION`).
Possible structuring: at least `STRUCTURING_MIN_COUNT` cash deposits by one member, each below the
threshold by at most `STRUCTURING_MARGIN_PERCENT`, inside `STRUCTURING_WINDOW_DAYS` days.

The period is by posting time (local date of each leg's `created_at`), as statements are. Reads
are driven by the teller-cash legs through `leg_account_time_idx` (teller-cash accounts are few:
a vault and a till per teller), so a period costs the legs of the tills in it, never a scan of
every member's legs; rows and their members come in two queries whatever their number.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet, Subquery, UUIDField
from django.utils import timezone

from cooperative.models import Branch
from cooperative.money import money
from cooperative.permissions import scope_queryset

from .models import Account, AccountType, JournalEntry, Side, Transaction
from .statements import _Echo, _period_bounds, escape_cell

INDIVIDUAL = "individual"
ORGANISATION = "organisation"
NOT_MOVEMENTS = (JournalEntry.Kind.TILL_TRANSFER, JournalEntry.Kind.REVERSAL)


# --- Rules ----------------------------------------------------------------------------------------


def thresholds() -> dict[str, Decimal]:
    return {
        INDIVIDUAL: money(settings.LARGE_CASH_THRESHOLD_INDIVIDUAL),
        ORGANISATION: money(settings.LARGE_CASH_THRESHOLD_ORGANISATION),
    }


def member_category(member) -> str:
    """Individual or organisation (body corporate), which decides the threshold. Members carry no
    such category yet (`members.Member` records a person), so every member is an individual; this
    is the one place to read it once they do."""
    return INDIVIDUAL


@dataclass(frozen=True)
class StructuringRule:
    min_count: int
    window: timedelta
    margin_percent: Decimal

    @classmethod
    def from_settings(cls) -> StructuringRule:
        return cls(
            min_count=max(int(settings.STRUCTURING_MIN_COUNT), 2),
            window=timedelta(days=max(int(settings.STRUCTURING_WINDOW_DAYS), 1)),
            margin_percent=Decimal(settings.STRUCTURING_MARGIN_PERCENT),
        )

    def lower_bound(self, threshold: Decimal) -> Decimal:
        """The smallest deposit that is "just below" `threshold`."""
        return money(threshold * (Decimal(100) - self.margin_percent) / Decimal(100))


# --- Selectors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CashMovement:
    leg_id: object
    entry_id: object
    reference: str
    movement: str  # Deposit, Withdrawal, Loan repayment …
    direction: str  # "in" (cash received) or "out" (cash paid)
    amount: Decimal
    posted_at: datetime  # local time
    branch: str
    member_id: object
    category: str  # INDIVIDUAL or ORGANISATION: which threshold applies
    member_name: str
    member_number: str
    account_number: str
    account_type: str
    channel: str  # "Cash – till" or "Cash – vault"
    teller: str
    reversed: bool


if TYPE_CHECKING:  # django-stubs-ext is a development dependency
    from django_stubs_ext import WithAnnotations

    class _CashLegAnnotations(TypedDict):
        member_account_id: uuid.UUID
        was_reversed: bool

    CashLeg = WithAnnotations[Transaction, _CashLegAnnotations]  # a leg as _cash_legs annotates it


def _cash_legs(*, user, start: datetime, end: datetime, branch_id=None) -> QuerySet[CashLeg]:
    """Teller-cash legs posted in [start, end) of member cash movements that `user` may see, with
    the member account's id (`member_account_id`) and whether the entry was reversed."""
    # Through account_branch_type_idx: the tills and vaults of the branches the user may see.
    branches = scope_queryset(Branch.objects.all(), user)
    if branch_id is not None:
        branches = branches.filter(pk=branch_id)
    teller_cash = Account.objects.filter(type=AccountType.TELLER_CASH, branch__in=branches.values("pk"))
    member_legs = Transaction.objects.filter(entry_id=OuterRef("entry_id"), account__member__isnull=False)
    legs = scope_queryset(Transaction.objects.all(), user).filter(
        account_id__in=teller_cash.values("pk"), created_at__gte=start, created_at__lt=end
    )
    return (
        legs.exclude(entry__kind__in=NOT_MOVEMENTS)
        .annotate(
            member_account_id=Subquery(
                member_legs.order_by("created_at", "id").values("account_id")[:1], output_field=UUIDField()
            ),
            was_reversed=Exists(JournalEntry.objects.filter(reverses_id=OuterRef("entry_id"))),
        )
        .filter(member_account_id__isnull=False)
    )


def _movements(legs: QuerySet[CashLeg]) -> list[CashMovement]:
    rows = list(
        legs.select_related("entry", "entry__posted_by", "account__till_teller", "branch").order_by(
            "created_at", "id"
        )
    )
    accounts = Account.objects.select_related("member").in_bulk({leg.member_account_id for leg in rows})
    movements = []
    for leg in rows:
        account = accounts[leg.member_account_id]
        member = account.member
        assert member is not None  # _cash_legs keeps only the legs of entries with a member account
        teller = leg.entry.posted_by or leg.account.till_teller
        movements.append(
            CashMovement(
                leg_id=leg.pk,
                entry_id=leg.entry_id,
                reference=leg.entry.reference,
                movement=leg.entry.get_kind_display(),
                direction="in" if leg.type == Side.DEBIT else "out",  # teller cash is debit-normal
                amount=leg.amount,
                posted_at=timezone.localtime(leg.created_at),
                branch=leg.branch.name,
                member_id=member.pk,
                category=member_category(member),
                member_name=member.full_name,
                member_number=member.member_number,
                account_number=account.account_number,
                account_type=account.get_type_display(),
                channel="Cash – till" if leg.account.till_teller_id else "Cash – vault",
                teller=(teller.get_full_name() or teller.email) if teller is not None else "System",
                reversed=leg.was_reversed,
            )
        )
    return movements


def large_cash_movements(*, user, date_from: date, date_to: date, branch_id=None) -> list[CashMovement]:
    """Every cash movement `user` may see, posted between the two dates (inclusive), at or above the
    threshold of its member's category, in posting order."""
    start, end = _period_bounds(date_from, date_to)
    limits = thresholds()
    legs = _cash_legs(user=user, start=start, end=end, branch_id=branch_id).filter(
        amount__gte=min(limits.values())
    )
    return [m for m in _movements(legs) if m.amount >= limits[m.category]]


@dataclass(frozen=True)
class StructuringFlag:
    member_id: object
    member_name: str
    member_number: str
    branch: str
    threshold: Decimal
    deposits: tuple[CashMovement, ...]

    @property
    def count(self) -> int:
        return len(self.deposits)

    @property
    def total(self) -> Decimal:
        return money(sum((d.amount for d in self.deposits), Decimal("0.00")))

    @property
    def first_at(self) -> datetime:
        return self.deposits[0].posted_at

    @property
    def last_at(self) -> datetime:
        return self.deposits[-1].posted_at


def _clusters(deposits: list[CashMovement], rule: StructuringRule) -> list[list[CashMovement]]:
    """Runs of one member's deposits (in time order) covered by windows holding ≥ min_count of
    them; overlapping windows are merged into one run."""
    clusters: list[list[CashMovement]] = []
    first = 0
    covered_until = -1  # index of the last deposit already in the current run
    for last, deposit in enumerate(deposits):
        while deposit.posted_at - deposits[first].posted_at >= rule.window:
            first += 1
        if last - first + 1 < rule.min_count:
            continue
        if clusters and first <= covered_until:
            clusters[-1].extend(deposits[covered_until + 1 : last + 1])
        else:
            clusters.append(deposits[first : last + 1])
        covered_until = last
    return clusters


def structuring_flags(
    *, user, date_from: date, date_to: date, branch_id=None, rule: StructuringRule | None = None
) -> list[StructuringFlag]:
    """Members with at least `rule.min_count` cash deposits each just below their threshold inside
    one window, where the run ends in the period (its window may begin before it: a teller looking
    at today still sees deposits spread over the days before). Reversed deposits do not count."""
    rule = rule or StructuringRule.from_settings()
    limits = thresholds()
    start, end = _period_bounds(date_from, date_to)
    ranges = {category: (rule.lower_bound(limit), limit) for category, limit in limits.items()}
    legs = _cash_legs(user=user, start=start - rule.window, end=end, branch_id=branch_id).filter(
        type=Side.DEBIT,  # cash in
        entry__kind=JournalEntry.Kind.DEPOSIT,
        amount__gte=min(low for low, _ in ranges.values()),
        amount__lt=max(high for _, high in ranges.values()),
        was_reversed=False,
    )
    by_member: dict[object, list[CashMovement]] = {}
    for deposit in _movements(legs):
        low, high = ranges[deposit.category]
        if low <= deposit.amount < high:
            by_member.setdefault(deposit.member_id, []).append(deposit)
    local_start = timezone.localtime(start)
    flags = []
    for deposits in by_member.values():
        for run in _clusters(deposits, rule):
            if run[-1].posted_at < local_start:
                continue
            head = run[0]
            flags.append(
                StructuringFlag(
                    member_id=head.member_id,
                    member_name=head.member_name,
                    member_number=head.member_number,
                    branch=head.branch,
                    threshold=limits[head.category],
                    deposits=tuple(run),
                )
            )
    return sorted(flags, key=lambda flag: (flag.first_at, flag.member_number))


# --- Report and renderers -------------------------------------------------------------------------


@dataclass(frozen=True)
class LargeCashReport:
    date_from: date
    date_to: date
    branch: str  # a branch's name, or "All branches you can see"
    movements: list[CashMovement]
    flags: list[StructuringFlag]
    thresholds: dict[str, Decimal]
    rule: StructuringRule
    generated_at: datetime

    @property
    def filename_stem(self) -> str:
        return f"large-cash-{self.date_from:%Y%m%d}-{self.date_to:%Y%m%d}"

    @property
    def total(self) -> Decimal:
        return money(sum((m.amount for m in self.movements), Decimal("0.00")))


def large_cash_report(*, user, date_from: date, date_to: date, branch=None) -> LargeCashReport:
    if date_from > date_to:
        raise ValueError("The start date is after the end date.")
    branch_id = branch.pk if branch is not None else None
    rule = StructuringRule.from_settings()
    return LargeCashReport(
        date_from=date_from,
        date_to=date_to,
        branch=branch.name if branch is not None else "All branches you can see",
        movements=large_cash_movements(user=user, date_from=date_from, date_to=date_to, branch_id=branch_id),
        flags=structuring_flags(
            user=user, date_from=date_from, date_to=date_to, branch_id=branch_id, rule=rule
        ),
        thresholds=thresholds(),
        rule=rule,
        generated_at=timezone.localtime(),
    )


MOVEMENT_COLUMNS = [
    "Posted",
    "Branch",
    "Member",
    "Member number",
    "Account",
    "Movement",
    "Direction",
    "Amount",
    "Channel",
    "Teller",
    "Reference",
    "Reversed",
]
FLAG_COLUMNS = ["Member", "Member number", "Branch", "Deposits", "Total", "First", "Last"]
DEPOSIT_COLUMNS = ["", "Posted", "Account", "Amount", "Teller", "Reference"]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _header_rows(report: LargeCashReport) -> list[list[str]]:
    rows = [
        [settings.COOP_NAME],
        ["Large cash report"],
        ["Branch", report.branch],
        ["Period", f"{report.date_from:%Y-%m-%d} to {report.date_to:%Y-%m-%d}"],
        ["Threshold (individual)", report.thresholds[INDIVIDUAL]],
        ["Threshold (organisation)", report.thresholds[ORGANISATION]],
        ["Generated", _when(report.generated_at)],
    ]
    return [[escape_cell(cell) for cell in row] for row in rows]


def _movement_row(m: CashMovement) -> list:
    return [
        _when(m.posted_at),
        escape_cell(m.branch),
        escape_cell(m.member_name),
        escape_cell(m.member_number),
        escape_cell(m.account_number),
        m.movement,
        m.direction,
        m.amount,
        m.channel,
        escape_cell(m.teller),
        escape_cell(m.reference),
        "yes" if m.reversed else "",
    ]


def _flag_row(flag: StructuringFlag) -> list:
    return [
        escape_cell(flag.member_name),
        escape_cell(flag.member_number),
        escape_cell(flag.branch),
        flag.count,
        flag.total,
        _when(flag.first_at),
        _when(flag.last_at),
    ]


def _deposit_row(d: CashMovement) -> list:
    return [
        "",
        _when(d.posted_at),
        escape_cell(d.account_number),
        d.amount,
        escape_cell(d.teller),
        escape_cell(d.reference),
    ]


def csv_rows(report: LargeCashReport) -> Iterator[str]:
    """The report as CSV lines: the header, the movements, then the structuring flags, each
    followed by its deposits. Amounts are written as 5000000.00."""
    writer = csv.writer(_Echo())
    for row in _header_rows(report):
        yield writer.writerow(row)
    yield writer.writerow([])
    yield writer.writerow(MOVEMENT_COLUMNS)
    for m in report.movements:
        yield writer.writerow(_movement_row(m))
    yield writer.writerow(["Total", "", "", "", "", "", "", report.total])
    yield writer.writerow([])
    yield writer.writerow(["Possible structuring"])
    yield writer.writerow(FLAG_COLUMNS)
    for flag in report.flags:
        yield writer.writerow(_flag_row(flag))
        for deposit in flag.deposits:
            yield writer.writerow(_deposit_row(deposit))


def render_csv(report: LargeCashReport) -> bytes:
    return "".join(csv_rows(report)).encode("utf-8")


def render_xlsx(report: LargeCashReport) -> bytes:
    """An .xlsx workbook: sheet "Large cash" (the movements) and sheet "Structuring" (the flags and
    their deposits). Amounts stay numbers (#,##0.00); text cells are escaped against formulas."""
    # openpyxl is heavy and only this download needs it.
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)

    def cell_for(sheet, value):
        if isinstance(value, Decimal):
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = "#,##0.00"
            return cell
        if isinstance(value, int):
            return WriteOnlyCell(sheet, value=value)
        return WriteOnlyCell(sheet, value=escape_cell(value))

    def title_row(sheet, titles):
        cells = []
        for title in titles:
            cell = WriteOnlyCell(sheet, value=escape_cell(title))
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)

    movements = workbook.create_sheet("Large cash")
    for letter, width in zip("ABCDEFGHIJKL", (17, 18, 26, 14, 12, 16, 9, 18, 13, 24, 20, 9), strict=True):
        movements.column_dimensions[letter].width = width
    for row in _header_rows(report):
        movements.append([cell_for(movements, value) for value in row])
    movements.append([])
    title_row(movements, MOVEMENT_COLUMNS)
    for m in report.movements:
        movements.append([cell_for(movements, value) for value in _movement_row(m)])
    movements.append(
        [cell_for(movements, value) for value in ["Total", "", "", "", "", "", "", report.total]]
    )

    flags = workbook.create_sheet("Structuring")
    for letter, width in zip("ABCDEFG", (26, 17, 18, 18, 18, 17, 17), strict=True):
        flags.column_dimensions[letter].width = width
    title_row(flags, FLAG_COLUMNS)
    for flag in report.flags:
        flags.append([cell_for(flags, value) for value in _flag_row(flag)])
        for deposit in flag.deposits:
            flags.append([cell_for(flags, value) for value in _deposit_row(deposit)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", render_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", render_xlsx),
}


def export_detail(report: LargeCashReport, fmt: str, *, branch_id=None) -> dict:
    """What an EXPORT audit row records about a large-cash download."""
    return {
        "what": "large_cash_report",
        "format": fmt,
        "from": report.date_from.isoformat(),
        "to": report.date_to.isoformat(),
        "branch": report.branch,
        "branch_id": str(branch_id) if branch_id is not None else None,
        "movements": len(report.movements),
        "structuring_flags": len(report.flags),
    }
