"""bootstrap_roles: the groups, their permissions, idempotency, and docs/roles.md being current."""

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from cooperative.roles import ROLES

pytestmark = pytest.mark.django_db

ROLES_DOC = Path(settings.BASE_DIR) / "docs" / "roles.md"


def snapshot() -> dict[str, set[str]]:
    return {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }


def run_bootstrap() -> str:
    out = io.StringIO()
    call_command("bootstrap_roles", stdout=out)
    return out.getvalue()


def test_every_role_group_exists():
    run_bootstrap()
    assert set(ROLES) <= set(Group.objects.values_list("name", flat=True))
    assert set(ROLES) == {
        "ADMIN",
        "MANAGER",
        "CREDIT_COMMITTEE",
        "LOAN_OFFICER",
        "TELLER",
        "ACCOUNTANT",
        "AUDITOR",
        "PARTNER",
    }


def test_running_twice_gives_the_same_permissions():
    # given
    run_bootstrap()
    first = snapshot()
    # when
    output = run_bootstrap()
    # then
    assert snapshot() == first
    assert Group.objects.filter(name__in=ROLES).count() == len(ROLES)
    assert "Roles are up to date." in output


def test_a_permission_removed_by_hand_is_restored_and_extras_are_removed():
    run_bootstrap()
    expected = snapshot()
    teller = Group.objects.get(name="TELLER")
    teller.permissions.remove(Permission.objects.get(codename="view_branch"))
    teller.permissions.add(Permission.objects.get(codename="delete_branch"))
    run_bootstrap()
    assert snapshot() == expected


def test_admin_holds_every_permission():
    run_bootstrap()
    assert Group.objects.get(name="ADMIN").permissions.count() == Permission.objects.count()


def test_auditor_reads_everything_and_changes_nothing():
    run_bootstrap()
    perms = snapshot()["AUDITOR"]
    every_view = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.filter(codename__startswith="view_").select_related("content_type")
    }
    assert every_view <= perms
    assert {"cooperative.view_audit_log", "cooperative.view_all_branches"} <= perms
    assert not any(p.split(".", 1)[1].startswith(("add_", "change_", "delete_")) for p in perms)


def test_declared_cooperative_permissions():
    run_bootstrap()
    perms = snapshot()
    assert "cooperative.view_audit_log" in perms["MANAGER"]
    assert "cooperative.view_branch" in perms["TELLER"]
    for role in ("MANAGER", "LOAN_OFFICER", "TELLER", "ACCOUNTANT", "PARTNER"):
        assert "cooperative.view_all_branches" not in perms[role], role
        assert "cooperative.change_user" not in perms[role], role


def test_other_groups_are_left_alone():
    custom = Group.objects.create(name="Head office credit")
    custom.permissions.add(Permission.objects.get(codename="view_branch"))
    run_bootstrap()
    assert list(
        Group.objects.get(name="Head office credit").permissions.values_list("codename", flat=True)
    ) == ["view_branch"]


def test_docs_roles_md_is_current():
    """docs/roles.md is generated; when this fails run
    `python manage.py bootstrap_roles --matrix > docs/roles.md` (after `migrate`) and commit it."""
    out = io.StringIO()
    call_command("bootstrap_roles", "--matrix", stdout=out)
    assert ROLES_DOC.read_text() == out.getvalue(), (
        "docs/roles.md is stale: run `python manage.py bootstrap_roles --matrix > docs/roles.md`"
    )


def test_matrix_lists_every_role_column():
    out = io.StringIO()
    call_command("bootstrap_roles", "--matrix", stdout=out)
    header = next(line for line in out.getvalue().splitlines() if line.startswith("| permission |"))
    assert header == "| permission | " + " | ".join(ROLES) + " |"
