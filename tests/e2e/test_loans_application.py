"""The loan application form in a real browser: the member autocomplete, the eligibility panel and
the live schedule preview work under the CSP (script-src 'self', no inline script)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from loans.models import Loan
from tests.factories import DEFAULT_PASSWORD, BranchFactory, UserFactory
from tests.loans.factories import LoanProductFactory, make_member


@pytest.fixture
def setting(transactional_db):
    branch = BranchFactory(code="MB001", name="Main Branch")
    officer = UserFactory(email="officer-e2e@test.ng", roles=["LOAN_OFFICER"], branches=[branch])
    product = LoanProductFactory(name="Market trader loan", savings_multiple=Decimal("2"))
    borrower = make_member(branch, savings=Decimal("200000.00"), first_name="Chiamaka", last_name="Nwosu")
    return officer, product, borrower


def test_officer_sees_eligibility_and_the_schedule_before_saving(page, admin_login, setting, screenshot):
    officer, product, borrower = setting
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            csp_errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    # Given the officer on the application form
    admin_login(officer.email, DEFAULT_PASSWORD)
    page.goto("/admin/loans/loan/add/")
    expect(page.locator("#loans-preview")).to_contain_text("Choose a product")

    # When they pick the member through the autocomplete, the product, an amount and a term
    page.click("#loans-application-form .select2-selection")
    page.fill(".select2-search__field", "Nwosu")
    page.locator(".select2-results__option", has_text="Chiamaka").click()
    page.select_option("[data-loans-product]", str(product.pk))
    page.fill("[data-loans-principal]", "300000")
    page.fill("[data-loans-term]", "12")

    # Then the eligibility panel shows savings, the ceiling and a pass
    eligibility = page.locator("#loans-eligibility")
    expect(eligibility).to_contain_text("Eligible")
    expect(eligibility).to_contain_text("200,000.00")
    expect(eligibility).to_contain_text("400,000.00")
    # and the preview lists twelve installments with a totals row
    expect(page.locator("#loans-preview tbody tr")).to_have_count(12)
    expect(page.locator("#loans-preview tfoot")).to_contain_text("300,000.00")

    # When the amount goes above the ceiling, the panel says why
    page.fill("[data-loans-principal]", "500000")
    expect(eligibility).to_contain_text("Not eligible")
    expect(eligibility).to_contain_text("ceiling")
    screenshot("loans-application")

    # When they save a valid application
    page.fill("[data-loans-principal]", "300000")
    page.click("#loans-application-form [type=submit]")

    # Then the draft's page opens with its Submit button, and no script was blocked
    expect(page.locator(".loans-submit")).to_be_visible()
    assert Loan.objects.get(member=borrower).status == Loan.Status.DRAFT
    assert csp_errors == []


def test_product_page_previews_a_schedule_for_any_amount(page, admin_login, transactional_db):
    # Given an administrator on a product's page
    admin = UserFactory(email="admin-e2e@test.ng", roles=["ADMIN"], is_superuser=True)
    product = LoanProductFactory(name="Asset loan", min_term=3, max_term=12)
    admin_login(admin.email, DEFAULT_PASSWORD)
    page.goto(f"/admin/loans/loanproduct/{product.pk}/change/")

    # Then the preview shows the minimum amount over the minimum term
    expect(page.locator("#loans-preview tbody tr")).to_have_count(3)

    # When they try another amount and term
    page.fill("#loans-try-principal", "60000")
    page.fill("#loans-try-term", "6")

    # Then the preview follows, and an out-of-range term is explained
    expect(page.locator("#loans-preview tbody tr")).to_have_count(6)
    expect(page.locator("#loans-preview tfoot")).to_contain_text("60,000.00")
    page.fill("#loans-try-term", "48")
    expect(page.locator("#loans-preview")).to_contain_text("between 3 and 12")
