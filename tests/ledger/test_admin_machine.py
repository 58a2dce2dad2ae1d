"""The account list's freeze / unfreeze / close actions are offered to whom ACCOUNT_MACHINE gives the
step's permission, role by role (the roles `bootstrap_roles` creates): no second table in the admin."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from cooperative.roles import ROLES
from ledger.models import Account
from ledger.workflow import ACCOUNT_MACHINE

pytestmark = pytest.mark.django_db

STEPS = {"freeze_selected": "freeze", "unfreeze_selected": "unfreeze", "close_selected": "close"}


@pytest.mark.parametrize("role", ROLES)
def test_the_status_actions_are_the_machine_steps_the_role_may_take(make_staff, branch, role):
    user = make_staff(role, branch, email=f"{role.lower()}@test.ng")
    request = RequestFactory().get("/admin/ledger/account/")
    request.user = user

    offered = set(admin.site._registry[Account].get_actions(request))

    for action, step in STEPS.items():
        assert (action in offered) is user.has_perm(ACCOUNT_MACHINE[step].permission), (role, action)
