"""Shared fixtures. App-specific factories live in tests/<app>/factories.py (or tests/factories.py
for the cooperative core)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.factories import BranchFactory, UserFactory
from tests.postgres_harness import (  # noqa: F401 - fixtures for the transactional PostgreSQL tests
    reference_data_after_module,
    transactional_reference_data,
    transactional_roles,
)

pytest_plugins: list[str] = []


def pytest_collection_modifyitems(config, items):
    """`postgres` tests need row locks; they are skipped on SQLite and must run in CI (PostgreSQL)."""
    if settings.IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL); CI runs it")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _clear_own_cache() -> None:
    """Rate limits and lockouts live in the cache; tests must not leak them into each other.

    On Redis only this process's keys (its KEY_PREFIX, see settings/test.py) are removed: a FLUSHDB
    would wipe the counters of a test running in a parallel xdist worker."""
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()


def _database_fixture(request) -> str | None:
    """Which database fixture the test uses, if any (marker or requested fixture)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None:
        transactional = marker.kwargs.get("transaction", False) or bool(marker.args and marker.args[0])
        return "transactional_db" if transactional else "db"
    for name in ("transactional_db", "db"):
        if name in request.fixturenames:
            return name
    return None


@pytest.fixture(autouse=True)
def _clear_cache(request):
    database = _database_fixture(request)
    if database is None and not hasattr(cache, "delete_pattern"):
        # No database and a database-backed cache: nothing the test does can reach the cache.
        yield
        return
    if database is not None:
        request.getfixturevalue(database)
        if database == "transactional_db" and not Group.objects.filter(name="TELLER").exists():
            # A previous transactional test emptied every table, role groups included.
            call_command("bootstrap_roles", verbosity=0)
    _clear_own_cache()
    yield
    _clear_own_cache()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("createcachetable", verbosity=0)
        call_command("bootstrap_roles", verbosity=0)


@pytest.fixture
def branch(db):
    return BranchFactory(code="MB001", name="Main Branch", city="Lagos", state="Lagos")


@pytest.fixture
def other_branch(db):
    return BranchFactory(code="AB002", name="Abuja Branch", city="Abuja", state="FCT")


def _staff(role: str, branch, **kwargs):
    return UserFactory(roles=[role], branches=[branch] if branch else [], **kwargs)


@pytest.fixture
def make_staff(db):
    """make_staff("TELLER", branch) -> a staff user with that role in that branch."""
    return _staff


@pytest.fixture
def teller(branch):
    return _staff("TELLER", branch, email="teller@test.ng")


@pytest.fixture
def manager(branch):
    return _staff("MANAGER", branch, email="manager@test.ng")


@pytest.fixture
def accountant(branch):
    return _staff("ACCOUNTANT", branch, email="accountant@test.ng")


@pytest.fixture
def auditor(branch):
    return _staff("AUDITOR", branch, email="auditor@test.ng")


@pytest.fixture
def admin_user(branch):
    return _staff("ADMIN", branch, email="admin@test.ng", is_superuser=True)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def api_as():
    """api_as(user) -> an APIClient authenticated as that user (JWT-free, force_authenticate)."""

    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _no_kyc_tier_limits(settings):
    """Tests that are not about KYC post without the tier limits (ledger/kyc.py): their members are
    bare rows with KYC pending (tier I). The KYC tests switch them on again."""
    settings.KYC_TIER_LIMITS = False
