"""Nobody promotes themselves: only a superuser or a holder of `cooperative.manage_roles` changes
roles, branches and individual permissions, only a superuser changes superuser status, and nobody
changes their own access, whatever the form posts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _perms(*codenames):
    return Permission.objects.filter(content_type__app_label="cooperative", codename__in=codenames)


@pytest.fixture
def user_clerk(branch):
    """Staff given change_user (and view_user), nothing more: not a superuser, no manage_roles."""
    user = UserFactory(email="clerk@test.ng", branches=[branch])
    user.user_permissions.add(*_perms("view_user", "change_user"))
    return user


@pytest.fixture
def role_manager(branch):
    user = UserFactory(email="roles@test.ng", branches=[branch])
    user.user_permissions.add(*_perms("view_user", "change_user", "manage_roles"))
    return user


@pytest.fixture
def colleague(branch):
    return UserFactory(email="colleague@test.ng", first_name="Col", branches=[branch])


def post_user(client, editor, target, **fields):
    client.force_login(editor)
    data = {
        "email": target.email,
        "first_name": fields.pop("first_name", target.first_name),
        "last_name": target.last_name,
        "phone": "",
        "status": "ACTIVE",
        "is_active": "on",
        "is_staff": "on",
        "branches": [str(pk) for pk in target.branches.values_list("pk", flat=True)],
        **fields,
    }
    return client.post(f"/admin/cooperative/user/{target.pk}/change/", data)


def admin_group():
    return Group.objects.get(name="ADMIN")


def test_change_user_alone_cannot_add_oneself_to_admin(client, user_clerk):
    response = post_user(client, user_clerk, user_clerk, groups=[str(admin_group().pk)], is_superuser="on")
    assert response.status_code in (302, 403)
    user_clerk.refresh_from_db()
    assert not user_clerk.groups.exists()
    assert not user_clerk.is_superuser


def test_change_user_alone_cannot_change_anyones_roles_or_superuser_status(client, user_clerk, colleague):
    response = post_user(
        client, user_clerk, colleague, first_name="Renamed", groups=[str(admin_group().pk)], is_superuser="on"
    )
    assert response.status_code == 302
    colleague.refresh_from_db()
    assert colleague.first_name == "Renamed"  # the rest of the form still saves
    assert not colleague.groups.exists()
    assert not colleague.is_superuser
    page = client.get(f"/admin/cooperative/user/{colleague.pk}/change/").content.decode()
    assert 'name="groups"' not in page
    assert 'name="is_superuser"' not in page


def test_manage_roles_changes_others_roles_but_never_superuser_status(client, role_manager, colleague):
    response = post_user(client, role_manager, colleague, groups=[str(admin_group().pk)], is_superuser="on")
    assert response.status_code == 302
    colleague.refresh_from_db()
    assert list(colleague.groups.values_list("name", flat=True)) == ["ADMIN"]
    assert not colleague.is_superuser


@pytest.mark.parametrize("editor_fixture", ["role_manager", "admin_user"])
def test_nobody_changes_their_own_access(client, request, editor_fixture):
    editor = request.getfixturevalue(editor_fixture)
    groups_before = set(editor.groups.values_list("pk", flat=True))
    response = post_user(
        client, editor, editor, first_name="Me", groups=[str(admin_group().pk)], user_permissions=[]
    )
    assert response.status_code == 302
    editor.refresh_from_db()
    assert editor.first_name == "Me"
    assert set(editor.groups.values_list("pk", flat=True)) == groups_before
    page = client.get(f"/admin/cooperative/user/{editor.pk}/change/").content.decode()
    assert 'name="groups"' not in page
    assert 'name="branches"' not in page


def test_a_superuser_changes_someone_elses_superuser_status(client, admin_user, colleague):
    assert post_user(client, admin_user, colleague, is_superuser="on").status_code == 302
    colleague.refresh_from_db()
    assert colleague.is_superuser
