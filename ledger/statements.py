"""Account statements: the selector (opening balance, movements, running balance, closing balance,
totals) and its CSV, XLSX and PDF renderers.

The period is by posting date (the local date of each leg's `created_at`), and movements come in
posting order `(created_at, id)`, so the running balance is each leg's own `balance_after` and the
statement always agrees with the ledger; each line also shows its value date. Renderers stream the
legs with `iterator()`, so a statement of thousands of movements never holds them all as models.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, Sum
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from cooperative.exceptions import ValidationFailed
from cooperative.money import money

from .models import Account, Side, Transaction

ZERO = Decimal("0.00")
# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 2000
# The PDF renderer draws about 3,000 rows a second here (docs/performance.md); past this many a
# PDF (over 400 pages) is no longer a document anyone prints, so longer periods go to CSV/Excel.
PDF_MAX_MOVEMENTS_DEFAULT = 20000


def pdf_max_movements() -> int:
    return int(getattr(settings, "LEDGER_STATEMENT_PDF_MAX_MOVEMENTS", PDF_MAX_MOVEMENTS_DEFAULT))


class StatementTooLong(ValidationFailed):
    title = "Statement too long for a PDF"


def escape_cell(value: object) -> str:
    """Neutralise spreadsheet formulas (CSV injection) by prefixing an apostrophe."""
    text = "" if value is None else str(value)
    if text and text[0] in FORMULA_PREFIXES:
        return "'" + text
    return text


@dataclass(frozen=True)
class Movement:
    posted_at: datetime
    value_date: date
    reference: str
    description: str
    debit: Decimal | None
    credit: Decimal | None
    balance: Decimal


@dataclass(frozen=True)
class Statement:
    account: Account
    date_from: date
    date_to: date
    opening_balance: Decimal
    closing_balance: Decimal
    total_debits: Decimal
    total_credits: Decimal
    movement_count: int
    generated_at: datetime

    def _legs(self):
        start, end = _period_bounds(self.date_from, self.date_to)
        return (
            Transaction.objects.filter(account_id=self.account.pk, created_at__gte=start, created_at__lt=end)
            .order_by("created_at", "id")
            .only("created_at", "value_date", "reference", "description", "type", "amount", "balance_after")
        )

    def movements(self) -> Iterator[Movement]:
        """Each movement in posting order (a fresh, streaming query on every call)."""
        for leg in self._legs().iterator(chunk_size=CHUNK_SIZE):
            yield Movement(
                posted_at=timezone.localtime(leg.created_at),
                value_date=leg.value_date,
                reference=leg.reference,
                description=leg.description,
                debit=leg.amount if leg.type == Side.DEBIT else None,
                credit=leg.amount if leg.type == Side.CREDIT else None,
                balance=leg.balance_after,
            )

    @property
    def net_change(self) -> Decimal:
        """The change in the account's natural sign (credits grow a savings account)."""
        if self.account.normal_balance == Side.CREDIT:
            return self.total_credits - self.total_debits
        return self.total_debits - self.total_credits

    @property
    def filename_stem(self) -> str:
        return f"statement-{self.account.account_number}-{self.date_from:%Y%m%d}-{self.date_to:%Y%m%d}"


# Period bounds are clamped to these dates: "from 0001-01-01" or "to 9999-12-31" (a person asking
# for everything) would otherwise overflow when the bound is shifted to the next day or to UTC.
EARLIEST_BOUND = date(1900, 1, 1)
LATEST_BOUND = date(9000, 12, 31)


def _period_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.combine(min(max(date_from, EARLIEST_BOUND), LATEST_BOUND), time.min, tzinfo=tz)
    end_day = min(max(date_to, EARLIEST_BOUND), LATEST_BOUND) + timedelta(days=1)
    end = datetime.combine(end_day, time.min, tzinfo=tz)
    return start, end


def account_statement(*, account: Account, date_from: date, date_to: date) -> Statement:
    """Opening balance, totals and closing balance of `account` between two dates (inclusive)."""
    if date_from > date_to:
        raise ValueError("The start date is after the end date.")
    start, end = _period_bounds(date_from, date_to)
    legs = Transaction.objects.filter(account_id=account.pk)
    before = (
        legs.filter(created_at__lt=start)
        .order_by("-created_at", "-id")
        .values_list("balance_after", flat=True)
    )
    opening = before.first()
    opening = ZERO if opening is None else opening
    in_period = legs.filter(created_at__gte=start, created_at__lt=end)
    totals = in_period.aggregate(
        debits=Sum("amount", filter=Q(type=Side.DEBIT)),
        credits=Sum("amount", filter=Q(type=Side.CREDIT)),
    )
    last = in_period.order_by("-created_at", "-id").values_list("balance_after", flat=True).first()
    return Statement(
        account=account,
        date_from=date_from,
        date_to=date_to,
        opening_balance=opening,
        closing_balance=opening if last is None else last,
        # SUM() loses the scale on SQLite (5000, not 5000.00): totals are written like every amount.
        total_debits=money(totals["debits"] or ZERO),
        total_credits=money(totals["credits"] or ZERO),
        movement_count=in_period.count(),
        generated_at=timezone.localtime(),
    )


# --- Renderers ------------------------------------------------------------------------------------


