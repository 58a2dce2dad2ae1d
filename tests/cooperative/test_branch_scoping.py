"""Branch scoping on the admin (list, change, delete, history, autocomplete, actions, related-field
choices) and on the API: staff see their own branches' rows; everything else answers 404."""

import pytest
from django.contrib.auth.models import Permission
from guardian.shortcuts import assign_perm

from cooperative.models import AuditLog, Branch, User
from tests.factories import BranchFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_admin(branch):
    """A non-superuser branch administrator with every cooperative model permission."""
    user = UserFactory(email="branch-admin@test.ng", branches=[branch])
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="cooperative").exclude(
            codename="view_all_branches"
        )
    )
    return user


@pytest.fixture
def colleague(branch):
    return UserFactory(email="colleague@test.ng", branches=[branch])


@pytest.fixture
def stranger(other_branch):
    return UserFactory(email="stranger@test.ng", branches=[other_branch])


def _admin(client, user):
    client.force_login(user)
    return client


def _ids(response):
    return {str(obj.pk) for obj in response.context["cl"].result_list}


# --- changelists -------------------------------------------------------------------------------


def test_branch_changelist_shows_only_the_users_branches(client, staff_admin, branch, other_branch):
    # when
    response = _admin(client, staff_admin).get("/admin/cooperative/branch/")
    # then
    assert response.status_code == 200
    assert _ids(response) == {str(branch.pk)}
    assert "Abuja Branch" not in response.content.decode()


def test_user_changelist_shows_only_colleagues(client, staff_admin, colleague, stranger):
    response = _admin(client, staff_admin).get("/admin/cooperative/user/")
    assert response.status_code == 200
    assert _ids(response) == {str(staff_admin.pk), str(colleague.pk)}


def test_user_in_two_branches_is_listed_once(client, staff_admin, branch, other_branch):
    # given a colleague who works in both branches
    UserFactory(email="both@test.ng", branches=[branch, other_branch])
    staff_admin.user_permissions.add(Permission.objects.get(codename="view_all_branches"))
    # when
    response = _admin(client, staff_admin).get("/admin/cooperative/user/")
    # then
    emails = [u.email for u in response.context["cl"].result_list]
    assert emails.count("both@test.ng") == 1


def test_auditlog_changelist_shows_only_the_users_branch_rows(client, staff_admin, branch, other_branch):
    # given one event per branch
    AuditLog.objects.create(event=AuditLog.Event.OTHER, branch=branch, username="mine")
    AuditLog.objects.create(event=AuditLog.Event.OTHER, branch=other_branch, username="theirs")
    # when
    response = _admin(client, staff_admin).get("/admin/cooperative/auditlog/")
    # then
    assert response.status_code == 200
    shown = {row.username for row in response.context["cl"].result_list if row.event == "OTHER"}
    assert shown == {"mine"}


def test_view_all_branches_permission_shows_every_row(client, staff_admin, branch, other_branch):
    # given
    staff_admin.user_permissions.add(Permission.objects.get(codename="view_all_branches"))
    # when
    response = _admin(client, staff_admin).get("/admin/cooperative/branch/")
    # then
    assert _ids(response) == {str(branch.pk), str(other_branch.pk)}


def test_guardian_object_grant_makes_exactly_one_more_row_visible(client, staff_admin, other_branch):
    # given a third branch nobody shares, and a grant on Abuja only
    BranchFactory(code="KN003", name="Kano Branch")
    assign_perm("cooperative.view_branch", staff_admin, other_branch)
    # when
    response = _admin(client, staff_admin).get("/admin/cooperative/branch/")
    # then
    assert {b.code for b in response.context["cl"].result_list} == {"MB001", "AB002"}


def test_guardian_group_grant_also_counts(client, staff_admin, other_branch):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="Head office credit")
    staff_admin.groups.add(group)
    assign_perm("cooperative.view_branch", group, other_branch)
    response = _admin(client, staff_admin).get("/admin/cooperative/branch/")
    assert "AB002" in {b.code for b in response.context["cl"].result_list}


# --- change / delete / history pages -----------------------------------------------------------


@pytest.mark.parametrize("suffix", ["change/", "delete/", "history/"])
def test_out_of_scope_branch_pages_answer_404(client, staff_admin, other_branch, suffix):
    response = _admin(client, staff_admin).get(f"/admin/cooperative/branch/{other_branch.pk}/{suffix}")
    assert response.status_code == 404


@pytest.mark.parametrize("suffix", ["change/", "delete/", "history/", "password/"])
def test_out_of_scope_user_pages_answer_404(client, staff_admin, stranger, suffix):
    response = _admin(client, staff_admin).get(f"/admin/cooperative/user/{stranger.pk}/{suffix}")
    assert response.status_code == 404


