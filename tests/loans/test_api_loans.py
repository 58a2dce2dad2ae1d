"""Loans over the API: applications, lifecycle actions, schedule, repayments (idempotent),
guarantors, settlement quotes and report downloads; branch scoping and the bad-input answers."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from cooperative.exceptions import ValidationFailed
from cooperative.models import AuditLog
from loans.models import Loan, LoanPayment
from loans.services import check_product_limits
from tests.loans.factories import LoanProductFactory, make_loan, make_member

pytestmark = pytest.mark.django_db
D = Decimal


def errors_of(response) -> list:
    return [error["field"] for error in response.json().get("errors", [])]


def apply(client, borrower, product, **overrides):
    body = {"member": str(borrower.pk), "product": str(product.pk), "principal": "100000.00", "term": 12}
    body.update(overrides)
    return client.post("/api/v1/loans/", body, format="json")


# --- the lifecycle ----------------------------------------------------------------------------------


def test_application_to_repayment_over_the_api(api_as, officer, manager, manager2, teller, product, borrower):
    # when the officer applies and submits
    created = apply(api_as(officer), borrower, product, purpose="Shop stock")
    assert created.status_code == 201, created.content
    loan = created.json()
    assert loan["status"] == "DRAFT"
    assert loan["principal"] == "100000.00"
    assert loan["summary"]["installments"] == 0
    submitted = api_as(officer).post(f"/api/v1/loans/{loan['id']}/submit/", {}, format="json")
    assert submitted.json()["status"] == "SUBMITTED"

    # and the manager approves and disburses
    approved = api_as(manager).post(f"/api/v1/loans/{loan['id']}/approve/", {"comment": "OK"}, format="json")
    assert approved.json()["status"] == "APPROVED"
    disbursed = api_as(manager2).post(f"/api/v1/loans/{loan['id']}/disburse/", {}, format="json")
    assert disbursed.status_code == 200
    assert disbursed.json()["status"] == "DISBURSED"
    assert disbursed.json()["summary"]["principal_outstanding"] == "100000.00"

    # then the teller records the first installment
    schedule = api_as(teller).get(f"/api/v1/loans/{loan['id']}/schedule/").json()
    assert len(schedule) == 12
    assert schedule[0]["total"] == "8884.88"
    paid = api_as(teller).post(
        f"/api/v1/loans/{loan['id']}/repayments/",
        {"amount": "8884.88", "source": "CASH"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="first-installment",
    )
    assert paid.status_code == 201, paid.content
    assert paid.json()["principal_portion"] == "7884.88"
    assert paid.json()["interest_portion"] == "1000.00"

    # and the schedule shows it paid
    schedule = api_as(teller).get(f"/api/v1/loans/{loan['id']}/schedule/").json()
    assert schedule[0]["is_paid"] is True
    assert schedule[0]["paid_amount"] == "8884.88"
    assert schedule[1]["paid_amount"] == "0.00"
    listing = api_as(teller).get(f"/api/v1/loans/{loan['id']}/repayments/").json()
    assert [p["amount"] for p in listing] == ["8884.88"]


def test_the_creator_cannot_approve_over_the_api(api_as, manager, product, borrower):
    from django.contrib.auth.models import Permission

    manager.user_permissions.add(*Permission.objects.filter(codename__in=("add_loan", "submit_loan")))
    manager = type(manager).objects.get(pk=manager.pk)
    loan = make_loan(member=borrower, product=product, officer=manager, status=Loan.Status.SUBMITTED)

    response = api_as(manager).post(f"/api/v1/loans/{loan.pk}/approve/", {}, format="json")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    loan.refresh_from_db()
    assert loan.status == Loan.Status.SUBMITTED


def test_reject_needs_a_reason(api_as, officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)

    refused = api_as(manager).post(f"/api/v1/loans/{loan.pk}/reject/", {}, format="json")
    done = api_as(manager).post(
        f"/api/v1/loans/{loan.pk}/reject/", {"reason": "Too much debt"}, format="json"
    )

    assert refused.status_code == 400
    assert "reason" in errors_of(refused)
    assert done.json()["status"] == "REJECTED"
    assert done.json()["decision_reason"] == "Too much debt"


def test_disbursing_twice_is_a_409(api_as, officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)

    response = api_as(manager).post(f"/api/v1/loans/{loan.pk}/disburse/", {}, format="json")

    assert response.status_code == 409


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"principal": "5000.00"}, "principal"),
        ({"principal": "5000000.00"}, "principal"),
        ({"term": 36}, "term"),
        ({"term": 0}, "term"),
        ({"principal": "12.345"}, "principal"),
        ({"principal": 0.1}, "principal"),
    ],
)
def test_amount_or_term_outside_the_product_is_a_400_naming_the_field(
    api_as, officer, product, borrower, overrides, field
):
    response = apply(api_as(officer), borrower, product, **overrides)

    assert response.status_code == 400
    assert field in errors_of(response)
    assert not Loan.objects.exists()


@pytest.mark.parametrize(
    ("principal", "term", "field"),
    [("5000.00", "12", "principal"), ("5000000.00", "12", "principal"), ("100000.00", "99", "term")],
)
def test_the_admin_form_the_api_and_the_preview_give_the_one_product_limits_message(
    api_as, client, officer, product, borrower, principal, term, field
):
    # given the service's rule, said once
    with pytest.raises(ValidationFailed) as refused:
        check_product_limits(product, principal=D(principal), term=int(term))
    message = refused.value.message

    # when the same application is made over the API, in the admin form and as a schedule preview
    api = apply(api_as(officer), borrower, product, principal=principal, term=int(term))
    preview = api_as(officer).post(
        f"/api/v1/loan-products/{product.pk}/schedule-preview/",
        {"principal": principal, "term": int(term)},
        format="json",
    )
    client.force_login(officer)
    form = client.post(
        reverse("admin:loans_loan_add"),
        {"member": borrower.pk, "product": product.pk, "principal": principal, "term": term},
    )

    # then each shows that message on the field at fault
    assert api.status_code == preview.status_code == form.status_code == 400
    assert {"field": field, "message": message} in api.json()["errors"]
    assert {"field": field, "message": message} in preview.json()["errors"]
    assert form.context["form"].errors[field] == [message]
    assert not Loan.objects.exists()


def test_inactive_product_is_refused(api_as, officer, borrower):
    product = LoanProductFactory(active=False)

    response = apply(api_as(officer), borrower, product)

    assert response.status_code == 400
    assert not Loan.objects.exists()


def test_a_member_who_is_not_eligible_is_told_why(api_as, officer, branch):
    # given a product lending 2x savings and a member with 10,000 saved
    product = LoanProductFactory(savings_multiple=D("2"))
    member = make_member(branch, savings="10000")
    client = api_as(officer)
    loan = apply(client, member, product, principal="50000.00").json()

    # when the application is submitted
    response = client.post(f"/api/v1/loans/{loan['id']}/submit/", {}, format="json")

    # then (NotEligible: a 400 naming the member)
    assert response.status_code == 400
    assert "ceiling" in response.json()["detail"]


def test_repayment_on_a_closed_loan_is_a_409(api_as, officer, manager, teller, product, borrower):
    loan = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, principal="12000", term=1
    )
    client = api_as(teller)
    payoff = str(loan.schedule.get().total_amount)
    first = client.post(
        f"/api/v1/loans/{loan.pk}/repayments/",
        {"amount": payoff},
        format="json",
        HTTP_IDEMPOTENCY_KEY="pay-1",
    )
    assert first.status_code == 201
    loan.refresh_from_db()
    assert loan.status == Loan.Status.CLOSED

    again = client.post(
        f"/api/v1/loans/{loan.pk}/repayments/",
        {"amount": "100.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="pay-2",
    )

    assert again.status_code == 409
    assert "closed" in again.json()["detail"]


def test_a_replayed_repayment_answers_the_same_and_pays_once(
    api_as, officer, manager, teller, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    client = api_as(teller)
    url = f"/api/v1/loans/{loan.pk}/repayments/"

    first = client.post(
        url, {"amount": "5000.00", "source": "CASH"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    replay = client.post(
        url, {"amount": "5000.00", "source": "CASH"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    other_body = client.post(url, {"amount": "6000.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    no_key = client.post(url, {"amount": "5000.00"}, format="json")

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 409
    assert no_key.status_code == 400
    assert LoanPayment.objects.filter(loan=loan).count() == 1


def test_repayment_needs_the_permission(api_as, officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)

    response = api_as(officer).post(
        f"/api/v1/loans/{loan.pk}/repayments/", {"amount": "100.00"}, format="json", HTTP_IDEMPOTENCY_KEY="x"
    )

    assert response.status_code == 403


# --- guarantors and quotes ---------------------------------------------------------------------------


def test_guarantors_pledge_up_to_their_free_savings(api_as, officer, product, borrower, branch):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)
    guarantor = make_member(branch, savings="40000")
    client = api_as(officer)
    url = f"/api/v1/loans/{loan.pk}/guarantors/"

    over = client.post(url, {"member": str(guarantor.pk), "amount": "50000.00"}, format="json")
    self_pledge = client.post(url, {"member": str(borrower.pk), "amount": "1000.00"}, format="json")
    done = client.post(url, {"member": str(guarantor.pk), "amount": "30000.00"}, format="json")

    assert over.status_code == 409  # GuarantorOverCommitted: their savings are spoken for
    assert self_pledge.status_code == 400  # GuarantorRefused: a borrower cannot guarantee themself
    assert done.status_code == 201
    assert done.json()["pledged_amount"] == "30000.00"
    assert [g["member"]["id"] for g in client.get(url).json()] == [str(guarantor.pk)]


def test_settlement_quote_for_a_date(api_as, officer, manager, teller, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    client = api_as(teller)

    quote = client.get(f"/api/v1/loans/{loan.pk}/settlement-quote/")
    bad = client.get(f"/api/v1/loans/{loan.pk}/settlement-quote/?date=2027-02-30")

    assert quote.status_code == 200
    assert D(quote.json()["total"]) >= D("100000.00")
    assert quote.json()["principal"] == "100000.00"
    assert bad.status_code == 400
    assert "date" in errors_of(bad)


# --- branch scoping ----------------------------------------------------------------------------------


def test_another_branchs_loan_is_a_404(api_as, manager, product, other_branch, make_staff):
    theirs_officer = make_staff("LOAN_OFFICER", other_branch, email="abuja-officer@test.ng")
    theirs_manager = make_staff("MANAGER", other_branch, email="abuja-manager@test.ng")
    member = make_member(other_branch, savings="300000")
    loan = make_loan(member=member, product=product, officer=theirs_officer, manager=theirs_manager)
    client = api_as(manager)

    assert client.get("/api/v1/loans/").json()["results"] == []
    for suffix in ("", "schedule/", "repayments/", "guarantors/", "settlement-quote/"):
        assert client.get(f"/api/v1/loans/{loan.pk}/{suffix}").status_code == 404
    for action in ("approve", "reject", "disburse"):
        assert (
            client.post(f"/api/v1/loans/{loan.pk}/{action}/", {"reason": "x"}, format="json").status_code
            == 404
        )
    # and a member of another branch cannot be used for an application
    other = apply(api_as(theirs_officer), member, product)
    assert other.status_code == 201
    mine = apply(
        api_as(make_staff("LOAN_OFFICER", manager.branches.first(), email="o2@test.ng")), member, product
    )
    assert mine.status_code == 400
    assert "member" in errors_of(mine)


def test_loan_list_filters(api_as, officer, manager, product, borrower, branch):
    make_loan(member=borrower, product=product, officer=officer, manager=manager)
    make_loan(member=make_member(branch, savings="100000"), product=product, officer=officer, status="DRAFT")
    client = api_as(manager)

    active = client.get("/api/v1/loans/?status=DISBURSED").json()["results"]
    drafts = client.get("/api/v1/loans/?status=DRAFT").json()["results"]
    by_member = client.get(f"/api/v1/loans/?member={borrower.pk}").json()["results"]
    bad = client.get("/api/v1/loans/?status=NOPE")

    assert [loan["status"] for loan in active] == ["DISBURSED"]
    assert [loan["status"] for loan in drafts] == ["DRAFT"]
    assert [loan["member"]["id"] for loan in by_member] == [str(borrower.pk)]
    assert bad.status_code == 400


# --- reports -----------------------------------------------------------------------------------------


def test_report_json_csv_and_xlsx(api_as, officer, manager, product, branch):
    # given a loan whose member's name looks like a spreadsheet formula
    member = make_member(branch, savings="300000", first_name="=HYPERLINK(1)", last_name="Evil")
    make_loan(member=member, product=product, officer=officer, manager=manager)
    client = api_as(manager)

    as_json = client.get("/api/v1/loan-reports/portfolio_summary/")
    as_csv = client.get("/api/v1/loan-reports/portfolio_summary/?format=csv")
    as_xlsx = client.get("/api/v1/loan-reports/portfolio_summary/?format=xlsx")

    assert as_json.status_code == 200
    assert as_json.json()["report"] == "portfolio_summary"
    assert as_json.json()["rows"]
    assert as_csv.status_code == 200
    assert as_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.content.decode())))
    assert all(not cell.startswith("=") for row in rows for cell in row)
    workbook = load_workbook(io.BytesIO(as_xlsx.content))
    assert workbook.active.max_row > 1
    assert AuditLog.objects.filter(event=AuditLog.Event.EXPORT).count() == 3


def test_report_bad_input_and_permission(api_as, officer, manager):
    assert api_as(officer).get("/api/v1/loan-reports/par/").status_code == 403
    client = api_as(manager)
    assert client.get("/api/v1/loan-reports/nope/").status_code == 404
    assert client.get("/api/v1/loan-reports/par/?format=pdf").status_code == 400
    bad_period = client.get(
        "/api/v1/loan-reports/disbursements_repayments/?date_from=2027-05-01&date_to=2027-01-01"
    )
    assert bad_period.status_code == 400
    period = client.get(
        "/api/v1/loan-reports/disbursements_repayments/?date_from=2026-01-01&date_to=2026-03-31"
    )
    assert period.status_code == 200
    assert len(period.json()["rows"]) == 3


def test_the_preview_is_the_schedule_the_loan_gets(api_as, officer, manager, product, borrower):
    # given a preview for 250,000 over 6 installments disbursed on 31 January
    preview = api_as(officer).post(
        f"/api/v1/loan-products/{product.pk}/schedule-preview/",
        {"principal": "250000.00", "term": 6, "disbursed_on": "2026-01-31"},
        format="json",
    )
    # when the same loan is applied for and disbursed on that date
    loan = make_loan(
        member=borrower,
        product=product,
        officer=officer,
        manager=manager,
        principal="250000.00",
        term=6,
        disbursed_on=date(2026, 1, 31),
    )
    schedule = api_as(manager).get(f"/api/v1/loans/{loan.pk}/schedule/").json()

    # then every installment agrees to the kobo
    assert [
        {k: row[k] for k in ("number", "due_date", "principal", "interest", "total", "balance")}
        for row in schedule
    ] == preview.json()


def test_withdraw_releases_the_application(api_as, officer, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    client = api_as(officer)

    no_reason = client.post(f"/api/v1/loans/{loan.pk}/withdraw/", {}, format="json")
    done = client.post(
        f"/api/v1/loans/{loan.pk}/withdraw/", {"reason": "Found cheaper credit"}, format="json"
    )
    twice = client.post(f"/api/v1/loans/{loan.pk}/withdraw/", {"reason": "again"}, format="json")

    assert no_reason.status_code == 400
    assert done.json()["status"] == "WITHDRAWN"
    assert twice.status_code == 409


def test_products_need_a_login_and_loans_need_the_view_permission(api_client, api_as, make_staff, branch):
    assert api_client.get("/api/v1/loans/").status_code == 401  # no credentials: authenticate first
    nobody = make_staff("AUDITOR", branch, email="aud@test.ng")
    nobody.groups.clear()
    assert api_as(type(nobody).objects.get(pk=nobody.pk)).get("/api/v1/loans/").status_code == 403


def test_a_repayment_above_the_posting_ceiling_is_refused_outright(
    api_as, officer, manager, teller, product, borrower, settings
):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    settings.POSTING_CEILING = D("5000.00")  # lowered, so that a real repayment crosses it

    response = api_as(teller).post(
        f"/api/v1/loans/{loan.pk}/repayments/",
        {"amount": "5000.01", "source": "CASH"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="ceiling-1",
    )

    assert response.status_code == 400, response.content
    assert response.json()["title"] == "Above the posting ceiling"
    assert "5,000.01 is above the ceiling of 5,000.00 for one posting" in response.json()["detail"]
    assert not LoanPayment.objects.filter(loan=loan).exists()
