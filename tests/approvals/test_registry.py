"""The action-type registry domains plug into."""

from __future__ import annotations

import pytest

from approvals import registry
from tests.approvals.factories import TEST_ACTION, register_test_action


def test_registering_twice_keeps_one_entry_and_unknown_codes_are_lookup_errors():
    register_test_action()
    register_test_action()
    assert [a.code for a in registry.action_types()].count(TEST_ACTION) == 1
    assert registry.get_action(TEST_ACTION).label == "Test payout"
    with pytest.raises(LookupError):
        registry.get_action("teleport")
    assert registry.find_action("teleport") is None


def test_known_types_are_offered_before_their_domain_registers():
    choices = dict(registry.action_choices())
    assert choices["budget"] == "Budget"
    assert choices[TEST_ACTION] == "Test payout"
    assert registry.action_label("something_new") == "Something new"


def test_always_required_needs_a_fallback_permission():
    with pytest.raises(ValueError, match="fallback_permission"):
        registry.register(
            registry.ActionType(code="x_always", label="X", on_approved=print, always_required=True)
        )
    with pytest.raises(ValueError, match="1 to 40"):
        registry.register(registry.ActionType(code="x" * 41, label="X", on_approved=print))
