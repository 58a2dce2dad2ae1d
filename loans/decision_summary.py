"""What an approver reads before deciding a loan request (the approvals decision page's summary).

One bounded set of queries whatever the member's history: the loan with its member, branch and
product; the member's savings and shares; their other loans with repayment history aggregated in
SQL (on time / late / overdue counts per loan); the guarantors with their free savings; the
schedule preview (the stored schedule once disbursed); the eligibility checks, each pass or fail.
A write-off request shows the write-off facts instead of the eligibility checks: the amount written
off, the outstanding by component, days past due, the guarantors' holds and the recoveries so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from cooperative.money import format_naira
from ledger.models import Account, AccountType

from .models import Guarantor, Loan, LoanSchedule
from .schedule import ScheduleError, build_schedule
from .selectors import (
    check_eligibility,
    loan_schedule_terms,
    member_balances,
    pending_pledges,
    required_coverage,
    write_off_figures,
)
from .services.decisions import WRITE_OFF

ZERO = Decimal("0.00")
PREVIEW_ROWS = 3


@dataclass(frozen=True)
class Check:
    label: str
    passed: bool
    detail: str


def _history(member_id, exclude_loan_id) -> list[dict]:
    """The member's other loans and how they were repaid (one query for the loans, one for the rows)."""
    today = timezone.localdate()
    loans = list(
        Loan.objects.filter(member_id=member_id)
        .exclude(pk=exclude_loan_id)
        .exclude(status__in=[Loan.Status.DRAFT, Loan.Status.WITHDRAWN])
        .select_related("product")
        .order_by("-created_at")
    )
    rows = {
        r["loan_id"]: r
        for r in LoanSchedule.objects.filter(loan_id__in=[loan.pk for loan in loans])
        .values("loan_id")
        .annotate(
            installments=Count("pk"),
            due=Count("pk", filter=Q(due_date__lte=today)),
            on_time=Count("pk", filter=Q(is_paid=True, paid_on__lte=F("due_date"))),
            late=Count("pk", filter=Q(is_paid=True, paid_on__gt=F("due_date"))),
            overdue=Count("pk", filter=Q(is_paid=False, due_date__lt=today)),
            principal_outstanding=Sum(F("principal_amount") - F("principal_paid")),
        )
    }
    history = []
    for loan in loans:
        found = rows.get(loan.pk, {})
        history.append(
            {
                "loan": loan,
                "installments": found.get("installments", 0),
                "due": found.get("due", 0),
                "on_time": found.get("on_time", 0),
                "late": found.get("late", 0),
                "overdue": found.get("overdue", 0),
                "principal_outstanding": found.get("principal_outstanding") or ZERO,
            }
        )
    return history


def _guarantors(loan: Loan) -> list[dict]:
    guarantees = list(
        loan.guarantors.exclude(status=Guarantor.Status.WITHDRAWN).select_related("member", "hold")
    )
    savings = {
        a.member_id: a
        for a in Account.objects.filter(
            member_id__in=[g.member_id for g in guarantees], type=AccountType.SAVINGS
        ).exclude(status=Account.Status.CLOSED)
    }
    pledged_elsewhere = {
        row["member_id"]: row["total"]
        for row in Guarantor.objects.filter(
            member_id__in=[g.member_id for g in guarantees],
            status=Guarantor.Status.PLEDGED,
            loan__status__in=[Loan.Status.DRAFT, Loan.Status.SUBMITTED],
        )
        .exclude(loan=loan)
        .values("member_id")
        .annotate(total=Sum("pledged_amount"))
    }
    out = []
    for g in guarantees:
        account = savings.get(g.member_id)
        available = account.available_balance if account else ZERO
        free = available - pledged_elsewhere.get(g.member_id, ZERO)
        out.append(
            {
                "guarantor": g,
                "savings_balance": account.balance if account else ZERO,
                "available": available,
                "free": max(free, ZERO),
                "covers": g.status == Guarantor.Status.ACTIVE or g.pledged_amount <= free,
            }
        )
    return out