@pytest.mark.parametrize("suffix", ["change/", "history/"])
def test_out_of_scope_auditlog_pages_answer_404(client, staff_admin, other_branch, suffix):
    row = AuditLog.objects.create(event=AuditLog.Event.OTHER, branch=other_branch)
    response = _admin(client, staff_admin).get(f"/admin/cooperative/auditlog/{row.pk}/{suffix}")
    assert response.status_code == 404


@pytest.mark.parametrize("object_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_missing_or_malformed_ids_answer_404_like_out_of_scope_ones(client, staff_admin, object_id):
    for suffix in ("change/", "delete/", "history/"):
        response = _admin(client, staff_admin).get(f"/admin/cooperative/branch/{object_id}/{suffix}")
        assert response.status_code == 404, suffix


def test_history_of_an_out_of_scope_historical_version_answers_404(client, staff_admin, other_branch):
    version = other_branch.history.first()
    response = _admin(client, staff_admin).get(
        f"/admin/cooperative/branch/{other_branch.pk}/history/{version.history_id}/"
    )
    assert response.status_code == 404


def test_in_scope_pages_open(client, staff_admin, branch, colleague):
    c = _admin(client, staff_admin)
    for url in (
        f"/admin/cooperative/branch/{branch.pk}/change/",
        f"/admin/cooperative/branch/{branch.pk}/history/",
        f"/admin/cooperative/branch/{branch.pk}/delete/",
        f"/admin/cooperative/user/{colleague.pk}/change/",
        f"/admin/cooperative/user/{colleague.pk}/history/",
    ):
        assert c.get(url).status_code == 200, url


def test_posting_a_change_to_an_out_of_scope_branch_changes_nothing(client, staff_admin, other_branch):
    # when
    response = _admin(client, staff_admin).post(
        f"/admin/cooperative/branch/{other_branch.pk}/change/",
        {"name": "Hijacked", "code": "AB002", "status": "ACTIVE"},
    )
    # then
    assert response.status_code == 404
    other_branch.refresh_from_db()
    assert other_branch.name == "Abuja Branch"


def test_deleting_an_out_of_scope_user_by_post_is_refused(client, staff_admin, stranger):
    response = _admin(client, staff_admin).post(
        f"/admin/cooperative/user/{stranger.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 404
    assert User.objects.filter(pk=stranger.pk).exists()


# --- actions -----------------------------------------------------------------------------------


def test_bulk_delete_action_ignores_out_of_scope_ids(client, staff_admin, colleague, stranger):
    # when the admin forges a selection that includes a stranger from another branch
    response = _admin(client, staff_admin).post(
        "/admin/cooperative/user/",
        {
            "action": "delete_selected",
            "_selected_action": [str(colleague.pk), str(stranger.pk)],
            "post": "yes",
        },
    )
    # then only the colleague is gone
    assert response.status_code == 302
    assert not User.objects.filter(pk=colleague.pk).exists()
    assert User.objects.filter(pk=stranger.pk).exists()


# --- autocomplete ------------------------------------------------------------------------------


def _autocomplete(client, model_name, field_name, term=""):
    return client.get(
        "/admin/autocomplete/",
        {"app_label": "cooperative", "model_name": model_name, "field_name": field_name, "term": term},
    )


def test_autocomplete_of_branches_returns_only_in_scope_rows(client, staff_admin, branch, other_branch):
    response = _autocomplete(_admin(client, staff_admin), "user", "branches", term="Branch")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(branch.pk)]


def test_autocomplete_of_users_returns_only_colleagues(client, staff_admin, colleague, stranger):
    response = _autocomplete(_admin(client, staff_admin), "auditlog", "user", term="test.ng")
    assert response.status_code == 200
    ids = {r["id"] for r in response.json()["results"]}
    assert ids == {str(staff_admin.pk), str(colleague.pk)}


def test_autocomplete_with_view_all_branches_returns_every_branch(client, staff_admin, other_branch):
    staff_admin.user_permissions.add(Permission.objects.get(codename="view_all_branches"))
    response = _autocomplete(_admin(client, staff_admin), "user", "branches", term="Branch")
    assert {r["text"] for r in response.json()["results"]} == {"Main Branch (MB001)", "Abuja Branch (AB002)"}


def test_autocomplete_honours_a_guardian_grant(client, staff_admin, other_branch):
    assign_perm("cooperative.view_branch", staff_admin, other_branch)
    response = _autocomplete(_admin(client, staff_admin), "user", "branches", term="Abuja")
    assert [r["id"] for r in response.json()["results"]] == [str(other_branch.pk)]


# --- related-field choices ---------------------------------------------------------------------


def test_branch_choices_on_the_user_form_are_scoped(client, staff_admin, colleague, branch, other_branch):
    response = _admin(client, staff_admin).get(f"/admin/cooperative/user/{colleague.pk}/change/")
    choices = {str(pk) for pk, _ in response.context["adminform"].form.fields["branches"].choices}
    assert choices == {str(branch.pk)}


def test_saving_a_user_keeps_branches_the_editor_cannot_see(client, staff_admin, branch, other_branch):
    # given a colleague who also works in Abuja, which the editor cannot see
    colleague = UserFactory(email="twobranch@test.ng", first_name="Old", branches=[branch, other_branch])
    # when the editor renames them (the form only offers Main Branch)
    response = _admin(client, staff_admin).post(
        f"/admin/cooperative/user/{colleague.pk}/change/",
        {
            "email": colleague.email,
            "first_name": "New",
            "last_name": colleague.last_name,
            "phone": "",
            "status": "ACTIVE",
            "branches": [str(branch.pk)],
            "is_active": "on",
            "is_staff": "on",
        },
    )
    # then the rename is saved and the Abuja membership survives
    assert response.status_code == 302, response.context["adminform"].form.errors
    colleague.refresh_from_db()
    assert colleague.first_name == "New"
    assert set(colleague.branches.values_list("code", flat=True)) == {"MB001", "AB002"}


def test_a_forged_out_of_scope_branch_choice_is_a_form_error(client, staff_admin, colleague, other_branch):
    response = _admin(client, staff_admin).post(
        f"/admin/cooperative/user/{colleague.pk}/change/",
        {
            "email": colleague.email,
            "status": "ACTIVE",
            "branches": [str(other_branch.pk)],
            "is_active": "on",
            "is_staff": "on",
        },
    )
    assert response.status_code == 200
    assert "branches" in response.context["adminform"].form.errors
    assert not colleague.branches.filter(pk=other_branch.pk).exists()


# --- API ---------------------------------------------------------------------------------------


def test_api_branch_list_is_scoped(api_as, teller, branch, other_branch):
    response = api_as(teller).get("/api/v1/branches/")
    assert response.status_code == 200
    assert [b["code"] for b in response.json()["results"]] == ["MB001"]


def test_api_branch_detail_out_of_scope_is_a_404_problem(api_as, teller, other_branch):
    response = api_as(teller).get(f"/api/v1/branches/{other_branch.pk}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert "Abuja" not in response.content.decode()


@pytest.mark.parametrize("branch_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "42"])
def test_api_unknown_branch_id_is_a_404_problem(api_as, teller, branch_id):
    response = api_as(teller).get(f"/api/v1/branches/{branch_id}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_api_auditor_sees_every_branch(api_as, auditor, branch, other_branch):
    response = api_as(auditor).get("/api/v1/branches/")
    assert {b["code"] for b in response.json()["results"]} == {"MB001", "AB002"}
    assert api_as(auditor).get(f"/api/v1/branches/{other_branch.pk}/").status_code == 200


def test_api_guardian_grant_opens_one_branch(api_as, teller, other_branch):
    assign_perm("cooperative.view_branch", teller, other_branch)
    assert api_as(teller).get(f"/api/v1/branches/{other_branch.pk}/").status_code == 200
    codes = {b["code"] for b in api_as(teller).get("/api/v1/branches/").json()["results"]}
    assert codes == {"MB001", "AB002"}


def test_api_user_without_view_permission_is_refused(api_as, branch):
    nobody = UserFactory(email="norole@test.ng", branches=[branch])
    response = api_as(nobody).get("/api/v1/branches/")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_api_branch_list_filters_and_orders(api_as, auditor, branch, other_branch):
    client = api_as(auditor)
    assert [b["code"] for b in client.get("/api/v1/branches/?state=FCT").json()["results"]] == ["AB002"]
    ordered = client.get("/api/v1/branches/?ordering=-code").json()["results"]
    assert [b["code"] for b in ordered] == ["MB001", "AB002"]
    assert Branch.objects.count() == 2


# --- list filters ------------------------------------------------------------------------------


def test_branch_list_filters_name_only_in_scope_branches(client, staff_admin, branch, other_branch):
    c = _admin(client, staff_admin)
    for url in ("/admin/cooperative/user/", "/admin/cooperative/auditlog/"):
        html = c.get(url).content.decode()
        assert "Main Branch (MB001)" in html, url
        assert "Abuja Branch" not in html, url


def test_branch_list_filter_still_filters(client, staff_admin, branch, colleague):
    UserFactory(email="nobranch@test.ng")
    response = _admin(client, staff_admin).get(f"/admin/cooperative/user/?branches__id__exact={branch.pk}")
    assert response.status_code == 200
    assert _ids(response) == {str(staff_admin.pk), str(colleague.pk)}
