"""Ledger test fixtures.

A transactional (PostgreSQL) test ends with a flush that also empties what data migrations seeded:
the default approval policies the ledger's routing relies on and the nightly verification's beat
entry. Every ledger test that uses the database gets them back first (one query when present)."""

from __future__ import annotations

import pytest

from tests.conftest import _database_fixture
from tests.postgres_harness import restore_beat_schedule, restore_default_policies


def restore_seeded_rows() -> None:
    restore_default_policies()
    restore_beat_schedule("ledger.migrations.0005_beat_schedule_verify_ledger")


@pytest.fixture(autouse=True)
def _seeded_rows(request):
    database = _database_fixture(request)
    if database is not None:
        request.getfixturevalue(database)
        restore_seeded_rows()
    return


@pytest.fixture
def manager2(make_staff, branch):
    return make_staff("MANAGER", branch, email="manager2@test.ng")
