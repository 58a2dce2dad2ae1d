"""A write-off asks for, and its approver reads, the amount actually written off (the principal still
outstanding after the repayments made), with the write-off facts instead of the eligibility checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from approvals.selectors import pending_request_for
from loans import services
from loans.selectors import principal_outstanding
from tests.loans.factories import make_loan, make_member

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def repaid_loan(officer, manager, teller, product, branch):
    """A ₦299,000 loan with its first two installments repaid, guaranteed by a member."""
    borrower = make_member(branch, savings="400000.00", first_name="Ifeoma")
    guarantor = make_member(branch, savings="150000.00", first_name="Tunde")
    loan = make_loan(
        member=borrower,
        product=product,
        officer=officer,
        manager=manager,
        principal="299000",
        guarantors=[(guarantor, "100000")],
    )
    for number in (1, 2):
        row = loan.schedule.get(installment_number=number)
        services.record_repayment(actor=teller, loan_id=loan.pk, amount=row.total_amount, source="CASH")
    return loan


def test_the_write_off_asks_for_the_principal_still_outstanding(client, manager, manager2, repaid_loan):
    outstanding = principal_outstanding(loan=repaid_loan)
    assert D("0") < outstanding < D("299000.00")
    client.force_login(manager)
    url = reverse("admin:loans_loan_write_off", args=[repaid_loan.pk])

    # the form says what will be written off
    form = client.get(url).content.decode()
    assert 'id="loans-write-off"' in form
    assert f"{outstanding:,.2f}" in form

    client.post(url, {"reason": "Member relocated"})

    request = pending_request_for(subject=repaid_loan, action_type="write_off")
    assert request.amount == outstanding
    assert D(request.metadata["principal_outstanding"]) == outstanding

    # the decision page shows the write-off facts, not the application's eligibility checks
    client.force_login(manager2)
    page = client.get(reverse("admin:approvals_approvalrequest_decide", args=[request.pk])).content.decode()
    assert f"₦{outstanding:,.2f}" in page
    assert "₦299,000.00" not in page.split('id="loans-summary-loan"')[0]  # the request's own amount
    assert 'id="loans-summary-write-off"' in page
    for fact in ("Days past due", "Interest due", "Fees due", "Penalties due", "Guarantors' holds"):
        assert fact in page, fact
    hold = repaid_loan.guarantors.get().hold.amount  # shrunk with the principal repaid
    assert D("0") < hold < D("100000.00")
    assert f"₦{hold:,.2f}" in page.split('id="loans-summary-write-off"')[1].split("</table>")[0]
    assert "Recovered so far" in page
    assert "Eligibility checks" not in page
    assert 'id="loans-summary-checks"' not in page


def test_a_loan_approval_still_shows_the_eligibility_checks(client, manager, officer, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status="SUBMITTED")
    request = pending_request_for(subject=loan, action_type="loan_approval")
    client.force_login(manager)
    page = client.get(reverse("admin:approvals_approvalrequest_decide", args=[request.pk])).content.decode()
    assert 'id="loans-summary-checks"' in page
    assert 'id="loans-summary-write-off"' not in page
