"""The loans changelist's loan-officer filter lists the officers of the loans the user can see."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.loans.factories import make_loan, make_member

pytestmark = pytest.mark.django_db


def _officer_choices(client) -> set[str]:
    page = client.get(reverse("admin:loans_loan_changelist"))
    assert page.status_code == 200
    spec = next(s for s in page.context["cl"].filter_specs if getattr(s, "parameter_name", "") == "officer")
    return {label for _, label in spec.lookup_choices}


def test_a_branch_manager_sees_only_their_branchs_officers(
    client, branch, officer, manager, product, other_branch, make_staff
):
    # given a loan in each branch, with different officers
    theirs_officer = make_staff("LOAN_OFFICER", other_branch, email="kano-officer@test.ng")
    theirs_manager = make_staff("MANAGER", other_branch, email="kano-manager@test.ng")
    make_loan(member=make_member(branch, savings="300000"), product=product, officer=officer, manager=manager)
    make_loan(
        member=make_member(other_branch, savings="300000"),
        product=product,
        officer=theirs_officer,
        manager=theirs_manager,
    )
    name = lambda user: user.get_full_name() or user.email  # noqa: E731
    # when the manager of the first branch opens the list, then only their officer is offered
    client.force_login(manager)
    assert _officer_choices(client) == {name(officer)}
    # and someone who sees every branch gets both
    theirs_manager.is_superuser = True
    theirs_manager.save()
    client.force_login(theirs_manager)
    assert _officer_choices(client) == {name(officer), name(theirs_officer)}
