"""Loans in the admin, as loan officers, managers and tellers use it: the application form with its
eligibility and schedule preview, every lifecycle button, four-eyes, branch scoping, reports and the
dashboard widgets."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from cooperative.models import AuditLog
from loans.models import Loan, LoanPayment
from tests.loans.factories import LoanProductFactory, decide, make_loan, make_member

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


def grant(user, *codenames: str):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="loans", codename__in=codenames)
    )
    return type(user).objects.get(pk=user.pk)


def change_url(loan) -> str:
    return reverse("admin:loans_loan_change", args=[loan.pk])


def action_url(loan, name: str) -> str:
    return reverse(f"admin:loans_loan_{name}", args=[loan.pk])


def token_from(response) -> str:
    match = re.search(r'name="confirmation_token" value="([^"]+)"', response.content.decode())
    assert match, "the confirmation page carries a one-time token"
    return match.group(1)


# --- the whole flow -------------------------------------------------------------------------------


def test_application_to_repayment_through_the_admin(
    login, officer, manager, manager2, teller, product, borrower
):
    client = login(officer)
    # given the application form
    page = client.get(reverse("admin:loans_loan_add"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="loans-preview"' in html
    assert 'id="loans-eligibility"' in html
    assert "loans/application.js" in html
    assert "<script>" not in html

    # when the officer checks eligibility and the schedule preview
    eligibility = client.get(
        reverse("admin:loans_loan_eligibility"),
        {"member": borrower.pk, "product": product.pk, "principal": "100000"},
    ).json()
    preview = client.get(
        reverse("admin:loans_loan_preview"), {"product": product.pk, "principal": "100000", "term": "12"}
    ).json()
    # then
    assert eligibility["eligible"] is True
    assert eligibility["savings"] == "200,000.00"
    assert eligibility["active_loans"] == 0
    assert len(preview["rows"]) == 12
    assert preview["totals"]["principal"] == "100000.00"

    # when the officer saves the application
    response = client.post(
        reverse("admin:loans_loan_add"),
        {
            "member": borrower.pk,
            "product": product.pk,
            "principal": "100,000",
            "term": "12",
            "purpose": "Stock",
        },
    )
    loan = Loan.objects.get(member=borrower)
    assert response.status_code == 302
    assert response["Location"] == change_url(loan)
    assert loan.status == Loan.Status.DRAFT
    assert loan.created_by == officer

    # and submits it
    page = client.get(change_url(loan))
    assert "loans-submit" in page.content.decode()
    assert client.post(action_url(loan, "submit"), {"comment": ""}).status_code == 302
    loan.refresh_from_db()
    assert loan.status == Loan.Status.SUBMITTED

    # then a manager approves it
    client = login(manager)
    assert "loans-approve" in client.get(change_url(loan)).content.decode()
    assert client.post(action_url(loan, "approve"), {"comment": "Good record"}).status_code == 302
    loan.refresh_from_db()
    assert loan.status == Loan.Status.APPROVED

    # and another manager disburses it (separation of duties) after a confirmation page showing what
    # the member receives
    client = login(manager2)
    page = client.get(action_url(loan, "disburse"))
    assert "Credited to savings" in page.content.decode()
    assert "one hundred thousand naira" in page.content.decode().lower()
    assert client.post(action_url(loan, "disburse"), {}).status_code == 302
    loan.refresh_from_db()
    assert loan.status == Loan.Status.DISBURSED
    assert loan.schedule.count() == 12

    # when the teller records the first installment, confirming the amount in words
    client = login(teller)
    first = loan.schedule.get(installment_number=1)
    form = client.post(action_url(loan, "repayment"), {"amount": str(first.total_amount), "source": "CASH"})
    assert form.status_code == 200
    assert (
        "eight thousand eight hundred and eighty-four naira and eighty-eight kobo"
        in form.content.decode().lower()
    )
    token = token_from(form)
    done = client.post(action_url(loan, "repayment"), {"confirmation_token": token})
    assert done.status_code == 302
    # a double click posts nothing twice
    again = client.post(action_url(loan, "repayment"), {"confirmation_token": token}, follow=True)
    assert "already recorded" in again.content.decode()
    assert LoanPayment.objects.filter(loan=loan).count() == 1

    # then the loan page shows the installment as paid, with a totals row, and the timeline
    page = client.get(change_url(loan)).content.decode()
    assert re.search(r'<tr class="paid"><td>1</td>', page)
    assert 'class="loans-totals"' in page
    assert "100,000.00" in page
    assert "submit" in page
    assert "approve" in page
    assert "disburse" in page


def test_the_schedule_preview_names_the_field_outside_the_product_limits(login, officer, product):
    client = login(officer)

    response = client.get(
        reverse("admin:loans_loan_preview"), {"product": product.pk, "principal": "5", "term": "12"}
    )

    assert response.status_code == 400
    assert response.json()["field"] == "principal"


def test_application_outside_the_limits_is_a_form_error(login, officer, product, borrower):
    client = login(officer)

    response = client.post(
        reverse("admin:loans_loan_add"),
        {"member": borrower.pk, "product": product.pk, "principal": "100000", "term": "99"},
    )

    assert response.status_code == 400
    assert "runs between 1 and 24 installments; 99 is outside that range" in response.content.decode()
    assert not Loan.objects.exists()


def test_malformed_member_or_guarantor_ids_are_form_errors_not_500s(login, officer, product, borrower):
    client = login(officer)
    application = client.post(
        reverse("admin:loans_loan_add"),
        {"member": "zz", "product": product.pk, "principal": "100000", "term": "6"},
    )
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)
    guarantor = client.post(action_url(loan, "guarantor"), {"guarantor": "zz", "amount": "1000"})

    assert application.status_code == 400
    assert guarantor.status_code == 400
    assert not loan.guarantors.exists()


def test_ineligible_member_shows_the_reasons(login, officer, branch):
    # given a product lending at most 2x savings, and a member with 10,000 saved
    product = LoanProductFactory(savings_multiple=D("2"))
    member = make_member(branch, savings="10000")
    client = login(officer)

    eligibility = client.get(
        reverse("admin:loans_loan_eligibility"),
        {"member": member.pk, "product": product.pk, "principal": "50000"},
    ).json()

    assert eligibility["eligible"] is False
    assert eligibility["ceiling"] == "20,000.00"
    assert any("ceiling" in reason for reason in eligibility["reasons"])


# --- four-eyes --------------------------------------------------------------------------------------


def test_the_creator_sees_no_approve_button_and_a_forged_post_is_refused(login, manager, product, borrower):
    # given a manager who may also take applications, and who took and submitted this one
    manager = grant(manager, "add_loan", "submit_loan", "change_loan")
    loan = make_loan(member=borrower, product=product, officer=manager, status=Loan.Status.SUBMITTED)
    client = login(manager)

    # then neither decision is offered to them (the approval request excludes its creator)
    page = client.get(change_url(loan)).content.decode()
    assert "loans-approve" not in page
    assert "loans-reject" not in page

    # and a forged POST is refused without changing the loan
    response = client.post(action_url(loan, "approve"), {"comment": "self-approval"})
    assert response.status_code == 403
    assert (
        "four-eyes" in response.content.decode().lower()
        or "created or submitted" in response.content.decode()
    )
    loan.refresh_from_db()
    assert loan.status == Loan.Status.SUBMITTED


def test_reject_needs_a_reason(login, officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    client = login(manager)

    refused = client.post(action_url(loan, "reject"), {"reason": ""})
    done = client.post(action_url(loan, "reject"), {"reason": "Income too low"})

    assert refused.status_code == 400
    assert done.status_code == 302
    loan.refresh_from_db()
    assert loan.status == Loan.Status.REJECTED
    assert loan.decision_reason == "Income too low"


# --- branch scoping ---------------------------------------------------------------------------------


def test_another_branchs_loan_is_a_404_everywhere(login, officer, manager, product, other_branch, make_staff):
    # given a loan in another branch
    theirs_officer = make_staff("LOAN_OFFICER", other_branch, email="abuja-officer@test.ng")
    theirs_manager = make_staff("MANAGER", other_branch, email="abuja-manager@test.ng")
    member = make_member(other_branch, savings="300000")
    loan = make_loan(member=member, product=product, officer=theirs_officer, manager=theirs_manager)
    client = login(manager)

    # then it is not listed, and its page and every action answer 404
    listing = client.get(reverse("admin:loans_loan_changelist"))
    assert listing.status_code == 200
    assert loan.loan_number not in listing.content.decode()
    assert client.get(change_url(loan)).status_code == 404
    for name in ("approve", "disburse", "write_off", "repayment"):
        assert client.post(action_url(loan, name), {"reason": "x"}).status_code == 404
    assert client.get(reverse("admin:loans_loan_history", args=[loan.pk])).status_code == 404
    eligibility = client.get(
        reverse("admin:loans_loan_eligibility"), {"member": member.pk, "product": product.pk}
    )
    assert eligibility.status_code == 403  # a manager takes no applications (no loans.add_loan)


@pytest.mark.parametrize(
    "query",
    ["", "?status__exact=DISBURSED", "?q=Nwosu", "?bucket=none", "?product__id__exact=x", "?officer=bad"],
)
def test_the_loan_list_renders_with_filters(login, manager, officer, product, borrower, query):
    make_loan(member=borrower, product=product, officer=officer, manager=manager)

    response = login(manager).get(reverse("admin:loans_loan_changelist") + query)

    assert response.status_code == 200  # a malformed filter value is no error page


# --- money on the loan page -------------------------------------------------------------------------


def test_repayment_on_a_closed_loan_is_refused_and_reversal_restores_the_schedule(
    login, officer, manager, teller, accountant, product, borrower
):
    loan = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, principal="12000", term=1
    )
    client = login(teller)

    # when the teller records a repayment of the whole loan
    payoff = loan.schedule.get().total_amount
    token = token_from(client.post(action_url(loan, "repayment"), {"amount": str(payoff), "source": "CASH"}))
    client.post(action_url(loan, "repayment"), {"confirmation_token": token})
    loan.refresh_from_db()
    assert loan.status == Loan.Status.CLOSED

    # then the repayment button is gone and a forged one is refused
    assert 'class="loans-repayment"' not in client.get(change_url(loan)).content.decode()
    refused = client.post(action_url(loan, "repayment"), {"amount": "100", "source": "CASH"}, follow=True)
    assert "cannot be repayment recorded" in refused.content.decode() or "closed" in refused.content.decode()

    # when an accountant reverses the payment
    payment = LoanPayment.objects.get(loan=loan)
    client = login(accountant)
    url = reverse("admin:loans_loan_reverse_payment", args=[loan.pk, payment.pk])
    assert f'href="{url}" class="loans-reverse"' in client.get(change_url(loan)).content.decode()
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": "Counterfeit notes"}).status_code == 302

    # then the loan is open again and nothing is paid
    loan.refresh_from_db()
    assert loan.status == Loan.Status.DISBURSED
    assert loan.schedule.get().paid_amount == D("0")


def test_guarantor_added_from_the_loan_page(login, officer, product, borrower, branch):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)
    guarantor = make_member(branch, savings="50000", first_name="Tunde")
    client = login(officer)

    over = client.post(action_url(loan, "guarantor"), {"guarantor": guarantor.pk, "amount": "90000"})
    borrower_self = client.post(action_url(loan, "guarantor"), {"guarantor": borrower.pk, "amount": "1000"})
    done = client.post(action_url(loan, "guarantor"), {"guarantor": guarantor.pk, "amount": "30000"})

    assert over.status_code == 409
    assert borrower_self.status_code == 400
    assert done.status_code == 302
    page = client.get(change_url(loan)).content.decode()
    assert "Tunde" in page
    assert "30,000.00" in page


def test_write_off_needs_the_permission_a_reason_and_a_second_manager(
    login, officer, manager, manager2, teller, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)

    assert login(teller).post(action_url(loan, "write_off"), {"reason": "Gone"}).status_code == 403
    client = login(manager)
    assert client.post(action_url(loan, "write_off"), {"reason": ""}).status_code == 400
    asked = client.post(action_url(loan, "write_off"), {"reason": "Member relocated"}, follow=True)
    assert "waiting for approval" in asked.content.decode()
    loan.refresh_from_db()
    assert loan.status == Loan.Status.DISBURSED
    # the requester is offered no second write-off while it waits, and the other manager approves
    assert "loans-write_off" not in client.get(change_url(loan)).content.decode()
    decide(loan, "write_off", by=manager2)
    loan.refresh_from_db()
    assert loan.status == Loan.Status.WRITTEN_OFF
    # the loan page says the principal is off the books and how much was written off
    html = client.get(reverse("admin:loans_loan_change", args=[loan.pk])).content.decode()
    assert "Principal still owed (off the books)" in html
    assert "Written off" in html


# --- products ---------------------------------------------------------------------------------------


def test_product_page_groups_settings_and_shows_a_sample_schedule(login, admin_user, product):
    page = login(admin_user).get(reverse("admin:loans_loanproduct_change", args=[product.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    for heading in ("Pricing and limits", "Schedule", "Fees, penalties and repayments", "Eligibility"):
        assert heading in html
    assert 'class="loans-table loans-sample"' in html
    assert "loans-totals" in html


# --- reports and dashboard --------------------------------------------------------------------------


def test_reports_page_needs_the_permission(login, teller, manager):
    url = reverse("admin:loans_loan_reports")

    assert login(teller).get(url).status_code == 403
    assert login(manager).get(url).status_code == 200


def test_report_download_is_audited(login, manager, officer, product, borrower):
    from loans.report_exports import available_reports

    reports = available_reports()
    if not reports:
        pytest.fail("loans.reports has no report_* functions")
    make_loan(member=borrower, product=product, officer=officer, manager=manager)
    name = sorted(reports)[0]
    client = login(manager)

    response = client.get(
        reverse("admin:loans_loan_reports"), {"report": name, "format": "csv", "download": "1"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert AuditLog.objects.filter(event=AuditLog.Event.EXPORT, detail__report=name).count() == 1


def test_dashboard_widgets_render(login, officer, manager, product, borrower):
    # given one application of mine waiting and one active loan
    make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)

    officer_page = login(officer).get(reverse("admin:index")).content.decode()
    manager_page = login(manager).get(reverse("admin:index")).content.decode()

    assert "My pending applications" in officer_page
    assert "Chiamaka" in officer_page
    assert "Loans due this week" in manager_page
    assert "PAR30" in manager_page


def test_disbursed_loan_due_soon_is_on_the_due_this_week_widget(login, officer, manager, product, borrower):
    from datetime import timedelta

    from django.utils import timezone

    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    loan.schedule.filter(installment_number=1).update(due_date=timezone.localdate() + timedelta(days=2))

    page = login(manager).get(reverse("admin:index")).content.decode()

    assert loan.loan_number in page


def test_member_autocomplete_finds_only_my_branchs_members(login, officer, borrower, other_branch):
    make_member(other_branch, savings="1000", first_name="Chiamaka", last_name="Elsewhere")
    params = {"app_label": "loans", "model_name": "loan", "field_name": "member", "term": "Chiamaka"}

    response = login(officer).get(reverse("admin:autocomplete"), params)

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(borrower.pk)]


def test_the_loan_page_itself_cannot_be_posted(login, officer, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)

    response = login(officer).post(change_url(loan), {"principal": "999999"})

    assert response.status_code == 403
    loan.refresh_from_db()
    assert loan.principal == D("100000.00")


def test_recover_from_guarantors_after_write_off(
    login, officer, manager, manager2, product, borrower, branch
):
    # given a loan guaranteed by a member with 60,000 savings, written off
    guarantor = make_member(branch, savings="60000", first_name="Tunde")
    loan = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, guarantors=[(guarantor, "50000")]
    )
    client = login(manager)
    client.post(action_url(loan, "write_off"), {"reason": "Member absconded"})
    decide(loan, "write_off", by=manager2)
    loan.refresh_from_db()
    assert loan.status == Loan.Status.WRITTEN_OFF

    # when the manager recovers from the guarantors
    page = client.get(change_url(loan)).content.decode()
    assert "loans-recover" in page
    response = client.post(action_url(loan, "recover"), {"comment": ""})

    # then the guarantee is invoked and shows on the loan page
    assert response.status_code == 302
    page = client.get(change_url(loan)).content.decode()
    assert "Invoked" in page


def test_report_page_shows_rows_and_downloads_xlsx(login, manager, officer, product, borrower):
    import io

    from openpyxl import load_workbook

    make_loan(member=borrower, product=product, officer=officer, manager=manager)
    client = login(manager)
    url = reverse("admin:loans_loan_reports")

    shown = client.get(url, {"report": "portfolio_summary", "format": "csv", "show": "1"})
    bad = client.get(
        url, {"report": "disbursements_repayments", "date_from": "2027-05-01", "date_to": "2027-01-01"}
    )
    xlsx = client.get(url, {"report": "portfolio_summary", "format": "xlsx", "download": "1"})

    assert shown.status_code == 200
    assert 'id="loans-report"' in shown.content.decode()
    assert "100,000.00" in shown.content.decode()
    assert bad.status_code == 400
    assert load_workbook(io.BytesIO(xlsx.content)).active.max_row > 1
    assert AuditLog.objects.filter(event=AuditLog.Event.EXPORT).count() == 1


def test_a_draft_can_be_corrected_within_the_product_limits(login, officer, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)
    client = login(officer)

    form = client.get(action_url(loan, "edit"))
    too_long = client.post(action_url(loan, "edit"), {"principal": "100000", "term": "48"})
    done = client.post(action_url(loan, "edit"), {"principal": "150,000", "term": "18", "purpose": "Stock"})

    assert 'value="100000.00"' in form.content.decode()
    assert too_long.status_code == 400
    assert "term" in too_long.content.decode().lower()
    assert done.status_code == 302
    loan.refresh_from_db()
    assert (loan.principal, loan.term) == (D("150000.00"), 18)


def test_a_pledge_can_be_removed_before_approval(login, officer, product, borrower, branch):
    guarantor = make_member(branch, savings="50000", first_name="Tunde")
    loan = make_loan(
        member=borrower,
        product=product,
        officer=officer,
        status=Loan.Status.DRAFT,
        guarantors=[(guarantor, "20000")],
    )
    client = login(officer)
    pledge = loan.guarantors.get()

    page = client.get(change_url(loan)).content.decode()
    response = client.post(reverse("admin:loans_loan_remove_guarantor", args=[loan.pk, pledge.pk]), {})

    assert "loans-remove-guarantor" in page
    assert response.status_code == 302
    pledge.refresh_from_db()
    assert pledge.status == pledge.Status.WITHDRAWN


def test_the_loan_page_reads_each_panel_once(
    login, officer, manager, product, borrower, branch, django_assert_max_num_queries
):
    # Issue 6: ≤ 12 queries per admin page. The page's loan is read once with its foreign keys,
    # schedule and guarantors; the buttons and the Approvals panel share one read of the requests.
    from django.conf import settings

    guarantors = [(make_member(branch, savings="60000", first_name=f"G{i}"), "20000") for i in range(3)]
    loan = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, guarantors=guarantors
    )
    client = login(manager)
    client.get(change_url(loan))  # warm: session touch, content types
    budget = 12 + settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache")  # DB cache: +1 query
    with django_assert_max_num_queries(budget):
        page = client.get(change_url(loan))
    assert page.status_code == 200
    assert page.content.decode().count("G0") >= 1
    assert 'id="loans-guarantors"' in page.content.decode()
