"""Approvals test helpers: a test-only action type on a tiny subject (a Branch), and policy factories.

The action type records its callbacks in `calls`, so tests can assert what ran and how often; set
`FAIL_ON_APPROVE` to make on_approved refuse like a domain would (e.g. insufficient funds)."""

from __future__ import annotations

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from approvals import registry
from approvals.models import ApprovalLevel, ApprovalPolicy
from cooperative.exceptions import Conflict

TEST_ACTION = "test_payout"
calls: list[tuple] = []
state = {"fail_on_approve": None}


def _on_approved(request, actor):
    if state["fail_on_approve"]:
        raise Conflict(state["fail_on_approve"])
    calls.append(("approved", str(request.pk), actor.email))


def _on_rejected(request, actor, comment):
    calls.append(("rejected", str(request.pk), actor.email, comment))


def _on_cancelled(request, actor, reason):
    calls.append(("cancelled", str(request.pk), actor.email if actor else None, reason))


def _summary(request, user):
    return {"template": "approvals/summary_rows.html", "rows": [("Test subject", str(request.subject))]}


def register_test_action(**overrides) -> registry.ActionType:
    action = registry.ActionType(
        code=TEST_ACTION,
        label="Test payout",
        on_approved=_on_approved,
        on_rejected=_on_rejected,
        on_cancelled=_on_cancelled,
        summary=overrides.pop("summary", _summary),
        **overrides,
    )
    registry.register(action)
    return action


class PolicyFactory(DjangoModelFactory):
    class Meta:
        model = ApprovalPolicy

    action_type = TEST_ACTION
    min_amount = Decimal("0.00")
    max_amount = None
    remind_after_hours = 24
    timeout_after_hours = 72


def make_policy(levels, *, action_type=TEST_ACTION, low="0", high=None, **kwargs) -> ApprovalPolicy:
    """make_policy([(["MANAGER"], 1), (["CREDIT_COMMITTEE"], 2)], low="500000", high=None)"""
    policy = PolicyFactory(
        action_type=action_type,
        min_amount=Decimal(low),
        max_amount=Decimal(high) if high is not None else None,
        **kwargs,
    )
    for order, (roles, required) in enumerate(levels, start=1):
        ApprovalLevel.objects.create(
            policy=policy, order=order, roles=list(roles), required_approvals=required
        )
    return policy


__all__ = ["calls", "state", "TEST_ACTION", "PolicyFactory", "factory", "make_policy", "register_test_action"]
