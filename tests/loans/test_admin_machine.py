"""The loan page's buttons and the action views ask LOAN_MACHINE who may take a step and from which
status: no second table in the admin. The roles are the ones `bootstrap_roles` creates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from cooperative.roles import ROLES
from loans.admin.lifecycle import ACTIONS
from loans.models import Loan
from loans.workflow import LOAN_MACHINE
from tests.loans.factories import decide, make_loan

pytestmark = pytest.mark.django_db
D = Decimal


def roles_holding(permission: str) -> list[str]:
    app_label, codename = permission.split(".")
    groups = Group.objects.filter(
        name__in=ROLES, permissions__content_type__app_label=app_label, permissions__codename=codename
    )
    return sorted(groups.values_list("name", flat=True))


@pytest.fixture
def written_off_loan(officer, manager, manager2, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    from loans.services import write_off_loan

    write_off_loan(actor=manager, loan_id=loan.pk, reason="Member relocated")
    decide(loan, "write_off", by=manager2)
    loan.refresh_from_db()
    assert loan.status == Loan.Status.WRITTEN_OFF
    return loan


def test_every_button_names_a_step_of_the_machine():
    for action in ACTIONS.values():
        if action.step:  # the repayment is a step inside DISBURSED, checked by its service
            assert LOAN_MACHINE[action.step].name == action.step


def test_each_role_the_machine_allows_records_a_recovery_in_the_admin(
    client, make_staff, branch, written_off_loan
):
    permission = LOAN_MACHINE["record_recovery"].permission
    allowed = roles_holding(permission)
    assert "TELLER" in allowed  # the counter takes the money in
    url = reverse("admin:loans_loan_recovery", args=[written_off_loan.pk])
    change = reverse("admin:loans_loan_change", args=[written_off_loan.pk])

    for number, role in enumerate(allowed, start=1):
        user = make_staff(role, branch, email=f"recovery-{role.lower()}@test.ng")
        client.force_login(user)

        page = client.get(change).content.decode()
        response = client.post(url, {"amount": "1000", "source": "CASH"})

        assert 'class="loans-recovery"' in page, role
        assert response.status_code == 302, role
        assert response["Location"] == change
        written_off_loan.refresh_from_db()
        assert written_off_loan.recovered_amount == D("1000.00") * number, role


def test_a_role_the_machine_does_not_allow_gets_no_recovery_button_and_a_refusal(
    client, make_staff, branch, written_off_loan
):
    permission = LOAN_MACHINE["record_recovery"].permission
    allowed = roles_holding(permission)
    assert "MANAGER" not in allowed
    client.force_login(make_staff("MANAGER", branch, email="recovery-manager@test.ng"))

    page = client.get(reverse("admin:loans_loan_change", args=[written_off_loan.pk])).content.decode()
    refused = client.post(
        reverse("admin:loans_loan_recovery", args=[written_off_loan.pk]), {"amount": "1000", "source": "CASH"}
    )

    assert 'class="loans-recovery"' not in page
    assert refused.status_code == 403
    written_off_loan.refresh_from_db()
    assert written_off_loan.recovered_amount == D("0.00")


@pytest.mark.parametrize("role", ROLES)
def test_the_buttons_of_a_loan_are_the_steps_the_machine_offers_the_role(
    client, make_staff, branch, role, officer, manager, product, borrower
):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)  # disbursed
    user = make_staff(role, branch, email=f"buttons-{role.lower()}@test.ng")
    client.force_login(user)

    page = client.get(reverse("admin:loans_loan_change", args=[loan.pk]))
    assert page.status_code == 200
    html = page.content.decode()

    for action in ACTIONS.values():
        if not action.step or action.name in ("approve", "reject"):
            continue  # the repayment is no step of the machine; approve/reject also need the request
        expected = LOAN_MACHINE.offers(loan, action.step, actor=user)
        assert (f'class="loans-{action.name}"' in html) is expected, (role, action.name)
