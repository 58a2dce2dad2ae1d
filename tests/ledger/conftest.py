"""Ledger test fixtures.

A transactional (PostgreSQL) test ends with a flush that also empties what data migrations seeded:
the default approval policies the ledger's routing relies on and the nightly verification's beat
entry. Every ledger test that uses the database gets them back first (one query when present)."""

from __future__ import annotations

import importlib

import pytest

from tests.conftest import _database_fixture


def restore_seeded_rows() -> None:
    from django.apps import apps

    from approvals.models import ApprovalPolicy
    from approvals.selectors import policies_changed

    if not ApprovalPolicy.objects.filter(action_type="reversal").exists():
        importlib.import_module("approvals.migrations.0002_default_policies").create_policies(apps, None)
        policies_changed()
    importlib.import_module("ledger.migrations.0005_beat_schedule_verify_ledger").create_schedule(apps, None)


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
