"""Loan approvals in a real browser (issue 5): a teller takes and submits an application and cannot
approve it (no button; a forged POST is a 403); a manager finds it in My approvals and approves it
with a comment; the loan page shows APPROVED with both names on its timeline. Then a two-level
policy: the manager's approval leaves the loan at level 2, the manager cannot decide again, and two
members of the credit committee finish it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from approvals.models import ApprovalLevel, ApprovalPolicy, ApprovalRequest
from approvals.selectors import policies_changed
from loans.models import Loan
from tests.factories import DEFAULT_PASSWORD, BranchFactory, UserFactory
from tests.loans.factories import LoanProductFactory, make_loan, make_member


@pytest.fixture
def branch(transactional_db):
    return BranchFactory(code="MB001", name="Main Branch")


def staff(branch, role: str, email: str, first: str, last: str):
    return UserFactory(email=email, first_name=first, last_name=last, roles=[role], branches=[branch])


def sign_in(page, admin_login, user):
    page.context.clear_cookies()
    return admin_login(user.email, DEFAULT_PASSWORD)


def test_teller_applies_cannot_approve_and_a_manager_approves_in_the_browser(
    page, admin_login, branch, screenshot
):
    # given a teller and a manager of the branch, an emergency product and a member with savings
    teller = staff(branch, "TELLER", "teller-e2e@test.ng", "Tunde", "Adeyemi")
    manager = staff(branch, "MANAGER", "manager-e2e@test.ng", "Musa", "Bello")
    product = LoanProductFactory(name="Emergency loan")
    borrower = make_member(branch, savings=Decimal("150000.00"), first_name="Chiamaka", last_name="Nwosu")

    # when the teller takes the application at the counter and submits it
    sign_in(page, admin_login, teller)
    page.goto("/admin/loans/loan/add/")
    page.click("#loans-application-form .select2-selection")
    page.fill(".select2-search__field", "Nwosu")
    page.locator(".select2-results__option", has_text="Chiamaka").click()
    page.select_option("[data-loans-product]", str(product.pk))
    page.fill("[data-loans-principal]", "250000")
    page.fill("[data-loans-term]", "6")
    expect(page.locator("#loans-eligibility")).to_contain_text("Eligible")
    page.click("#loans-application-form [type=submit]")
    page.click(".loans-submit")
    page.click("#content-main form [type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("waiting for approval")
    loan = Loan.objects.get(member=borrower)
    assert loan.status == Loan.Status.SUBMITTED
    request = ApprovalRequest.objects.get(object_id=str(loan.pk), status="PENDING")

    # then the teller's loan page offers no Approve, and the decision page has no Approve button
    expect(page.locator(".loans-approve")).to_have_count(0)
    page.click("#loans-approvals a")
    expect(page).to_have_url(re.compile(rf"/admin/approvals/approvalrequest/{request.pk}/decide/$"))
    expect(page.locator("#appr-approve")).to_have_count(0)
    expect(page.locator("#appr-blocker")).to_contain_text("someone else must decide")
    # and a forged POST with the page's CSRF token is refused
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    forged = page.request.post(
        f"/admin/approvals/approvalrequest/{request.pk}/decide/",
        form={"csrfmiddlewaretoken": token, "decision": "APPROVED", "comment": "approving my own"},
    )
    assert forged.status == 403
    request.refresh_from_db()
    assert (request.status, request.approvals.count()) == ("PENDING", 0)

    # when the manager signs in, opens My approvals and the request, and approves with a comment
    sign_in(page, admin_login, manager)
    row = page.locator("#my-approvals .my-approval", has_text=loan.loan_number)
    expect(row).to_contain_text("Chiamaka Nwosu")
    expect(row).to_contain_text("₦250,000.00")
    row.locator("a").click()
    expect(page.locator("#loans-decision-summary")).to_contain_text(borrower.member_number)
    expect(page.locator("#loans-summary-checks")).to_contain_text("Pass")
    screenshot("loans-decision-page")
    page.fill("#id_comment", "Savings record is good")
    page.click("#appr-approve")
    expect(page.locator(".messagelist")).to_contain_text("Approved")

    # then the loan page shows APPROVED with both names on its timeline
    page.click("#appr-generic a")
    expect(page.locator(".fieldBox.field-status")).to_contain_text("Approved")
    timeline = page.locator("#loans-timeline")
    expect(timeline).to_contain_text("Tunde Adeyemi")
    expect(timeline).to_contain_text("Musa Bello")
    expect(timeline).to_contain_text("Savings record is good")
    screenshot("loans-approved-timeline")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.APPROVED


def test_a_two_level_policy_needs_two_different_people(page, admin_login, branch, screenshot):
    # given a branch policy: above ₦500,000 a manager, then two of the credit committee
    officer = staff(branch, "LOAN_OFFICER", "officer-e2e@test.ng", "Ngozi", "Eze")
    manager = staff(branch, "MANAGER", "manager-e2e@test.ng", "Musa", "Bello")
    first = staff(branch, "CREDIT_COMMITTEE", "committee1-e2e@test.ng", "Funmi", "Ogunleye")
    second = staff(branch, "CREDIT_COMMITTEE", "committee2-e2e@test.ng", "Emeka", "Obi")
    policy = ApprovalPolicy.objects.create(
        action_type="loan_approval", branch=branch, min_amount=Decimal("500000")
    )
    ApprovalLevel.objects.create(policy=policy, order=1, roles=["MANAGER"], required_approvals=1)
    ApprovalLevel.objects.create(policy=policy, order=2, roles=["CREDIT_COMMITTEE"], required_approvals=2)
    small = ApprovalPolicy.objects.create(
        action_type="loan_approval", branch=branch, min_amount=Decimal("0"), max_amount=Decimal("500000")
    )
    ApprovalLevel.objects.create(policy=small, order=1, roles=["MANAGER"], required_approvals=1)
    policies_changed()
    product = LoanProductFactory(name="Asset loan", max_amount=Decimal("5000000.00"))
    borrower = make_member(branch, savings=Decimal("300000.00"), first_name="Bisi", last_name="Adewale")
    loan = make_loan(
        member=borrower, product=product, officer=officer, principal="1000000", status="SUBMITTED"
    )
    request = ApprovalRequest.objects.get(object_id=str(loan.pk), status="PENDING")
    decide_url = f"/admin/approvals/approvalrequest/{request.pk}/decide/"

    # when the manager approves level 1
    sign_in(page, admin_login, manager)
    page.locator("#my-approvals .my-approval", has_text=loan.loan_number).locator("a").click()
    expect(page.locator("#appr-status")).to_contain_text("level 1 of 2")
    page.fill("#id_comment", "Level one fine")
    page.click("#appr-approve")

    # then the loan is still submitted and the request shows level 2
    expect(page.locator("#appr-status")).to_contain_text("level 2 of 2")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.SUBMITTED
    # and the same manager cannot decide again: no button, and a forged POST is refused
    expect(page.locator("#appr-approve")).to_have_count(0)
    expect(page.locator("#appr-blocker")).to_contain_text("already approved")
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    if token is None:
        token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forged = page.request.post(decide_url, form={"csrfmiddlewaretoken": token, "decision": "APPROVED"})
    assert forged.status == 403
    page.goto("/admin/")
    expect(page.locator("#my-approvals .my-approval", has_text=loan.loan_number)).to_have_count(0)

    # when the first committee member approves, it still waits for the second
    sign_in(page, admin_login, first)
    page.locator("#my-approvals .my-approval", has_text=loan.loan_number).locator("a").click()
    page.fill("#id_comment", "Van quotation seen")
    page.click("#appr-approve")
    expect(page.locator("#appr-status")).to_contain_text("level 2 of 2")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.SUBMITTED

    # and the second finishes it
    sign_in(page, admin_login, second)
    page.goto(decide_url)
    page.fill("#id_comment", "Agreed")
    page.click("#appr-approve")
    expect(page.locator(".messagelist")).to_contain_text("Approved")
    page.click("#appr-generic a")
    expect(page.locator(".fieldBox.field-status")).to_contain_text("Approved")
    timeline = page.locator("#loans-timeline")
    for name in ("Musa Bello", "Funmi Ogunleye", "Emeka Obi"):
        expect(timeline).to_contain_text(name)
    screenshot("loans-two-level-approved")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.APPROVED
