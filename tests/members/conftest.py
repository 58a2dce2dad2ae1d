"""Fixtures for the members tests."""

from __future__ import annotations

import pytest

from members import services
from tests.members.factories import MemberFactory


@pytest.fixture
def register(teller, branch):
    """register(**overrides) -> a member registered through the service by the Main Branch teller."""

    def make(*, actor=None, **overrides):
        values = {
            "branch": branch,
            "first_name": "Adebayo",
            "last_name": "Ogunleye",
            "phone": "0803 123 4567",
        }
        values.update(overrides)
        return services.register_member(actor=actor or teller, **values)

    return make


@pytest.fixture
def member(branch):
    return MemberFactory(branch=branch, first_name="Chiamaka", last_name="Nwosu", phone="+2348061234567")


@pytest.fixture
def other_member(other_branch):
    return MemberFactory(branch=other_branch, first_name="Yusuf", last_name="Garba", phone="+2349021234567")


@pytest.fixture
def admin_client_as(client):
    """admin_client_as(user) -> the Django test client logged in as that staff user."""

    def make(user):
        client.force_login(user)
        return client

    return make


@pytest.fixture
def roles_restored(transactional_roles):
    """Transactional tests flush the database between tests, role groups included: re-create them
    (tests/postgres_harness.py), and the seeded rows after the module."""
