"""`POST /api/v1/loans/{id}/guarantors/` offers only members the caller can see: a member of
another branch is "not found", word for word like an id that does not exist, and nothing about
that member (number, savings) is revealed, whatever the amount."""

from __future__ import annotations

import json
import uuid

import pytest

from loans.models import Guarantor, Loan
from tests.loans.factories import make_loan, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def loan(officer, product, borrower):
    return make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)


def pledge(client, loan, member_id, amount):
    return client.post(
        f"/api/v1/loans/{loan.pk}/guarantors/", {"member": str(member_id), "amount": amount}, format="json"
    )


def scrubbed(response, member_id) -> dict:
    """The problem document with the member id and the request id taken out."""
    body = {k: v for k, v in response.json().items() if k != "request_id"}
    return json.loads(json.dumps(body).replace(str(member_id), "<id>"))


@pytest.mark.parametrize("amount", ["1000.00", "99000000.00"])
def test_a_member_of_another_branch_cannot_be_pledged_and_is_not_revealed(
    api_as, officer, loan, other_branch, amount
):
    # given a well-off member in a branch the officer does not work in
    outsider = make_member(other_branch, savings="750000")

    # when the officer pledges them (a small amount, and one above their savings)
    response = pledge(api_as(officer), loan, outsider.pk, amount)
    unknown = uuid.uuid4()
    missing = pledge(api_as(officer), loan, unknown, amount)

    # then it is refused exactly as an id that does not exist, and nothing is pledged
    assert response.status_code == missing.status_code == 400
    body = response.content.decode()
    assert outsider.member_number not in body
    assert "750" not in body
    assert scrubbed(response, outsider.pk) == scrubbed(missing, unknown)
    assert not Guarantor.objects.exists()


def test_a_member_of_the_officers_own_branch_can_still_be_pledged(api_as, officer, loan, branch):
    neighbour = make_member(branch, savings="40000")
    assert pledge(api_as(officer), loan, neighbour.pk, "30000.00").status_code == 201


def test_staff_who_see_every_branch_may_pledge_any_member(api_as, make_staff, branch, loan, other_branch):
    # given head-office credit staff with view_all_branches (ADMIN holds it)
    head_office = make_staff("ADMIN", branch, is_superuser=True)
    outsider = make_member(other_branch, savings="40000")
    assert pledge(api_as(head_office), loan, outsider.pk, "30000.00").status_code == 201
