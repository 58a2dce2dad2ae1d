"""Every change of roles, group permissions, branches and individual permissions leaves an
ACCESS_CHANGED audit row naming the actor, the IP, the target and exactly what changed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from cooperative.models import AuditLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def access_rows():
    return list(AuditLog.objects.filter(event=AuditLog.Event.ACCESS_CHANGED).order_by("id"))


@pytest.fixture
def colleague(branch):
    return UserFactory(email="colleague@test.ng", branches=[branch])


def test_an_admin_adding_a_role_and_a_branch_is_audited_with_actor_and_ip(
    client, admin_user, colleague, branch, other_branch
):
    before = len(access_rows())
    client.force_login(admin_user)
    response = client.post(
        f"/admin/cooperative/user/{colleague.pk}/change/",
        {
            "email": colleague.email,
            "status": "ACTIVE",
            "is_active": "on",
            "is_staff": "on",
            "branches": [str(branch.pk), str(other_branch.pk)],
            "groups": [str(Group.objects.get(name="TELLER").pk)],
        },
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302
    rows = access_rows()[before:]
    by_change = {row.detail["change"]: row for row in rows}
    assert by_change["groups"].detail["added"] == ["TELLER"]
    assert by_change["branches"].detail["added"] == ["AB002"]
    for row in by_change.values():
        assert row.user == admin_user
        assert row.ip_address == "10.1.2.3"
        assert row.detail["target"] == colleague.email


def test_view_all_branches_granted_and_withdrawn(colleague):
    perm = Permission.objects.get(codename="view_all_branches")
    colleague.user_permissions.add(perm)
    colleague.user_permissions.remove(perm)
    added, removed = access_rows()[-2:]
    assert added.detail == {
        "change": "user_permissions",
        "target_type": "user",
        "target": colleague.email,
        "added": ["cooperative.view_all_branches"],
        "actor": None,  # the shell / a command: the system
    }
    assert removed.detail["removed"] == ["cooperative.view_all_branches"]


def test_group_permission_changes_and_clears_from_either_side(colleague):
    group = Group.objects.create(name="EXTRA")
    perm = Permission.objects.get(codename="view_all_branches")
    group.permissions.add(perm)
    assert access_rows()[-1].detail["added"] == ["cooperative.view_all_branches"]
    assert access_rows()[-1].detail["target"] == "EXTRA"
    group.user_set.add(colleague)  # from the group's side
    assert access_rows()[-1].detail["added"] == [colleague.email]
    colleague.groups.clear()
    assert access_rows()[-1].detail["removed"] == ["EXTRA"]
    assert access_rows()[-1].detail["target"] == colleague.email
