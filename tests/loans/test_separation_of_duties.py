"""Separation of duties, a branch setting on by default (Branch.separate_approve_and_disburse): the
loan's approver cannot disburse it, and a write-off's approver cannot post a recovery on the loan the
same day. Refused by the services, so on every route: the loan page, the API, the approvals page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.selectors import pending_request_for
from approvals.services import decide_approval
from cooperative.models import Branch
from loans import services
from loans.exceptions import SeparationOfDuties
from loans.models import Loan
from tests.approvals.factories import make_policy
from tests.loans.factories import make_loan, write_off
from tests.loans.test_admin import action_url, grant

pytestmark = pytest.mark.django_db
REFUSAL = "another colleague must disburse it (separation of duties, branch setting)"


@pytest.fixture
def approved(officer, manager, product, borrower):
    return make_loan(member=borrower, product=product, officer=officer, manager=manager, status="APPROVED")


def test_a_new_branch_separates_approving_from_disbursing(branch):
    assert Branch._meta.get_field("separate_approve_and_disburse").default is True
    assert branch.separate_approve_and_disburse is True


def test_the_approver_cannot_disburse_from_the_loan_page(client, manager, manager2, approved):
    client.force_login(manager)
    refused = client.post(action_url(approved, "disburse"), {})

    assert refused.status_code == 403
    assert f"You approved loan {approved.loan_number}; {REFUSAL}" in refused.content.decode()
    assert Loan.objects.get(pk=approved.pk).status == Loan.Status.APPROVED

    client.force_login(manager2)
    assert client.post(action_url(approved, "disburse"), {}).status_code == 302
    assert Loan.objects.get(pk=approved.pk).disbursed_by == manager2


def test_the_approver_cannot_disburse_through_the_api(api_as, manager, manager2, approved):
    refused = api_as(manager).post(f"/api/v1/loans/{approved.pk}/disburse/", {}, format="json")

    assert refused.status_code == 403
    assert REFUSAL in str(refused.json())
    assert (
        api_as(manager2).post(f"/api/v1/loans/{approved.pk}/disburse/", {}, format="json").status_code == 200
    )


def test_the_approver_cannot_decide_the_disbursement_request_either(manager, manager2, approved):
    make_policy([(["MANAGER"], 1)], action_type="loan_disbursement")
    services.disburse_loan(actor=manager2, loan_id=approved.pk)
    request = pending_request_for(subject=approved, action_type="loan_disbursement")

    with pytest.raises(SeparationOfDuties):
        decide_approval(request_id=request.pk, actor=manager, decision="APPROVED")
    assert Loan.objects.get(pk=approved.pk).status == Loan.Status.APPROVED


def test_with_the_setting_off_the_approver_may_disburse(client, manager, approved, branch):
    branch.separate_approve_and_disburse = False
    branch.save()
    client.force_login(manager)

    assert client.post(action_url(approved, "disburse"), {}).status_code == 302
    assert Loan.objects.get(pk=approved.pk).disbursed_by == manager


def test_the_write_off_approver_cannot_post_its_recovery_the_same_day(
    client, officer, manager, manager2, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    write_off(loan, requester=manager, approver=manager2)
    manager, manager2 = grant(manager, "record_repayment"), grant(manager2, "record_repayment")

    client.force_login(manager2)
    refused = client.post(action_url(loan, "recovery"), {"amount": "1000", "source": "BANK"})
    assert refused.status_code == 403
    assert "another colleague must post its recovery (separation of duties, branch setting)" in (
        refused.content.decode()
    )
    with pytest.raises(SeparationOfDuties):
        services.recover_from_guarantors(actor=manager2, loan_id=loan.pk)

    client.force_login(manager)
    assert client.post(action_url(loan, "recovery"), {"amount": "1000", "source": "BANK"}).status_code == 302


def test_the_setting_is_edited_on_the_branch_page(client, admin_user, branch):
    client.force_login(admin_user)
    page = client.get(reverse("admin:cooperative_branch_change", args=[branch.pk]))
    assert "separate_approve_and_disburse" in page.content.decode()
