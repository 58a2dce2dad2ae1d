"""AuditLog rows for security events; the log is read-only in the admin and on the API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cooperative.audit import record_event
from cooperative.models import AuditLog, Branch
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _events(event):
    return AuditLog.objects.filter(event=event)


def test_login_success_and_logout_are_recorded_with_request_details(client, teller):
    # when
    client.post(
        "/admin/login/?next=/admin/",
        {"username": teller.email, "password": DEFAULT_PASSWORD},
        HTTP_USER_AGENT="Mozilla/5.0 test",
        HTTP_X_REQUEST_ID="req-123",
    )
    client.post("/admin/logout/")
    # then
    login = _events(AuditLog.Event.LOGIN_SUCCESS).get()
    assert (login.user, login.branch.code, login.ip_address, login.user_agent, login.request_id) == (
        teller,
        "MB001",
        "127.0.0.1",
        "Mozilla/5.0 test",
        "req-123",
    )
    assert login.path == "/admin/login/"
    assert _events(AuditLog.Event.LOGOUT).get().user == teller


def test_login_failure_for_an_unknown_email_is_recorded_without_a_user(client):
    client.post("/admin/login/", {"username": "Nobody@Test.ng", "password": "x"})
    row = _events(AuditLog.Event.LOGIN_FAILURE).get()
    assert row.user is None
    assert row.username == "nobody@test.ng"


def test_token_issue_is_recorded(client, teller):
    client.post(
        "/api/v1/auth/token/",
        {"email": teller.email, "password": DEFAULT_PASSWORD},
        content_type="application/json",
        HTTP_USER_AGENT="partner-client/2.0",
    )
    row = _events(AuditLog.Event.TOKEN_ISSUED).get()
    assert (row.user, row.user_agent, row.ip_address) == (teller, "partner-client/2.0", "127.0.0.1")
    assert row.request_id


def test_api_permission_denied_is_recorded(api_as, branch):
    nobody = UserFactory(email="norole@test.ng", branches=[branch])
    response = api_as(nobody).get("/api/v1/branches/", HTTP_X_REQUEST_ID="deny-1")
    assert response.status_code == 403
    row = _events(AuditLog.Event.PERMISSION_DENIED).get()
    assert (row.user, row.request_id, row.detail["path"]) == (nobody, "deny-1", "/api/v1/branches/")


def test_admin_permission_denied_is_recorded(client, auditor, branch):
    # given an auditor (reads everything, changes nothing)
    client.force_login(auditor)
    assert client.get(f"/admin/cooperative/branch/{branch.pk}/change/").status_code == 200
    # when they post a change
    response = client.post(
        f"/admin/cooperative/branch/{branch.pk}/change/",
        {"name": "Renamed", "code": "MB001", "status": "ACTIVE"},
    )
    # then it is refused, nothing changed, and the refusal is in the audit log
    assert response.status_code == 403
    assert Branch.objects.get(pk=branch.pk).name == "Main Branch"
    row = _events(AuditLog.Event.PERMISSION_DENIED).get()
    assert row.user == auditor
    assert row.detail == {"method": "POST", "path": f"/admin/cooperative/branch/{branch.pk}/change/"}


def test_auditor_cannot_add_or_delete_branches(client, auditor, branch):
    client.force_login(auditor)
    assert client.get("/admin/cooperative/branch/add/").status_code == 403
    assert client.post(f"/admin/cooperative/branch/{branch.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Branch.objects.filter(pk=branch.pk).exists()


def test_auditor_reads_the_audit_log_of_every_branch(client, auditor, branch, other_branch):
    AuditLog.objects.create(event=AuditLog.Event.EXPORT, branch=other_branch, username="abuja")
    AuditLog.objects.create(event=AuditLog.Event.EXPORT, branch=branch, username="lagos")
    client.force_login(auditor)
    response = client.get("/admin/cooperative/auditlog/?event__exact=EXPORT")
    assert response.status_code == 200
    assert {r.username for r in response.context["cl"].result_list} == {"abuja", "lagos"}
    assert client.get("/admin/cooperative/branch/").status_code == 200
    assert client.get("/admin/cooperative/user/").status_code == 200


@pytest.mark.parametrize("who", ["auditor", "admin_user"])
def test_audit_log_is_read_only_in_the_admin_for_everyone(client, request, who, branch):
    # given an auditor, or a superuser
    user = request.getfixturevalue(who)
    row = AuditLog.objects.create(event=AuditLog.Event.OTHER, branch=branch, username="x")
    client.force_login(user)
    # then the row can be read
    page = client.get(f"/admin/cooperative/auditlog/{row.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    # and not added, changed or deleted
    assert client.get("/admin/cooperative/auditlog/add/").status_code == 403
    assert client.post(f"/admin/cooperative/auditlog/{row.pk}/change/", {"username": "y"}).status_code == 403
    assert client.post(f"/admin/cooperative/auditlog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    changelist = client.get("/admin/cooperative/auditlog/")
    assert "delete_selected" not in changelist.content.decode()
    assert AuditLog.objects.get(pk=row.pk).username == "x"


def test_audit_rows_are_append_only_in_code(branch):
    row = record_event(AuditLog.Event.OTHER, username="someone")
    row.username = "changed"
    with pytest.raises(PermissionError):
        row.save()
    with pytest.raises(PermissionError):
        row.delete()


# --- GET /api/v1/audit-logs/ -------------------------------------------------------------------


def _row(event, branch, username="", user=None, days_ago=0):
    return AuditLog.objects.create(
        event=event,
        branch=branch,
        username=username,
        user=user,
        created_at=timezone.now() - timedelta(days=days_ago),
    )


def test_audit_log_api_lists_every_branch_for_an_auditor(api_as, auditor, branch, other_branch):
    _row(AuditLog.Event.LOGIN_FAILURE, branch, "a")
    _row(AuditLog.Event.LOGIN_FAILURE, other_branch, "b")
    # (the fixtures' role grants wrote ACCESS_CHANGED rows of their own)
    response = api_as(auditor).get("/api/v1/audit-logs/", {"event": "LOGIN_FAILURE"})
    assert response.status_code == 200
    body = response.json()
    assert {r["username"] for r in body["results"]} == {"a", "b"}
    assert set(body["results"][0]) >= {"event", "user", "branch", "ip_address", "user_agent", "request_id"}


def test_audit_log_api_is_branch_scoped_for_a_manager(api_as, manager, branch, other_branch):
    mine = _row(AuditLog.Event.OTHER, branch, "mine")
    theirs = _row(AuditLog.Event.OTHER, other_branch, "theirs")
    client = api_as(manager)
    assert [r["username"] for r in client.get("/api/v1/audit-logs/").json()["results"]] == ["mine"]
    assert client.get(f"/api/v1/audit-logs/{mine.pk}/").status_code == 200
    assert client.get(f"/api/v1/audit-logs/{theirs.pk}/").status_code == 404


def test_audit_log_api_filters_by_event_user_and_dates(api_as, auditor, teller, branch):
    _row(AuditLog.Event.LOGIN_FAILURE, branch, "old", days_ago=10)
    _row(AuditLog.Event.LOGIN_FAILURE, branch, "new", user=teller)
    _row(AuditLog.Event.LOCKOUT, branch, "locked")
    client = api_as(auditor)

    def names(query):
        response = client.get(f"/api/v1/audit-logs/?{query}")
        assert response.status_code == 200, response.json()
        return {r["username"] for r in response.json()["results"]}

    assert names("event=LOGIN_FAILURE") == {"old", "new"}
    assert names("event=LOGIN_FAILURE&event=LOCKOUT") == {"old", "new", "locked"}
    assert names(f"user={teller.pk}") == {"new"}
    week_ago = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert names(f"event=LOGIN_FAILURE&created_after={week_ago}") == {"new"}
    assert names(f"event=LOGIN_FAILURE&created_before={week_ago}") == {"old"}


def test_audit_log_api_bad_filter_is_a_400_problem(api_as, auditor):
    response = api_as(auditor).get("/api/v1/audit-logs/?event=NOPE&created_after=yesterday")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in response.json()["errors"]} == {"event", "created_after"}


def test_audit_log_api_needs_the_view_audit_log_permission(api_as, teller):
    response = api_as(teller).get("/api/v1/audit-logs/")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_audit_log_api_is_read_only(api_as, auditor, branch):
    row = _row(AuditLog.Event.OTHER, branch, "x")
    client = api_as(auditor)
    assert client.post("/api/v1/audit-logs/", {"event": "OTHER"}, format="json").status_code == 405
    assert client.delete(f"/api/v1/audit-logs/{row.pk}/").status_code == 405
    assert AuditLog.objects.filter(pk=row.pk).exists()


def test_audit_log_list_says_what_its_search_box_finds(client, auditor):
    # given an auditor on the audit log
    client.force_login(auditor)

    # when the list opens
    response = client.get("/admin/cooperative/auditlog/")

    # then the search box explains what it matches
    assert response.status_code == 200
    assert "IP address, request id (X-Request-ID) or path" in response.content.decode()
