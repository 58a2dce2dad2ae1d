"""The loans widgets of the admin dashboard (registered from LoansConfig.ready())."""

from __future__ import annotations

import inspect
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from cooperative import dashboard
from cooperative.permissions import scope_queryset

from .models import Loan, LoanSchedule

LIST_TEMPLATE = "cooperative/widgets/list.html"
MAX_ITEMS = 8


def _change_url(loan_id) -> str:
    return reverse("admin:loans_loan_change", args=[loan_id])


def my_pending_applications(request) -> dict:
    """Loans I created that are still DRAFT or SUBMITTED."""
    loans = (
        Loan.objects.filter(created_by=request.user, status__in=(Loan.Status.DRAFT, Loan.Status.SUBMITTED))
        .select_related("member")
        .order_by("-created_at")[:MAX_ITEMS]
    )
    items = [
        {
            "label": f"{loan.loan_number} {loan.member.first_name} {loan.member.last_name} "
            f"– {loan.get_status_display().lower()}",
            "url": _change_url(loan.pk),
            "count": f"{loan.principal:,.2f}",
        }
        for loan in loans
    ]
    return {"items": items, "empty": "No applications waiting."}


def loans_due_this_week(request) -> dict:
    """Unpaid installments of active loans in my branches due in the next seven days."""
    today = timezone.localdate()
    rows = scope_queryset(
        LoanSchedule.objects.filter(
            is_paid=False,
            due_date__gte=today,
            due_date__lte=today + timedelta(days=7),
            loan__status=Loan.Status.DISBURSED,
        ),
        request.user,
    ).select_related("loan", "loan__member")
    items = [
        {
            "label": f"{row.due_date:%a %d %b}: {row.loan.loan_number} {row.loan.member.first_name} "
            f"{row.loan.member.last_name}",
            "url": _change_url(row.loan_id),
            "count": f"{row.total_amount - row.paid_amount:,.2f}",
        }
        for row in rows.order_by("due_date", "loan__loan_number")[:MAX_ITEMS]
    ]
    return {"items": items, "empty": "Nothing due this week."}


def par30(request) -> dict:
    """Portfolio at risk (30+ days) from loans.reports.par, branch scoped by the user."""
    try:
        from loans.reports import par
    except ImportError:
        return {"items": [], "empty": "The portfolio report is not available yet."}
    result = par(user=request.user, days=30) if "user" in inspect.signature(par).parameters else par(days=30)
    items = []
    if isinstance(result, dict):
        for key in ("ratio", "percent", "par_percent", "at_risk", "outstanding", "loans_at_risk"):
            if key in result and result[key] is not None:
                value = result[key]
                label = key.replace("_", " ").capitalize()
                items.append(
                    {"label": label, "count": f"{value:,.2f}" if hasattr(value, "quantize") else value}
                )
    else:
        for key in ("ratio", "percent", "at_risk", "outstanding", "loan_count"):
            value = getattr(result, key, None)
            if value is not None:
                label = key.replace("_", " ").capitalize()
                items.append(
                    {"label": label, "count": f"{value:,.2f}" if hasattr(value, "quantize") else value}
                )
    if request.user.has_perm("loans.view_loan_reports"):
        items.append({"label": "Loan portfolio reports", "url": reverse("admin:loans_loan_reports")})
    return {"items": items, "empty": "No active loans."}


def register_dashboard_widgets() -> None:
    dashboard.register(
        title="My pending applications",
        template=LIST_TEMPLATE,
        context=my_pending_applications,
        order=30,
        permission="loans.add_loan",
    )
    dashboard.register(
        title="Loans due this week",
        template=LIST_TEMPLATE,
        context=loans_due_this_week,
        order=31,
        permission="loans.view_loan",
    )
    dashboard.register(
        title="PAR30", template=LIST_TEMPLATE, context=par30, order=32, permission="loans.view_loan_reports"
    )
