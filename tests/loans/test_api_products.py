"""Loan products over the API: list, read, create/update with permission, and the schedule preview
that must print exactly what `manage.py loan_schedule --json` prints."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from loans.management.commands.loan_schedule import render_schedule
from loans.models import LoanProduct

pytestmark = pytest.mark.django_db


def grant(user, *codenames: str):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="loans", codename__in=codenames)
    )
    return user


def make_product(**fields) -> LoanProduct:
    values = {
        "name": "Salary advance",
        "interest_rate": Decimal("12"),
        "min_amount": Decimal("10000"),
        "max_amount": Decimal("1000000"),
        "min_term": 3,
        "max_term": 24,
    }
    values.update(fields)
    return LoanProduct.objects.create(**values)


@pytest.fixture
def officer(make_staff, branch):
    return grant(make_staff("TELLER", branch, email="officer@test.ng"), "view_loanproduct")


def preview_url(product) -> str:
    return reverse("loanproduct-schedule-preview", args=[product.pk])


def test_products_are_listed_with_rates_and_amounts_as_strings(api_as, officer):
    # given
    make_product()

    # when
    response = api_as(officer).get("/api/v1/loan-products/")

    # then
    assert response.status_code == 200
    row = response.json()["results"][0] if "results" in response.json() else response.json()[0]
    assert row["name"] == "Salary advance"
    assert row["interest_rate"] == "12.0000"
    assert row["min_amount"] == "10000.00"
    assert row["calculation_method"] == "reducing_balance"


def test_creating_a_product_needs_the_add_permission(api_as, officer):
    payload = {
        "name": "Asset loan",
        "interest_rate": "18",
        "min_amount": "50000",
        "max_amount": "500000",
        "min_term": 6,
        "max_term": 18,
    }
    # when: a user who may only view
    refused = api_as(officer).post("/api/v1/loan-products/", payload, format="json")
    # then
    assert refused.status_code == 403

    # when: with the permission
    grant(officer, "add_loanproduct")
    officer = type(officer).objects.get(pk=officer.pk)
    created = api_as(officer).post("/api/v1/loan-products/", payload, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["max_amount"] == "500000.00"
    assert LoanProduct.objects.filter(name="Asset loan").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"interest_rate": "0"}, "interest_rate"),
        ({"interest_rate": "250"}, "interest_rate"),
        ({"max_amount": "5000"}, "max_amount"),
        ({"max_term": 2}, "max_term"),
        ({"allocation_order": "principal,interest"}, "allocation_order"),
        ({"installment_multiple": "0"}, "installment_multiple"),
    ],
)
def test_bad_product_settings_are_a_400_naming_the_field(api_as, officer, change, field):
    # given
    product = make_product()
    grant(officer, "change_loanproduct")
    officer = type(officer).objects.get(pk=officer.pk)

    # when
    response = api_as(officer).patch(f"/api/v1/loan-products/{product.pk}/", change, format="json")

    # then
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


def test_schedule_preview_equals_the_cli_json_for_the_same_inputs(api_as, officer):
    # given
    product = make_product(calculation_method="flat_rate", installment_multiple=Decimal("1"))

    # when
    response = api_as(officer).post(
        preview_url(product),
        {"principal": "100000", "term": 12, "disbursed_on": "2027-01-31"},
        format="json",
    )

    # then
    assert response.status_code == 200, response.content
    cli = render_schedule(
        {
            "principal": "100000",
            "annual_rate": "12",
            "term_months": "12",
            "method": "flat_rate",
            "installment_multiple": "1",
            "disbursed_on": "2027-01-31",
            "json": True,
        }
    )
    assert response.json() == json.loads(cli)
    assert response.json()[0]["due_date"] == "2027-02-28"  # clamped to month end


def test_schedule_preview_honours_a_first_due_date(api_as, officer):
    product = make_product()

    response = api_as(officer).post(
        preview_url(product),
        {"principal": "50000.00", "term": 3, "disbursed_on": "2027-01-10", "first_due_on": "2027-03-01"},
        format="json",
    )

    assert response.status_code == 200
    assert [row["due_date"] for row in response.json()] == ["2027-03-01", "2027-04-01", "2027-05-01"]
    assert sum(Decimal(row["principal"]) for row in response.json()) == Decimal("50000.00")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"principal": "5000", "term": 12}, "principal"),
        ({"principal": "2000000", "term": 12}, "principal"),
        ({"principal": "100000", "term": 36}, "term"),
        ({"principal": "100000", "term": 1}, "term"),
        ({"principal": "abc", "term": 12}, "principal"),
        ({"principal": "100000.001", "term": 12}, "principal"),
        ({"principal": "100000", "term": 12, "disbursed_on": "2027-02-30"}, "disbursed_on"),
        (
            {"principal": "100000", "term": 12, "disbursed_on": "2027-02-01", "first_due_on": "2027-01-01"},
            "first_due_on",
        ),
    ],
)
def test_schedule_preview_refuses_bad_input_naming_the_field(api_as, officer, body, field):
    product = make_product()

    response = api_as(officer).post(preview_url(product), body, format="json")

    assert response.status_code == 400
    assert field in [error["field"] for error in response.json()["errors"]]


def test_schedule_preview_of_an_unknown_product_is_a_404(api_as, officer):
    response = api_as(officer).post(
        "/api/v1/loan-products/8d7f8c4e-55a5-4b8a-9d2a-3a0c3b7e0f00/schedule-preview/",
        {"principal": "100000", "term": 12},
        format="json",
    )

    assert response.status_code == 404


def test_schedule_preview_needs_a_login(api_client):
    product = make_product()

    response = api_client.post(preview_url(product), {"principal": "100000", "term": 12}, format="json")

    assert response.status_code == 401
