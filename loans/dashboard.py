"""The loans widgets of the admin dashboard (registered from LoansConfig.ready())."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from cooperative import dashboard
from cooperative.money import format_amount
from cooperative.permissions import scope_queryset

from .models import Loan, LoanSchedule
from .reports import par

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
            "count": format_amount(loan.principal),
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
            "count": format_amount(row.total_amount - row.paid_amount),
        }
        for row in rows.order_by("due_date", "loan__loan_number")[:MAX_ITEMS]
    ]
    return {"items": items, "empty": "Nothing due this week."}


def par30(request) -> dict:
    """Portfolio at risk (more than 30 days past due) of my branches, from loans.reports.par."""
    items = []
    for days in (30,):
        ratio = par(user=request.user, days=days)
        if ratio is not None:
            items.append({"label": f"PAR{days}: share of the portfolio at risk", "count": f"{ratio}%"})
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
