from __future__ import annotations

from decimal import Decimal

import pytest

from approvals import registry
from approvals.services import request_approval
from tests.approvals.factories import TEST_ACTION, calls, register_test_action, state


@pytest.fixture(autouse=True)
def test_action():
    calls.clear()
    state["fail_on_approve"] = None
    action = register_test_action()
    yield action
    registry.unregister(TEST_ACTION)
    calls.clear()


@pytest.fixture
def committee(make_staff, branch):
    return [
        make_staff("CREDIT_COMMITTEE", branch, email="cc1@test.ng"),
        make_staff("CREDIT_COMMITTEE", branch, email="cc2@test.ng"),
    ]


@pytest.fixture
def manager2(make_staff, branch):
    return make_staff("MANAGER", branch, email="manager2@test.ng")


@pytest.fixture
def ask(teller, branch):
    """ask(amount, subject=branch, **kw) -> an ApprovalRequest (or None) asked by the teller."""

    def make(amount="1000.00", *, subject=None, requested_by=None, **kwargs):
        return request_approval(
            action_type=kwargs.pop("action_type", TEST_ACTION),
            subject=subject or branch,
            amount=Decimal(amount),
            branch_id=kwargs.pop("branch_id", branch.pk),
            requested_by=requested_by or teller,
            title=kwargs.pop("title", "Payout to Bisi Adewale"),
            member_display=kwargs.pop("member_display", "Bisi Adewale (M0001)"),
            **kwargs,
        )

    return make
