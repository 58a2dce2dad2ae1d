"""The large-cash report in the admin: a date range and a branch (of the user's own), the cash
movements at or above the reporting threshold, the possible structuring, and CSV / Excel downloads
of the same (each download is an EXPORT audit row).

Wired into the admin by the journal entries' `get_urls` (before the default patterns, whose
`<path:object_id>/` would take "large-cash/"):

    *large_cash_urls(self.admin_site),

which serves /admin/ledger/journalentry/large-cash/ as `admin:ledger_journalentry_large_cash`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from cooperative.audit import record_event
from cooperative.authz import user_authz
from cooperative.models import AuditLog, Branch
from cooperative.permissions import scope_queryset
from cooperative.roles import ACCOUNTANT, ADMIN, AUDITOR, MANAGER

from ..large_cash import EXPORT_FORMATS, export_detail, large_cash_report
from ..models import JournalEntry

VIEW_PERMISSION = "ledger.view_journalentry"
# Compliance reading, not counter work: tellers (who also hold view_journalentry) are not shown
# who is flagged. A custom permission would replace this role check (docs/large-cash.md).
REPORT_ROLES = frozenset({MANAGER, ACCOUNTANT, AUDITOR, ADMIN})
MAX_DAYS = 366
DEFAULT_DAYS = 30
DISPLAY_LIMIT = 500


def may_view_large_cash(user) -> bool:
    authz = user_authz(user)  # roles from the shared cache, before has_perm reads them
    if authz is None or not (user.is_active and user.has_perm(VIEW_PERMISSION)):
        return False
    return user.is_superuser or bool(REPORT_ROLES & authz.group_names)


class LargeCashForm(forms.Form):
    """The report's filters (GET). Branches are only the user's own: another branch's id is a
    form error, never that branch's rows."""

    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    branch: forms.ModelChoiceField[Branch] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="All your branches"
    )
    format = forms.ChoiceField(choices=[("", "page"), *((f, f) for f in EXPORT_FORMATS)], required=False)

    def __init__(self, *args, branches, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["branch"]).queryset = branches

    @staticmethod
    def defaults() -> dict:
        today = timezone.localdate()
        return {"date_from": (today - timedelta(days=DEFAULT_DAYS)).isoformat(), "date_to": today.isoformat()}

    def clean(self):
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", "The end date is before the start date.")
            elif (end - start).days >= MAX_DAYS:
                self.add_error("date_to", f"Choose at most {MAX_DAYS} days.")
        return cleaned


def large_cash_view(request, *, admin_site):
    if not may_view_large_cash(request.user):
        raise PermissionDenied
    branches = scope_queryset(Branch.objects.order_by("code"), request.user)
    data = request.GET.copy()
    for key, value in LargeCashForm.defaults().items():
        data.setdefault(key, value)
    form = LargeCashForm(data, branches=branches)
    report = None
    if form.is_valid():
        cleaned = form.cleaned_data
        branch = cleaned["branch"]
        report = large_cash_report(
            user=request.user, date_from=cleaned["date_from"], date_to=cleaned["date_to"], branch=branch
        )
        fmt = cleaned["format"]
        if fmt:
            content_type, render = EXPORT_FORMATS[fmt]
            response = HttpResponse(render(report), content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="{report.filename_stem}.{fmt}"'
            detail = export_detail(report, fmt, branch_id=branch.pk if branch else None)
            record_event(AuditLog.Event.EXPORT, request=request, detail=detail)
            return response
    downloads = {}
    if report is not None:
        for fmt in EXPORT_FORMATS:
            params = data.copy()
            params["format"] = fmt
            downloads[fmt] = "?" + params.urlencode()
    context = {
        **admin_site.each_context(request),
        "opts": JournalEntry._meta,
        "title": "Large cash report",
        "form": form,
        "report": report,
        "shown": report.movements[:DISPLAY_LIMIT] if report else [],
        "display_limit": DISPLAY_LIMIT,
        "downloads": downloads,
    }
    return TemplateResponse(request, "admin/ledger/large_cash.html", context)


def large_cash_urls(admin_site) -> list:
    """The report's URL patterns, for the journal entries' `get_urls` (or any admin URL prefix)."""

    def view(request):
        return large_cash_view(request, admin_site=admin_site)

    return [path("large-cash/", admin_site.admin_view(view), name="ledger_journalentry_large_cash")]
