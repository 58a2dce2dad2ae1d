"""What is typed in a comment or reason box of a loan page is kept: on the loan's timeline and on the
decision page where the approver reads it (submit, approve, reject, withdraw, write-off, cancel,
repayment reversal), and on the ledger's reversal and closure pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.models import ApprovalRequest
from approvals.selectors import pending_request_for
from ledger.models import AccountType, Transaction
from loans.models import Loan, LoanEvent, LoanPayment
from tests.ledger.factories import make_account
from tests.ledger.factories import make_member as make_ledger_member
from tests.loans.factories import make_loan
from tests.loans.test_admin import action_url, token_from

pytestmark = pytest.mark.django_db


@pytest.fixture
def login(client):
    return lambda user: client.force_login(user) or client


def decide_page(client, request: ApprovalRequest) -> str:
    page = client.get(reverse("admin:approvals_approvalrequest_decide", args=[request.pk]))
    assert page.status_code == 200
    return page.content.decode()


def assert_reason_given(client, request: ApprovalRequest, text: str) -> None:
    """The approver reads `text` under "Reason given" on the request's decision page."""
    html = decide_page(client, request)
    assert f"<th>Reason given</th><td>{text}" in html


def on_timeline(loan, text: str) -> bool:
    return any(
        text in comment for comment in LoanEvent.objects.filter(loan=loan).values_list("comment", flat=True)
    )


def latest_request(loan, action_type: str) -> ApprovalRequest:
    return ApprovalRequest.objects.filter(object_id=str(loan.pk), action_type=action_type).latest(
        "created_at"
    )


def test_the_submit_comment_reaches_the_timeline_and_the_approvers_reason(
    login, officer, manager, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)

    response = login(officer).post(action_url(loan, "submit"), {"comment": "Saver for six years"})

    assert response.status_code == 302
    assert on_timeline(loan, "Saver for six years")
    request = pending_request_for(subject=loan, action_type="loan_approval")
    assert request.reason == "Stock\nSaver for six years"
    assert_reason_given(login(manager), request, "Stock<br>Saver for six years")


def test_the_api_submit_comment_is_kept_too(api_as, officer, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)

    response = api_as(officer).post(
        f"/api/v1/loans/{loan.pk}/submit/", {"comment": "Payslip seen"}, format="json"
    )

    assert response.status_code in (200, 202)
    assert on_timeline(loan, "Payslip seen")
    assert pending_request_for(subject=loan, action_type="loan_approval").reason == "Stock\nPayslip seen"


def test_the_approve_comment_is_on_the_timeline_and_the_decision(login, officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    request = pending_request_for(subject=loan, action_type="loan_approval")

    client = login(manager)
    assert client.post(action_url(loan, "approve"), {"comment": "Good repayment record"}).status_code == 302

    assert on_timeline(loan, "Good repayment record")
    assert "Good repayment record" in decide_page(client, request)


def test_the_reject_reason_is_on_the_timeline_and_the_decision(login, officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    request = pending_request_for(subject=loan, action_type="loan_approval")

    client = login(manager)
    assert client.post(action_url(loan, "reject"), {"reason": "Income not verified"}).status_code == 302

    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.REJECTED
    assert on_timeline(loan, "Income not verified")
    assert "Income not verified" in decide_page(client, request)


def test_the_withdraw_reason_is_on_the_timeline_and_closes_the_request(
    login, officer, manager, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    request = pending_request_for(subject=loan, action_type="loan_approval")

    client = login(officer)
    assert client.post(action_url(loan, "withdraw"), {"reason": "Found cheaper credit"}).status_code == 302

    assert on_timeline(loan, "Found cheaper credit")
    request.refresh_from_db()
    assert "Found cheaper credit" in request.close_reason
    assert "Found cheaper credit" in decide_page(login(manager), request)


def test_the_write_off_reason_reaches_the_timeline_and_the_approvers_reason(
    login, officer, manager, manager2, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)

    assert (
        login(manager).post(action_url(loan, "write_off"), {"reason": "Member relocated"}).status_code == 302
    )

    assert on_timeline(loan, "Member relocated")
    request = pending_request_for(subject=loan, action_type="write_off")
    assert request.reason == "Member relocated"
    assert_reason_given(login(manager2), request, "Member relocated")


def test_the_cancel_reason_is_on_the_timeline_and_the_request(
    login, officer, manager, manager2, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    client = login(manager)
    client.post(action_url(loan, "write_off"), {"reason": "Member relocated"})
    request = pending_request_for(subject=loan, action_type="write_off")

    cancel = reverse("admin:approvals_approvalrequest_cancel", args=[request.pk])
    assert client.post(cancel, {"reason": "He came back and pays"}).status_code == 302

    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.CANCELLED
    assert request.close_reason == "He came back and pays"
    assert on_timeline(loan, "He came back and pays")
    assert "He came back and pays" in decide_page(login(manager2), request)


def test_the_repayment_reversal_reason_is_on_the_timeline(
    login, officer, manager, teller, accountant, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    client = login(teller)
    amount = str(loan.schedule.get(installment_number=1).total_amount)
    token = token_from(client.post(action_url(loan, "repayment"), {"amount": amount, "source": "CASH"}))
    client.post(action_url(loan, "repayment"), {"confirmation_token": token})
    payment = LoanPayment.objects.get(loan=loan)

    url = reverse("admin:loans_loan_reverse_payment", args=[loan.pk, payment.pk])
    assert login(accountant).post(url, {"reason": "Counterfeit notes"}).status_code == 302

    assert on_timeline(loan, "Counterfeit notes")


# --- the ledger's pages with a reason box (ledger/admin: journal reversal, account closure) ---------


def test_the_journal_reversal_reason_is_what_the_approver_reads(login, accountant, manager, branch):
    account = make_account(branch, balance="2500.00")
    entry = Transaction.objects.get(account=account).entry

    url = reverse("admin:ledger_journalentry_reverse", args=[entry.pk])
    assert login(accountant).post(url, {"reason": "Posted to the wrong member"}).status_code == 302

    request = ApprovalRequest.objects.get(action_type="reversal", object_id=str(entry.pk))
    assert request.reason == "Posted to the wrong member"
    assert_reason_given(login(manager), request, "Posted to the wrong member")


def test_the_account_closure_reason_is_what_the_approver_reads(login, manager, manager2, branch):
    member = make_ledger_member(branch)
    funded = make_account(branch, member=member, account_type=AccountType.SHARES, balance="1500.00")
    savings = make_account(branch, member=member, balance="100.00")

    login(manager).post(
        reverse("admin:ledger_account_changelist"),
        {
            "action": "close_selected",
            "_selected_action": [funded.pk],
            "apply": "yes",
            "reason": "Member moved to Abuja",
            "sweep_to_account_number": savings.account_number,
        },
    )

    request = ApprovalRequest.objects.get(action_type="account_closure", object_id=str(funded.pk))
    assert request.reason == "Member moved to Abuja"
    assert_reason_given(login(manager2), request, "Member moved to Abuja")
