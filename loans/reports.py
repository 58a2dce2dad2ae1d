"""Loan portfolio reports: selectors that return a `Report` (columns, rows, totals) and CSV/XLSX
renderers. Every selector is branch-scoped to the user (`cooperative.permissions.scope_queryset`)
and requires `loans.view_loan_reports`.

Which date a report describes:
- portfolio summary, arrears aging and PAR read the loans' current figures, which end of day keeps
  (days past due, arrears; outstanding = the LOAN ledger account balance): "as at" the last end of day;
- provisioning by bucket reads the `PortfolioSnapshot` rows of a date (default: the last end of day;
  a branch with no active loan that day has no rows, so it shows zero, never an older snapshot);
- disbursements and repayments cover a period, by calendar month.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from cooperative.exceptions import NotAllowed, ValidationFailed
from cooperative.models import Branch
from cooperative.money import money
from cooperative.permissions import scope_queryset, sees_all_branches, user_branch_ids
from ledger.statements import escape_cell

from .models import ArrearsBucket, EndOfDayRun, Loan, LoanPayment, PortfolioSnapshot

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
REPORT_PERMISSION = "loans.view_loan_reports"
# Arrears aging bands (days past due), inclusive; None = no upper bound.
AGING_BANDS = (
    ("1–30", 1, 30),
    ("31–60", 31, 60),
    ("61–90", 61, 90),
    ("91–180", 91, 180),
    ("180+", 181, None),
)
PAR_DAYS = (1, 30, 90)
MAX_PERIOD_MONTHS = 120


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text | int | money | percent


@dataclass
class Report:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict]
    totals: dict | None = None
    subtitle: str = ""
    scope: str = ""
    generated_at: object = field(default_factory=timezone.localtime)

    def __post_init__(self):
        # Amounts to the kobo whatever the database returned (SQLite sums come back unscaled).
        for row in [*self.rows, *([self.totals] if self.totals else [])]:
            for column in self.columns:
                if column.kind == "money" and row.get(column.key) is not None:
                    row[column.key] = money(row[column.key])

    @property
    def filename_stem(self) -> str:
        return f"loans-{self.name}-{self.generated_at:%Y%m%d}"


def _money_sum(expression: str, **kwargs):
    return Coalesce(
        Sum(expression, **kwargs), Value(ZERO), output_field=DecimalField(max_digits=20, decimal_places=2)
    )


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part * HUNDRED / whole).quantize(Decimal("0.01"))


def _check(user) -> None:
    if not (user and user.is_active and user.has_perm(REPORT_PERMISSION)):
        raise NotAllowed("You do not have permission to view loan reports (view_loan_reports).")


def _scope_label(user) -> str:
    if sees_all_branches(user):
        return "All branches"
    names = (
        Branch.objects.filter(pk__in=user_branch_ids(user)).order_by("code").values_list("name", flat=True)
    )
    return ", ".join(names) or "No branch"


def _active_loans(user):
    return scope_queryset(Loan.objects.filter(status=Loan.Status.DISBURSED), user)


def classification(loan: Loan) -> str:
    """A loan's classification in words: its CBN bucket while active; "Written off" or "Closed" once
    it is not (end of day clears the bucket of a loan that is no longer active)."""
    if loan.status == Loan.Status.WRITTEN_OFF:
        return "Written off"
    if loan.status == Loan.Status.CLOSED:
        return "Closed"
    if loan.status != Loan.Status.DISBURSED:
        return "Not disbursed"
    return loan.arrears_bucket.name if loan.arrears_bucket_id else "Not classified yet"


def _last_end_of_day() -> date | None:
    return EndOfDayRun.objects.filter(finished_at__isnull=False).values_list("date", flat=True).first()


def _as_at() -> str:
    last = _last_end_of_day()
    return f"As at end of day {last:%Y-%m-%d}" if last else "No end of day has run yet"


# --- selectors -------------------------------------------------------------------------------------


def report_portfolio_summary(*, user) -> Report:
    """Active loans by branch and product: count, amount disbursed, principal outstanding, arrears."""
    _check(user)
    groups = (
        _active_loans(user)
        .values("branch__name", "product__name")
        .annotate(
            loans=Count("pk"),
            disbursed=_money_sum("principal"),
            outstanding=_money_sum("account__balance"),
            arrears=_money_sum("arrears_amount"),
        )
        .order_by("branch__name", "product__name")
    )
    rows = [
        {
            "branch": g["branch__name"],
            "product": g["product__name"],
            "loans": g["loans"],
            "disbursed": g["disbursed"],
            "outstanding": g["outstanding"],
            "arrears": g["arrears"],
        }
        for g in groups
    ]
    totals = {
        "branch": "Total",
        **{k: sum(r[k] for r in rows) for k in ("loans", "disbursed", "outstanding", "arrears")},
    }
    if not rows:
        totals.update(disbursed=ZERO, outstanding=ZERO, arrears=ZERO)
    return Report(
        name="portfolio-summary",
        title="Loan portfolio summary",
        subtitle=_as_at(),
        scope=_scope_label(user),
        columns=[
            Column("branch", "Branch"),
            Column("product", "Product"),
            Column("loans", "Active loans", "int"),
            Column("disbursed", "Disbursed", "money"),
            Column("outstanding", "Principal outstanding", "money"),
            Column("arrears", "Arrears", "money"),
        ],
        rows=rows,
        totals=totals,
    )


def _band_filter(low: int, high: int | None) -> Q:
    condition = Q(days_past_due__gte=low)
    if high is not None:
        condition &= Q(days_past_due__lte=high)
    return condition


def report_arrears_aging(*, user) -> Report:
    """Loans past due by age band (1–30, 31–60, 61–90, 91–180, 180+ days)."""
    _check(user)
    loans = _active_loans(user)
    aggregates = {}
    for index, (_label, low, high) in enumerate(AGING_BANDS):
        condition = _band_filter(low, high)
        aggregates[f"n{index}"] = Count("pk", filter=condition)
        aggregates[f"o{index}"] = _money_sum("account__balance", filter=condition)
        aggregates[f"a{index}"] = _money_sum("arrears_amount", filter=condition)
    aggregates["portfolio"] = _money_sum("account__balance")
    figures = loans.aggregate(**aggregates)
    portfolio = figures["portfolio"]
    rows = [
        {
            "band": label,
            "loans": figures[f"n{i}"],
            "outstanding": figures[f"o{i}"],
            "arrears": figures[f"a{i}"],
            "share": _percent(figures[f"o{i}"], portfolio),
        }
        for i, (label, _low, _high) in enumerate(AGING_BANDS)
    ]
    outstanding = sum((r["outstanding"] for r in rows), ZERO)
    totals = {
        "band": "Total past due",
        "loans": sum(r["loans"] for r in rows),
        "outstanding": outstanding,
        "arrears": sum((r["arrears"] for r in rows), ZERO),
        "share": _percent(outstanding, portfolio),
    }
    return Report(
        name="arrears-aging",
        title="Arrears aging",
        subtitle=_as_at(),
        scope=_scope_label(user),
        columns=[
            Column("band", "Days past due"),
            Column("loans", "Loans", "int"),
            Column("outstanding", "Principal outstanding", "money"),
            Column("arrears", "Arrears", "money"),
            Column("share", "% of portfolio", "percent"),
        ],
        rows=rows,
        totals=totals,
    )


def _par_figures(user, days: int) -> tuple[int, Decimal, Decimal]:
    figures = _active_loans(user).aggregate(
        loans=Count("pk", filter=Q(days_past_due__gt=days)),
        at_risk=_money_sum("account__balance", filter=Q(days_past_due__gt=days)),
        portfolio=_money_sum("account__balance"),
    )
    return figures["loans"], figures["at_risk"], figures["portfolio"]


def par(*, user, days: int = 30) -> Decimal | None:
    """Portfolio at risk: outstanding of loans more than `days` past due ÷ total outstanding, in
    percent with two decimals (e.g. Decimal("12.50")); None when the user's portfolio is empty.
    For dashboards: branch-scoped, no report permission needed beyond seeing the loans."""
    _loans, at_risk, portfolio = _par_figures(user, days)
    return _percent(at_risk, portfolio)


def report_par(*, user) -> Report:
    """PAR1, PAR30 and PAR90."""
    _check(user)
    rows = []
    for days in PAR_DAYS:
        loans, at_risk, portfolio = _par_figures(user, days)
        rows.append(
            {
                "measure": f"PAR{days}",
                "loans": loans,
                "at_risk": at_risk,
                "portfolio": portfolio,
                "ratio": _percent(at_risk, portfolio),
            }
        )
    return Report(
        name="par",
        title="Portfolio at risk",
        subtitle=_as_at(),
        scope=_scope_label(user),
        columns=[
            Column("measure", "Measure"),
            Column("loans", "Loans past due", "int"),
            Column("at_risk", "Outstanding at risk", "money"),
            Column("portfolio", "Portfolio outstanding", "money"),
            Column("ratio", "PAR %", "percent"),
        ],
        rows=rows,
    )


def report_provisioning(*, user, as_of: date | None = None) -> Report:
    """Provisioning by classification bucket from the end-of-day snapshot of `as_of` (default: the
    last end of day). A branch without active loans on that date has no snapshot rows and counts
    zero (not the snapshot of an earlier date). A last row counts the loans written off by `as_of`:
    classified "Written off", outside the buckets and the totals (nothing outstanding, no provision)."""
    _check(user)
    snapshots = scope_queryset(PortfolioSnapshot.objects.all(), user)
    if as_of is None:
        as_of = _last_end_of_day()
    figures = {
        g["bucket_id"]: g
        for g in snapshots.filter(date=as_of)
        .values("bucket_id")
        .annotate(
            loans=Coalesce(Sum("loan_count"), 0),
            outstanding=_money_sum("principal_outstanding"),
            arrears=_money_sum("arrears_amount"),
            provision=_money_sum("provision_amount"),
        )
        .order_by()
    }
    rows = []
    for bucket in ArrearsBucket.objects.order_by("min_days"):
        g = figures.get(bucket.pk, {})
        upper = "+" if bucket.max_days is None else f"–{bucket.max_days}"
        rows.append(
            {
                "bucket": bucket.name,
                "days": f"{bucket.min_days}{upper}"
                if bucket.max_days != bucket.min_days
                else str(bucket.min_days),
                "rate": bucket.provision_percent,
                "loans": g.get("loans", 0),
                "outstanding": g.get("outstanding", ZERO),
                "arrears": g.get("arrears", ZERO),
                "provision": g.get("provision", ZERO),
            }
        )
    totals = {
        "bucket": "Total",
        **{
            k: sum((r[k] for r in rows), ZERO if k != "loans" else 0)
            for k in ("loans", "outstanding", "arrears", "provision")
        },
    }
    written_off = (
        scope_queryset(
            Loan.objects.filter(status=Loan.Status.WRITTEN_OFF, written_off_at__date__lte=as_of), user
        ).count()
        if as_of
        else 0
    )
    rows.append(
        {
            "bucket": "Written off",
            "days": "",
            "rate": None,
            "loans": written_off,
            "outstanding": ZERO,
            "arrears": ZERO,
            "provision": ZERO,
        }
    )
    return Report(
        name="provisioning",
        title="Loan-loss provisioning by classification",
        subtitle=f"End of day {as_of:%Y-%m-%d}" if as_of else "No end-of-day snapshot yet",
        scope=_scope_label(user),
        columns=[
            Column("bucket", "Classification"),
            Column("days", "Days past due"),
            Column("rate", "Provision %", "percent"),
            Column("loans", "Loans", "int"),
            Column("outstanding", "Principal outstanding", "money"),
            Column("arrears", "Arrears", "money"),
            Column("provision", "Provision", "money"),
        ],
        rows=rows,
        totals=totals,
    )


def _months(date_from: date, date_to: date) -> list[date]:
    months, current = [], date_from.replace(day=1)
    while current <= date_to:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def _month_key(value) -> date:
    return value.date().replace(day=1) if hasattr(value, "date") else value.replace(day=1)


def report_disbursements_repayments(*, user, date_from: date, date_to: date) -> Report:
    """Per calendar month: loans disbursed (count, amount) and repayments received (count, amount and
    its split into principal, interest, fees and penalties; reversed repayments left out)."""
    _check(user)
    if date_from > date_to:
        raise ValidationFailed("The start date is after the end date.", field="date_from")
    months = _months(date_from, date_to)
    if len(months) > MAX_PERIOD_MONTHS:
        raise ValidationFailed(f"The period is limited to {MAX_PERIOD_MONTHS} months.", field="date_to")
    disbursed = (
        scope_queryset(Loan.objects.filter(disbursement_date__range=(date_from, date_to)), user)
        .annotate(month=TruncMonth("disbursement_date"))
        .values("month")
        .annotate(count=Count("pk"), amount=_money_sum("principal"))
        .order_by()
    )
    repaid = (
        scope_queryset(
            LoanPayment.objects.filter(payment_date__range=(date_from, date_to), reversed_at__isnull=True),
            user,
        )
        .annotate(month=TruncMonth("payment_date"))
        .values("month")
        .annotate(
            count=Count("pk"),
            amount=_money_sum("amount"),
            principal=_money_sum("principal_portion"),
            interest=_money_sum("interest_portion"),
            fees=_money_sum("fee_portion"),
            penalties=_money_sum("penalty_portion"),
        )
        .order_by()
    )
    out = {_month_key(g["month"]): g for g in disbursed}
    back = {_month_key(g["month"]): g for g in repaid}
    money_keys = ("disbursed", "repaid", "principal", "interest", "fees", "penalties")
    rows = []
    for month in months:
        d, r = out.get(month, {}), back.get(month, {})
        rows.append(
            {
                "month": f"{month:%Y-%m}",
                "disbursements": d.get("count", 0),
                "disbursed": d.get("amount", ZERO),
                "repayments": r.get("count", 0),
                "repaid": r.get("amount", ZERO),
                "principal": r.get("principal", ZERO),
                "interest": r.get("interest", ZERO),
                "fees": r.get("fees", ZERO),
                "penalties": r.get("penalties", ZERO),
            }
        )
    totals = {"month": "Total"}
    totals.update({k: sum(r[k] for r in rows) for k in ("disbursements", "repayments")})
    totals.update({k: sum((r[k] for r in rows), ZERO) for k in money_keys})
    return Report(
        name="disbursements-repayments",
        title="Disbursements and repayments by month",
        subtitle=f"{date_from:%Y-%m-%d} to {date_to:%Y-%m-%d}",
        scope=_scope_label(user),
        columns=[
            Column("month", "Month"),
            Column("disbursements", "Loans disbursed", "int"),
            Column("disbursed", "Amount disbursed", "money"),
            Column("repayments", "Repayments", "int"),
            Column("repaid", "Amount repaid", "money"),
            Column("principal", "Principal", "money"),
            Column("interest", "Interest", "money"),
            Column("fees", "Fees", "money"),
            Column("penalties", "Penalties", "money"),
        ],
        rows=rows,
        totals=totals,
    )


REPORTS = {
    "portfolio-summary": report_portfolio_summary,
    "arrears-aging": report_arrears_aging,
    "par": report_par,
    "provisioning": report_provisioning,
    "disbursements-repayments": report_disbursements_repayments,
}


# --- renderers -------------------------------------------------------------------------------------


def _header_rows(report: Report) -> list[list[str]]:
    rows = [[settings.COOP_NAME], [report.title], ["Branches", report.scope]]
    if report.subtitle:
        rows.append([report.subtitle])
    rows.append(["Generated", f"{report.generated_at:%Y-%m-%d %H:%M}"])
    return [[escape_cell(cell) for cell in row] for row in rows]


def _cell_text(column: Column, value) -> str:
    if value is None:
        return ""
    if column.kind == "text":
        return escape_cell(value)
    return str(value)


def render_csv(report: Report) -> bytes:
    """CSV bytes (UTF-8): a short header, the column titles, the rows, then the totals row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in _header_rows(report):
        writer.writerow(row)
    writer.writerow([])
    writer.writerow([escape_cell(c.label) for c in report.columns])
    for row in report.rows:
        writer.writerow([_cell_text(c, row.get(c.key)) for c in report.columns])
    if report.totals:
        writer.writerow([_cell_text(c, report.totals.get(c.key)) for c in report.columns])
    return buffer.getvalue().encode("utf-8")


