"""The Coopdesk admin: branding, dashboard (branches, roles, widgets), staff idle timeout."""

import time

import pytest
from django.test import override_settings

from cooperative import dashboard
from cooperative.middleware import StaffSessionIdleTimeoutMiddleware
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def widgets(monkeypatch):
    """An empty widget registry for the test (apps' own widgets are put back afterwards)."""
    monkeypatch.setattr(dashboard, "_widgets", [])
    return dashboard


def test_login_page_is_branded(client):
    html = client.get("/admin/login/").content.decode()
    assert "<title>Log in | Coopdesk</title>" in html
    assert '<div id="site-name"><a href="/admin/">Coopdesk</a></div>' in html
    assert "Email:" in html


def test_dashboard_shows_the_persons_branches_and_roles(client, branch, other_branch):
    # given a manager working in two branches
    person = UserFactory(
        email="two@test.ng", first_name="Amaka", roles=["MANAGER"], branches=[branch, other_branch]
    )
    client.force_login(person)
    # when
    response = client.get("/admin/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Welcome, Amaka" in html
    assert "Your branches:</strong>" in html
    assert "Abuja Branch (AB002), Main Branch (MB001)" in html
    assert "<strong>Your roles:</strong> MANAGER" in html
    assert "Coopdesk" in response.context["site_header"]


def test_dashboard_says_when_no_branch_is_assigned(client):
    person = UserFactory(email="nobranch@test.ng")
    client.force_login(person)
    assert "none assigned" in client.get("/admin/").content.decode()


def test_dashboard_renders_registered_widgets_in_order_and_by_permission(client, teller, widgets):
    # given three widgets: two for everyone (out of order), one that needs a permission tellers lack
    widgets.register(
        title="Arrears to follow up",
        template="cooperative/widgets/list.html",
        context=lambda request: {"items": [{"label": "Loans in arrears", "url": "/admin/", "count": 3}]},
        order=20,
    )
    widgets.register(
        title="My pending approvals",
        template="cooperative/widgets/list.html",
        context=lambda request: {"items": [], "empty": f"Nothing waiting for {request.user.first_name}."},
        order=10,
    )
    widgets.register(
        title="Unmatched bank lines",
        template="cooperative/widgets/list.html",
        context=lambda request: {"items": [{"label": "secret"}]},
        permission="cooperative.view_all_branches",
    )
    client.force_login(teller)
    # when
    html = client.get("/admin/").content.decode()
    # then
    assert html.index("My pending approvals") < html.index("Arrears to follow up")
    assert f"Nothing waiting for {teller.first_name}." in html
    assert '<a href="/admin/">Loans in arrears</a> <strong>3</strong>' in html
    assert "Unmatched bank lines" not in html


def test_registering_a_widget_twice_keeps_one(widgets):
    for _ in range(2):
        widgets.register(title="Once", template="cooperative/widgets/list.html", context=lambda r: {})
    assert len(widgets._widgets) == 1


def test_teller_sees_branches_read_only_and_no_users(client, teller, branch):
    client.force_login(teller)
    index = client.get("/admin/").content.decode()
    assert "/admin/cooperative/branch/" in index
    assert "/admin/cooperative/user/" not in index
    page = client.get(f"/admin/cooperative/branch/{branch.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()


# --- idle timeout ------------------------------------------------------------------------------


def _age_session(client, seconds):
    session = client.session
    session[StaffSessionIdleTimeoutMiddleware.SESSION_KEY] = int(time.time()) - seconds
    session.save()


def _login(client, user):
    response = client.post(
        "/admin/login/?next=/admin/", {"username": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302


def test_default_idle_timeout_is_fifteen_minutes(settings):
    assert settings.STAFF_SESSION_IDLE_TIMEOUT == 15 * 60


def test_an_idle_staff_session_is_logged_out(client, teller):
    # given a teller whose last request was 16 minutes ago
    _login(client, teller)
    _age_session(client, 16 * 60)
    # when they come back
    response = client.get("/admin/cooperative/branch/")
    # then they are signed out and told why
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/cooperative/branch/&idle=1"
    assert "_auth_user_id" not in client.session
    notice = client.get(response["Location"]).content.decode()
    assert 'id="idle-notice"' in notice


def test_activity_within_the_timeout_keeps_the_session(client, teller):
    _login(client, teller)
    _age_session(client, 14 * 60)
    assert client.get("/admin/").status_code == 200
    # and the clock restarts from this request
    last_seen = client.session[StaffSessionIdleTimeoutMiddleware.SESSION_KEY]
    assert abs(last_seen - time.time()) < 5


@override_settings(STAFF_SESSION_IDLE_TIMEOUT=60)
def test_the_idle_timeout_is_configurable(client, teller):
    _login(client, teller)
    _age_session(client, 90)
    assert client.get("/admin/")["Location"].endswith("&idle=1")


def test_an_idle_session_on_the_api_is_no_longer_authenticated(client, teller):
    _login(client, teller)
    _age_session(client, 16 * 60)
    response = client.get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/problem+json"


def test_a_busy_session_is_not_rewritten_on_every_page(client, teller, django_assert_max_num_queries):
    # given a teller who was seen a few seconds ago
    _login(client, teller)
    _age_session(client, 5)
    before = client.session[StaffSessionIdleTimeoutMiddleware.SESSION_KEY]
    client.get("/admin/")  # warm the caches of this process
    # when they open another page within the touch interval
    client.get("/admin/members/member/")
    # then the last-seen time is left alone (no session write), and the clock still runs from it
    assert client.session[StaffSessionIdleTimeoutMiddleware.SESSION_KEY] == before


def test_a_tellers_list_page_stays_within_the_query_budget(client, teller, django_assert_max_num_queries):
    # Issue 6: ≤ 12 queries per admin page. Permissions, groups and branches come from the shared
    # cache (cooperative.authz), not from ModelBackend queries on every page.
    from django.conf import settings

    # On Django's database cache (SQLite runs) the one cache look-up is itself a query; on Redis
    # (production, CI) it is none.
    budget = 12 + settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache")
    _login(client, teller)
    pages = ("/admin/members/member/", "/admin/ledger/account/", "/admin/loans/loan/")
    for url in pages:  # warm: the first page touches the session, content types get cached
        client.get(url)
    for url in pages:
        with django_assert_max_num_queries(budget):
            assert client.get(url).status_code == 200