def _schedule(loan: Loan) -> dict:
    if loan.status in (Loan.Status.DISBURSED, Loan.Status.CLOSED, Loan.Status.WRITTEN_OFF):
        rows = list(loan.schedule.order_by("installment_number"))
        return {
            "stored": True,
            "rows": [
                {
                    "number": r.installment_number,
                    "due_date": r.due_date,
                    "principal": r.principal_amount,
                    "interest": r.interest_amount,
                    "total": r.total_amount,
                    "balance": r.principal_balance,
                }
                for r in rows[:PREVIEW_ROWS]
            ],
            "count": len(rows),
            "total_interest": sum((r.interest_amount for r in rows), ZERO),
            "total_repayment": sum((r.total_amount for r in rows), ZERO),
            "error": "",
        }
    try:
        schedule = build_schedule(
            loan_schedule_terms(
                loan=loan, disbursed_on=timezone.localdate(), first_due_on=loan.first_due_date
            )
        )
    except ScheduleError as exc:
        return {"stored": False, "rows": [], "count": 0, "error": str(exc)}
    return {
        "stored": False,
        "rows": [
            {
                "number": i.number,
                "due_date": i.due_date,
                "principal": i.principal,
                "interest": i.interest,
                "total": i.total,
                "balance": i.balance,
            }
            for i in schedule.installments[:PREVIEW_ROWS]
        ],
        "count": len(schedule.installments),
        "total_interest": schedule.total_interest,
        "total_repayment": schedule.total_repayment,
        "error": "",
    }


def _checks(loan: Loan, guarantors: list[dict]) -> list[Check]:
    product, member = loan.product, loan.member
    result = check_eligibility(
        member=member, product=product, principal=loan.principal, exclude_loan_id=loan.pk
    )
    checks = [
        Check("Member is active", member.status == "ACTIVE", member.get_status_display()),
        Check(
            "KYC verified",
            member.kyc_status == "VERIFIED",
            member.get_kyc_status_display(),
        ),
        Check(
            "Length of membership",
            result.membership_months >= product.min_membership_months,
            f"{result.membership_months} month(s); {product.name} needs {product.min_membership_months}",
        ),
    ]
    if result.ceiling is not None:
        basis = "savings and shares" if product.ceiling_includes_shares else "savings"
        checks.append(
            Check(
                "Within the savings ceiling",
                loan.principal <= result.ceiling,
                f"{format_naira(loan.principal)} against {format_naira(result.ceiling)} "
                f"({product.savings_multiple} × {basis})",
            )
        )
    checks.append(
        Check(
            "Active loans",
            result.active_loans < product.max_active_loans,
            f"{result.active_loans} other active loan(s); {product.name} allows {product.max_active_loans}",
        )
    )
    if product.required_guarantors or product.guarantor_coverage_percent:
        live = [
            g
            for g in guarantors
            if g["guarantor"].status in (Guarantor.Status.PLEDGED, Guarantor.Status.ACTIVE)
        ]
        pledged = sum((g["guarantor"].pledged_amount for g in live), ZERO)
        needed = required_coverage(loan=loan)
        checks.append(
            Check(
                "Guarantors",
                len(live) >= product.required_guarantors and pledged >= needed,
                f"{len(live)} of {product.required_guarantors} required; {format_naira(pledged)} pledged of "
                f"{format_naira(needed)} ({product.guarantor_coverage_percent}%)",
            )
        )
        checks.append(
            Check(
                "Guarantors' free savings cover their pledges",
                all(g["covers"] for g in live),
                ", ".join(
                    f"{g['guarantor'].member.member_number}: {format_naira(g['free'])} free" for g in live
                )
                or "none",
            )
        )
    return checks


def loan_decision_summary(*, request, user) -> dict:
    """The context of loans/approval_summary.html for an approval request about a loan."""
    loan = (
        Loan.objects.select_related("member__branch", "product", "branch", "created_by", "submitted_by")
        .filter(pk=request.object_id)
        .first()
    )
    if loan is None:
        return {"template": "loans/approval_summary.html", "loan": None}
    savings, shares = member_balances(member=loan.member)
    guarantors = _guarantors(loan)
    history = _history(loan.member_id, loan.pk)
    write_off = write_off_figures(loan=loan) if request.action_type == WRITE_OFF else None
    return {
        "template": "loans/approval_summary.html",
        "loan": loan,
        "member": loan.member,
        "action_type": request.action_type,
        "savings": savings,
        "shares": shares,
        "pending_pledges": pending_pledges(member=loan.member, exclude_loan_id=loan.pk),
        "history": history,
        "history_on_time": sum(h["on_time"] for h in history),
        "history_late": sum(h["late"] for h in history),
        "history_overdue": sum(h["overdue"] for h in history),
        "arrears": sum((h["loan"].arrears_amount for h in history), ZERO),
        "guarantors": guarantors,
        "schedule": _schedule(loan),
        "write_off": write_off,
        "checks": [] if write_off is not None else _checks(loan, guarantors),
    }
