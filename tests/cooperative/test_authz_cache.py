"""The shared permission/branch cache (cooperative/authz.py): a hit costs no permission queries, and
every change to roles, permissions, branches or the user row takes effect at the next request.

Requests carry a real JWT, so each one loads the user afresh as in production."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from cooperative import authz
from cooperative.models import User
from tests.ledger.factories import make_account

pytestmark = pytest.mark.django_db


def jwt_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def deposit(client, account):
    return client.post(
        f"/api/v1/accounts/{account.pk}/deposit/",
        {"amount": "10.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )


def permission_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "auth_permission" in q["sql"] or "user_branches" in q["sql"]]


def test_a_cached_caller_costs_no_permission_or_branch_queries(teller, branch):
    # given a teller whose permissions were loaded once
    account = make_account(branch)
    client = jwt_client(teller)
    assert deposit(client, account).status_code == 201
    # when the teller posts again
    with CaptureQueriesContext(connection) as queries:
        assert deposit(client, account).status_code == 201
    # then neither permissions nor branches are read from the database
    assert permission_queries(queries.captured_queries) == []


def test_removing_a_role_takes_effect_at_the_next_request(teller, branch):
    account = make_account(branch)
    client = jwt_client(teller)
    assert deposit(client, account).status_code == 201
    # when the teller loses the TELLER role
    teller.groups.remove(Group.objects.get(name="TELLER"))
    # then the very next request is refused
    assert deposit(client, account).status_code == 403


def test_removing_a_user_from_the_group_side_takes_effect_at_once(teller, branch):
    account = make_account(branch)
    client = jwt_client(teller)
    assert deposit(client, account).status_code == 201
    Group.objects.get(name="TELLER").user_set.remove(teller)
    assert deposit(client, account).status_code == 403


def test_clearing_a_groups_members_takes_effect_at_once(make_staff, branch):
    # clearing from the group side does not list the users: everyone's entry is invalidated
    group = Group.objects.create(name="NIGHT_TELLERS")
    group.permissions.add(Permission.objects.get(codename="post_transaction"))
    user = make_staff("AUDITOR", branch)
    user.groups.add(group)
    account = make_account(branch)
    client = jwt_client(user)
    assert deposit(client, account).status_code == 201
    group.user_set.clear()
    assert deposit(client, account).status_code == 403


def test_taking_a_permission_from_a_group_takes_effect_for_its_members(teller, branch):
    account = make_account(branch)
    client = jwt_client(teller)
    assert deposit(client, account).status_code == 201
    Group.objects.get(name="TELLER").permissions.remove(Permission.objects.get(codename="post_transaction"))
    assert deposit(client, account).status_code == 403


def test_a_direct_permission_granted_and_revoked_takes_effect_at_once(make_staff, branch):
    user = make_staff("AUDITOR", branch)
    account = make_account(branch)
    client = jwt_client(user)
    assert deposit(client, account).status_code == 403
    perm = Permission.objects.get(codename="post_transaction")
    user.user_permissions.add(perm)
    assert deposit(client, account).status_code == 201
    perm.user_set.remove(user)  # from the permission's side
    assert deposit(client, account).status_code == 403


def test_leaving_a_branch_hides_its_accounts_at_once(teller, branch, other_branch):
    account = make_account(branch)
    teller.branches.add(other_branch)
    client = jwt_client(teller)
    assert deposit(client, account).status_code == 201
    # when the teller is moved out of the branch (from the branch's side)
    branch.staff.remove(teller)
    # then its accounts are not found, as if they did not exist
    assert deposit(client, account).status_code == 404


def test_deactivating_a_user_locks_them_out_at_once(teller, branch):
    account = make_account(branch)
    client = jwt_client(teller)
    assert deposit(client, account).status_code == 201
    teller.is_active = False
    teller.save()
    assert deposit(client, account).status_code == 401


def test_a_superuser_flag_removed_behind_the_signals_back_is_still_noticed(make_staff, branch):
    # given a superuser without any role, served once (every permission cached)
    boss = make_staff("AUDITOR", branch, is_superuser=True)
    account = make_account(branch)
    client = jwt_client(boss)
    assert deposit(client, account).status_code == 201
    # when the flag is cleared with a queryset update (no signal, no token change)
    User.objects.filter(pk=boss.pk).update(is_superuser=False)
    # then the cached "every permission" is not used any more
    assert deposit(client, account).status_code == 403


def test_an_entry_computed_before_a_commit_is_stale_after_it(teller, django_capture_on_commit_callbacks):
    # given the teller's entry, cached
    first = authz.user_authz(User.objects.get(pk=teller.pk))
    assert "ledger.post_transaction" in first.perms
    with django_capture_on_commit_callbacks(execute=True):
        teller.groups.remove(Group.objects.get(name="TELLER"))
        # when a racing reader (another transaction: it still sees the old roles) stores an
        # entry under the token the change has just set
        tokens_now = (cache.get(authz.GLOBAL_TOKEN_KEY), cache.get(authz._user_token_key(teller.pk)))
        cache.set(authz._entry_key(teller.pk), dataclasses.replace(first, tokens=tokens_now))
    # then the commit replaces the token once more, and that entry is not used
    fresh = authz.user_authz(User.objects.get(pk=teller.pk))
    assert "ledger.post_transaction" not in fresh.perms
    assert fresh.tokens != tokens_now


def test_a_lost_token_invalidates_every_entry_that_named_it(teller):
    first = authz.user_authz(User.objects.get(pk=teller.pk))
    cache.delete(authz.GLOBAL_TOKEN_KEY)  # evicted or flushed
    again = authz.user_authz(User.objects.get(pk=teller.pk))
    assert again.tokens[0] != first.tokens[0]


def test_a_login_does_not_invalidate_the_entry(teller):
    first = authz.user_authz(User.objects.get(pk=teller.pk))
    teller.save(update_fields=["last_login"])
    with CaptureQueriesContext(connection) as queries:
        again = authz.user_authz(User.objects.get(pk=teller.pk))
    assert again.tokens == first.tokens
    assert permission_queries(queries.captured_queries) == []


def test_anonymous_and_inactive_users_get_nothing(teller):
    assert authz.user_authz(AnonymousUser()) is None
    teller.is_active = False
    assert authz.user_authz(teller) is None
