"""Loan portfolio reports for the API and the admin: find L2's `report_*` selectors in
`loans.reports`, call them with the dates each accepts, and answer JSON or a CSV/XLSX download
(rendered by `loans.reports.render_csv` / `render_xlsx`, which escape formula-like text).

Dates: a period report (date_from/date_to) defaults to 1 January of the end date's year through
today; a point-in-time report (`as_of`) gets the end date when one is given, else its own default.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.http import HttpResponse
from django.utils import timezone

from cooperative.money import format_amount
from loans import reports

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


def available_reports() -> dict[str, ReportSpec]:
    """Every `report_<name>` function of loans.reports, by <name>, titled by its docstring."""
    specs = {}
    for attr, function in sorted(vars(reports).items()):
        if attr.startswith("report_") and inspect.isfunction(function):
            name = attr.removeprefix("report_")
            doc = (inspect.getdoc(function) or "").strip().splitlines()
            title = doc[0].rstrip(".") if doc else name.replace("_", " ").capitalize()
            specs[name] = ReportSpec(name=name, title=title, function=function)
    return specs


def run_report(name: str, *, user, date_from: date | None = None, date_to: date | None = None):
    """The `loans.reports.Report` named `name` for `user` (raises DomainError on bad dates/permission)."""
    function = available_reports()[name].function
    parameters = inspect.signature(function).parameters
    kwargs = {"user": user}
    end = date_to or timezone.localdate()
    if "date_to" in parameters:
        kwargs["date_to"] = end
    if "date_from" in parameters:
        kwargs["date_from"] = date_from or end.replace(month=1, day=1)
    if "as_of" in parameters and date_to is not None:
        kwargs["as_of"] = date_to
    report = function(**kwargs)
    report.period = (kwargs.get("date_from"), kwargs.get("date_to") or kwargs.get("as_of"))
    report.report_name = name  # the URL name (the Report's own name may be spelled differently)
    return report


def _json_value(value):
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, str)):
        return value
    return str(value)


def report_json(report) -> dict:
    """Columns (key, label, kind) and rows keyed by column; numbers and amounts as strings."""
    keys = [c.key for c in report.columns]
    return {
        "report": report.report_name,
        "title": report.title,
        "subtitle": report.subtitle,
        "scope": report.scope,
        "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in report.columns],
        "rows": [{k: _json_value(row.get(k)) for k in keys} for row in report.rows],
        "totals": {k: _json_value(report.totals.get(k)) for k in keys} if report.totals else None,
    }


def display_rows(report) -> list[list[str]]:
    """Rows (and the totals row) as display strings, for the admin page."""

    def text(column, value) -> str:
        if value is None:
            return ""
        if column.kind == "money":
            return format_amount(value)
        if column.kind == "percent":
            return f"{value}%"
        return str(value)

    rows = [*report.rows, *([report.totals] if report.totals else [])]
    return [[text(c, row.get(c.key)) for c in report.columns] for row in rows]


def export_response(report, fmt: str) -> HttpResponse:
    body = reports.render_csv(report) if fmt == "csv" else reports.render_xlsx(report)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{report.filename_stem}.{fmt}"'
    return response


def export_detail(report, fmt: str) -> dict:
    """What an EXPORT audit row records about a report download."""
    start, end = getattr(report, "period", (None, None))
    return {
        "what": "loan_report",
        "report": report.report_name,
        "format": fmt,
        "from": start.isoformat() if start else "",
        "to": end.isoformat() if end else "",
        "rows": len(report.rows),
    }