NUMBER_FORMATS = {"money": "#,##0.00", "percent": "0.00", "int": "0"}


def render_xlsx(report: Report) -> bytes:
    """An .xlsx workbook: numbers stay numbers (money with a #,##0.00 format), text is escaped."""
    from openpyxl import Workbook  # noqa: PLC0415 - heavy, only the .xlsx export needs it
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415 - as above
    from openpyxl.styles import Font  # noqa: PLC0415 - as above
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - as above

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(report.title[:31])
    for index, column in enumerate(report.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = 24 if column.kind == "text" else 18
    bold = Font(bold=True)

    def cell(column: Column | None, value, *, strong: bool = False):
        if column is None or column.kind == "text" or value is None:
            item = WriteOnlyCell(sheet, value=escape_cell(value) if value is not None else None)
        else:
            item = WriteOnlyCell(sheet, value=value)
            item.number_format = NUMBER_FORMATS[column.kind]
        if strong:
            item.font = bold
        return item

    for number, row in enumerate(_header_rows(report)):
        sheet.append([cell(None, value, strong=number == 0) for value in row])
    sheet.append([])
    sheet.append([cell(None, c.label, strong=True) for c in report.columns])
    for row in report.rows:
        sheet.append([cell(c, row.get(c.key)) for c in report.columns])
    if report.totals:
        sheet.append([cell(c, report.totals.get(c.key), strong=True) for c in report.columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
