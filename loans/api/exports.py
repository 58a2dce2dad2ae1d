"""Loan portfolio reports as tables and downloads (CSV / XLSX), for the API and the admin.

The figures come from `loans.reports` (the `report_*` selectors, branch scoped by `user`). This
module only finds them, calls them with the arguments each accepts, and turns what they return
(a list of dicts or dataclasses, or an object with `columns` and `rows`) into a `Table`.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import inspect
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.http import HttpResponse
from django.utils import timezone

from ledger.statements import escape_cell

REPORT_FORMATS = ("json", "csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class ReportSpec:
    name: str
    title: str
    function: Callable


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list]
    date_from: date | None = None
    date_to: date | None = None

    @property
    def filename_stem(self) -> str:
        period = "-".join(d.isoformat() for d in (self.date_from, self.date_to) if d)
        return f"loans-{self.name.replace('_', '-')}{'-' + period if period else ''}"


def available_reports() -> dict[str, ReportSpec]:
    """Every `report_<name>` function of loans.reports, by <name> (empty while it does not exist)."""
    try:
        module = importlib.import_module("loans.reports")
    except ModuleNotFoundError:
        return {}
    specs = {}
    for attr, function in sorted(vars(module).items()):
        if attr.startswith("report_") and inspect.isfunction(function):
            name = attr.removeprefix("report_")
            doc = (inspect.getdoc(function) or "").strip().splitlines()
            title = doc[0].rstrip(".") if doc else name.replace("_", " ").capitalize()
            specs[name] = ReportSpec(name=name, title=title, function=function)
    return specs


def _call(function: Callable, *, user, date_from: date | None, date_to: date | None):
    """Call a report with the keyword arguments it declares (as_of/date/on = the end date)."""
    as_of = date_to or timezone.localdate()
    offered = {
        "user": user,
        "date_from": date_from,
        "date_to": as_of,
        "start": date_from,
        "end": as_of,
        "as_of": as_of,
        "date": as_of,
        "on": as_of,
    }
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        wanted = {"user", "date_from", "date_to"} | set(parameters)
    else:
        wanted = set(parameters)
    kwargs = {}
    for key in wanted & set(offered):
        value = offered[key]
        declared = parameters.get(key)
        if value is None and declared is not None and declared.default is not inspect.Parameter.empty:
            continue  # let the report use its own default
        kwargs[key] = value
    return function(**kwargs)


def _as_row_dicts(result) -> tuple[list[str], list[list]]:
    if hasattr(result, "columns") and hasattr(result, "rows"):
        columns = [str(c) for c in result.columns]
        rows = [list(r.values()) if isinstance(r, dict) else list(r) for r in result.rows]
        return columns, rows
    if isinstance(result, dict):
        result = [result]
    items = list(result)
    if not items:
        return [], []
    dicts = [dataclasses.asdict(i) if dataclasses.is_dataclass(i) else dict(i) for i in items]
    columns = list(dicts[0])
    return columns, [[d.get(c) for c in columns] for d in dicts]


def run_report(name: str, *, user, date_from: date | None = None, date_to: date | None = None) -> Table:
    spec = available_reports()[name]
    columns, rows = _as_row_dicts(_call(spec.function, user=user, date_from=date_from, date_to=date_to))
    return Table(
        name=name, title=spec.title, columns=columns, rows=rows, date_from=date_from, date_to=date_to
    )


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return escape_cell(value)


def render_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([escape_cell(c) for c in table.columns])
    for row in table.rows:
        writer.writerow([_text(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def render_xlsx(table: Table) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(table.title[:31] or "Report")
    bold = Font(bold=True)

    def cell(value):
        if isinstance(value, (Decimal, int, float)) and not isinstance(value, bool):
            c = WriteOnlyCell(sheet, value=value)
            if isinstance(value, Decimal):
                c.number_format = "#,##0.00"
            return c
        if isinstance(value, date):
            c = WriteOnlyCell(sheet, value=value)
            c.number_format = "yyyy-mm-dd"
            return c
        return WriteOnlyCell(sheet, value=_text(value))

    heading = [WriteOnlyCell(sheet, value=escape_cell(c)) for c in table.columns]
    for c in heading:
        c.font = bold
    sheet.append(heading)
    for row in table.rows:
        sheet.append([cell(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_response(table: Table, fmt: str) -> HttpResponse:
    body = render_csv(table) if fmt == "csv" else render_xlsx(table)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{table.filename_stem}.{fmt}"'
    return response


def export_detail(table: Table, fmt: str) -> dict:
    """What an EXPORT audit row records about a report download."""
    return {
        "what": "loan_report",
        "report": table.name,
        "format": fmt,
        "from": table.date_from.isoformat() if table.date_from else "",
        "to": table.date_to.isoformat() if table.date_to else "",
        "rows": len(table.rows),
    }
