"""`seed_demo` gives the loans app two products and a loan in every state, overdue ones included."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import call_command

from cooperative import demo
from cooperative.models import User
from loans import demo as loans_demo
from loans.models import Loan, LoanProduct, LoanSchedule


def demo_staff(role: str) -> User:
    from cooperative.management.commands.seed_demo import DEMO_STAFF

    return User.objects.get(email=next(email for email, _f, _l, r, _s in DEMO_STAFF if r == role))


pytestmark = pytest.mark.django_db


def test_loans_seeder_runs_after_the_ledger_seeder():
    names = [f"{fn.__module__}" for fn in demo.seeders()]
    assert names.index("loans.demo") > names.index("ledger.demo")


def test_seed_demo_has_loans_in_every_state_and_the_books_balance():
    # when the demo is seeded twice
    call_command("seed_demo", password="demo-password-123", stdout=io.StringIO())
    first = Loan.objects.count()
    out = io.StringIO()
    call_command("seed_demo", password="demo-password-123", stdout=out)
    # then every state is there once, nothing was added the second time
    assert set(Loan.objects.values_list("status", flat=True)) == set(Loan.Status.values)
    assert Loan.objects.count() == first
    assert "Loans demo: nothing to add." in out.getvalue()
    assert set(LoanProduct.objects.values_list("name", flat=True)) >= {
        loans_demo.STANDARD,
        loans_demo.EMERGENCY,
    }
    standard = LoanProduct.objects.get(name=loans_demo.STANDARD)
    assert (standard.savings_multiple, standard.required_guarantors, standard.guarantor_coverage_percent) == (
        2,
        1,
        50,
    )
    assert LoanProduct.objects.get(name=loans_demo.EMERGENCY).calculation_method == "flat_rate"
    # and some active loans are overdue
    overdue = (
        LoanSchedule.objects.filter(
            loan__status=Loan.Status.DISBURSED, is_paid=False, due_date__lt=date.today()
        )
        .values("loan")
        .distinct()
    )
    assert overdue.count() >= 2
    # and the ledger verifies
    verified = io.StringIO()
    call_command("verify_ledger", stdout=verified)
    assert "Ledger OK" in verified.getvalue()


def test_seed_demo_classifies_the_overdue_loans_so_the_dashboard_shows_arrears():
    # given the demo (it runs end of day for today after creating the loans)
    call_command("seed_demo", password="demo-password-123", stdout=io.StringIO())
    # then overdue active loans carry days past due and an arrears bucket
    overdue = Loan.objects.filter(status=Loan.Status.DISBURSED, days_past_due__gt=0)
    assert overdue.exists()
    assert all(loan.arrears_bucket is not None for loan in overdue)
    # and the PAR30 widget on the dashboard is no longer zero
    from loans.reports import par

    manager = demo_staff("MANAGER")
    assert par(user=manager, days=30) > 0


def test_seed_demo_leaves_two_loan_applications_in_the_managers_approvals():
    from decimal import Decimal

    from approvals.models import Approval
    from approvals.selectors import requests_awaiting

    # given the demo
    call_command("seed_demo", password="demo-password-123", stdout=io.StringIO())
    manager, officer = demo_staff("MANAGER"), demo_staff("LOAN_OFFICER")
    # then the demo manager's queue holds the officer's two applications, a small and a large one
    waiting = [r for r in requests_awaiting(manager) if r.action_type == "loan_approval"]
    amounts = sorted(r.amount for r in waiting)
    assert len(waiting) == 2
    assert amounts[0] <= Decimal("500000")
    assert Decimal("500000") < amounts[1] <= Decimal("5000000")
    assert {r.requested_by for r in waiting} == {officer}
    large = next(r for r in waiting if r.amount == amounts[1])
    assert [level["roles"] for level in large.levels] == [["MANAGER"], ["CREDIT_COMMITTEE"]]
    assert all(Loan.objects.get(pk=r.object_id).status == Loan.Status.SUBMITTED for r in waiting)
    # and the written-off loan was asked for by one manager and approved by the other
    written_off = Loan.objects.get(status=Loan.Status.WRITTEN_OFF)
    approval = Approval.objects.get(request__object_id=str(written_off.pk), request__action_type="write_off")
    assert approval.request.requested_by == manager
    assert approval.approver != manager
    assert written_off.events.filter(action="written_off", actor=approval.approver).exists()