def _header_rows(statement: Statement) -> list[list[str]]:
    account = statement.account
    member = account.member
    rows = [
        [settings.COOP_NAME],
        ["Account statement"],
        ["Branch", account.branch.name],
        ["Account number", account.account_number],
        ["Account type", account.get_type_display()],
        ["Currency", account.currency],
    ]
    if member is not None:
        rows += [["Member", member.full_name], ["Member number", member.member_number]]
    rows.append(["Period", f"{statement.date_from:%Y-%m-%d} to {statement.date_to:%Y-%m-%d}"])
    return [[escape_cell(cell) for cell in row] for row in rows]


COLUMNS = ["Posted", "Value date", "Reference", "Description", "Debit", "Credit", "Balance"]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_rows(statement: Statement) -> Iterator[str]:
    """The statement as CSV lines, one at a time (for a StreamingHttpResponse)."""
    writer = csv.writer(_Echo())
    for row in _header_rows(statement):
        yield writer.writerow(row)
    yield writer.writerow([])
    yield writer.writerow(COLUMNS)
    yield writer.writerow(["", "", "", "Opening balance", "", "", statement.opening_balance])
    for m in statement.movements():
        yield writer.writerow(
            [
                m.posted_at.strftime("%Y-%m-%d %H:%M"),
                m.value_date.isoformat(),
                escape_cell(m.reference),
                escape_cell(m.description),
                "" if m.debit is None else m.debit,
                "" if m.credit is None else m.credit,
                m.balance,
            ]
        )
    yield writer.writerow(["", "", "", "Totals", statement.total_debits, statement.total_credits, ""])
    yield writer.writerow(["", "", "", "Closing balance", "", "", statement.closing_balance])


def render_csv(statement: Statement) -> bytes:
    return "".join(csv_rows(statement)).encode("utf-8")


def render_xlsx(statement: Statement) -> bytes:
    """An .xlsx workbook (openpyxl write-only mode: rows go straight to the file)."""
    # openpyxl is heavy and only this download needs it.
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Statement")
    for letter, width in zip("ABCDEFG", (18, 12, 20, 48, 16, 16, 18), strict=True):
        sheet.column_dimensions[letter].width = width
    bold = Font(bold=True)

    def money_cell(value: Decimal | None):
        cell = WriteOnlyCell(sheet, value=value)  # a Decimal stays a number
        cell.number_format = "#,##0.00"
        return cell

    def text_cell(value: object, *, strong: bool = False):
        cell = WriteOnlyCell(sheet, value=escape_cell(value))
        if strong:
            cell.font = bold
        return cell

    for row in _header_rows(statement):
        sheet.append([text_cell(value, strong=index == 0) for index, value in enumerate(row)])
    sheet.append([])
    sheet.append([text_cell(title, strong=True) for title in COLUMNS])
    sheet.append(
        [None, None, None, text_cell("Opening balance"), None, None, money_cell(statement.opening_balance)]
    )
    for m in statement.movements():
        date_cell = WriteOnlyCell(sheet, value=m.posted_at.replace(tzinfo=None))
        date_cell.number_format = "yyyy-mm-dd hh:mm"
        value_cell = WriteOnlyCell(sheet, value=m.value_date)
        value_cell.number_format = "yyyy-mm-dd"
        sheet.append(
            [
                date_cell,
                value_cell,
                text_cell(m.reference),
                text_cell(m.description),
                money_cell(m.debit) if m.debit is not None else None,
                money_cell(m.credit) if m.credit is not None else None,
                money_cell(m.balance),
            ]
        )
    sheet.append(
        [
            None,
            None,
            None,
            text_cell("Totals", strong=True),
            money_cell(statement.total_debits),
            money_cell(statement.total_credits),
            None,
        ]
    )
    sheet.append(
        [
            None,
            None,
            None,
            text_cell("Closing balance", strong=True),
            None,
            None,
            money_cell(statement.closing_balance),
        ]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def check_pdf_size(statement: Statement) -> None:
    limit = pdf_max_movements()
    if statement.movement_count > limit:
        raise StatementTooLong(
            f"This period has {statement.movement_count:,} movements; a PDF statement holds at most "
            f"{limit:,}. Choose a shorter period, or download CSV or Excel.",
            field="format",
        )


def render_pdf(statement: Statement) -> bytes:
    """A printable A4 PDF (reportlab, `ledger/statement_pdf.py`): thousands of rows a second."""
    from .statement_pdf import render  # noqa: PLC0415 - reportlab is heavy; only PDF downloads need it

    check_pdf_size(statement)
    return render(statement)


EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pdf": ("application/pdf", "pdf"),
}


def statement_http_response(statement: Statement, fmt: str):
    """A download response for `fmt` (csv streams; xlsx and pdf are built in memory).

    Raises StatementTooLong (a 400) before any work when a PDF would be too long."""
    if fmt == "pdf":
        check_pdf_size(statement)
    content_type, extension = EXPORT_FORMATS[fmt]
    response: HttpResponse | StreamingHttpResponse
    if fmt == "csv":
        response = StreamingHttpResponse(csv_rows(statement), content_type=content_type)
    elif fmt == "xlsx":
        response = HttpResponse(render_xlsx(statement), content_type=content_type)
    else:
        response = HttpResponse(render_pdf(statement), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{statement.filename_stem}.{extension}"'
    return response


def export_detail(statement: Statement, fmt: str) -> dict:
    """What an EXPORT audit row records about a statement download."""
    return {
        "what": "account_statement",
        "format": fmt,
        "account": statement.account.account_number,
        "account_id": str(statement.account.pk),
        "from": statement.date_from.isoformat(),
        "to": statement.date_to.isoformat(),
        "movements": statement.movement_count,
    }
