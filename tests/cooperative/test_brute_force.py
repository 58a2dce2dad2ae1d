"""django-axes lockout (admin login and the API token endpoint), client IP rule, rate limits."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import override_settings
from django.utils import timezone

from cooperative.models import AuditLog
from cooperative.security import client_ip
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-1"


def admin_login(client, email, password, **extra):
    return client.post("/admin/login/?next=/admin/", {"username": email, "password": password}, **extra)


def token(client, email, password, **extra):
    return client.post(
        "/api/v1/auth/token/",
        {"email": email, "password": password},
        content_type="application/json",
        **extra,
    )


def is_locked_page(response) -> bool:
    return response.status_code == 429 and 'id="locked-out"' in response.content.decode()


# --- admin login -------------------------------------------------------------------------------


def test_wrong_password_is_a_form_error_and_an_audit_row(client, teller):
    response = admin_login(client, teller.email, WRONG, HTTP_USER_AGENT="Firefox/1")
    assert response.status_code == 200
    assert "Please enter the correct email" in response.content.decode()
    row = AuditLog.objects.get(event=AuditLog.Event.LOGIN_FAILURE)
    assert (row.username, row.user, row.ip_address, row.user_agent) == (
        teller.email,
        teller,
        "127.0.0.1",
        "Firefox/1",
    )
    assert row.branch.code == "MB001"
    assert row.request_id


def test_five_failures_lock_the_account_even_with_the_right_password(client, teller):
    # given five wrong passwords
    responses = [admin_login(client, teller.email, WRONG) for _ in range(5)]
    assert all(r.status_code == 200 for r in responses[:4])
    assert is_locked_page(responses[4])
    # when the right password follows
    response = admin_login(client, teller.email, DEFAULT_PASSWORD)
    # then the account stays locked and nobody is logged in
    assert is_locked_page(response)
    assert "_auth_user_id" not in client.session
    lockout = AuditLog.objects.filter(event=AuditLog.Event.LOCKOUT).first()
    assert lockout is not None
    assert lockout.username == teller.email
    assert lockout.user == teller
    assert lockout.branch.code == "MB001"
    assert lockout.ip_address == "127.0.0.1"


def test_four_failures_then_success_resets_the_counter(client, teller):
    for _ in range(4):
        admin_login(client, teller.email, WRONG)
    assert admin_login(client, teller.email, DEFAULT_PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert admin_login(client, teller.email, WRONG).status_code == 200


def test_the_lockout_is_per_user_across_addresses(client, teller):
    for n in range(5):
        admin_login(client, teller.email, WRONG, REMOTE_ADDR=f"198.51.100.{n}")
    assert is_locked_page(admin_login(client, teller.email, DEFAULT_PASSWORD, REMOTE_ADDR="203.0.113.9"))


def test_the_lockout_is_per_client_ip_across_accounts(client, teller, manager):
    # given five failures for five different (made-up) emails from one address
    for n in range(5):
        admin_login(client, f"guess{n}@test.ng", WRONG, REMOTE_ADDR="198.51.100.7")
    # then a real user with the right password from that address is locked out too
    assert is_locked_page(admin_login(client, manager.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.7"))
    # while the same user from another address gets in
    assert admin_login(client, manager.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.8").status_code == 302


def test_rotating_a_spoofed_x_forwarded_for_does_not_dodge_the_lockout(client, teller):
    # given an attacker who sends a new X-Forwarded-For with every guess (and new emails)
    for n in range(5):
        admin_login(
            client, f"guess{n}@test.ng", WRONG, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}"
        )
    # then the address REMOTE_ADDR names is locked, whatever the header claims
    response = admin_login(
        client, teller.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="10.9.9.200"
    )
    assert is_locked_page(response)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}


@override_settings(TRUSTED_PROXY_HEADER="X-Forwarded-For")
def test_with_a_trusted_proxy_the_right_most_forwarded_address_is_the_client(client, teller):
    # given our proxy (REMOTE_ADDR 10.0.0.2) appends the address it saw; the left part is client-made
    for n in range(5):
        admin_login(
            client,
            f"guess{n}@test.ng",
            WRONG,
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.50",
        )
    # then 203.0.113.50 is locked, and another client behind the same proxy is not
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.50"}
    locked = admin_login(
        client, teller.email, DEFAULT_PASSWORD, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.50"
    )
    assert is_locked_page(locked)
    other = admin_login(
        client, teller.email, DEFAULT_PASSWORD, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.51"
    )
    assert other.status_code == 302


def test_client_ip_rule(rf, settings):
    # without a trusted header, forwarded headers are ignored
    request = rf.get("/", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert client_ip(request) == "198.51.100.1"
    # with one, its right-most valid entry wins
    settings.TRUSTED_PROXY_HEADER = "X-Real-Client"
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_CLIENT="1.1.1.1, 2001:db8::1")
    assert client_ip(request) == "2001:db8::1"
    # garbage in the header falls back to REMOTE_ADDR
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_CLIENT="1.1.1.1, nonsense")
    assert client_ip(request) == "10.0.0.2"


def test_deleting_the_access_attempt_in_the_admin_unlocks(client, teller, admin_user):
    # given a locked teller
    for _ in range(5):
        admin_login(client, teller.email, WRONG, REMOTE_ADDR="198.51.100.20")
    attempt = AccessAttempt.objects.get(username=teller.email)
    # when an administrator deletes the attempt from the admin (Axes -> Access attempts)
    admin = type(client)()
    admin.force_login(admin_user)
    assert admin.get("/admin/axes/accessattempt/").status_code == 200
    response = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    # then the teller can log in again
    assert admin_login(client, teller.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.20").status_code == 302


@override_settings(AXES_COOLOFF_TIME=timedelta(minutes=3))
def test_the_lock_lifts_after_the_cool_off(client, teller):
    for _ in range(5):
        admin_login(client, teller.email, WRONG)
    assert is_locked_page(admin_login(client, teller.email, DEFAULT_PASSWORD))
    # when four minutes have passed since the failures
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=4))
    # then
    assert admin_login(client, teller.email, DEFAULT_PASSWORD).status_code == 302


# --- API token endpoint ------------------------------------------------------------------------


def test_token_with_a_wrong_password_is_a_401_problem_and_audited(client, teller):
    response = token(client, teller.email, WRONG)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "Email or password is not correct."
    assert AuditLog.objects.filter(event=AuditLog.Event.TOKEN_REFUSED, user=teller).exists()
    assert AuditLog.objects.filter(event=AuditLog.Event.LOGIN_FAILURE, username=teller.email).exists()
    assert AccessAttempt.objects.get(username=teller.email).failures_since_start == 1


def test_token_endpoint_locks_after_five_failures(client, teller):
    # given
    statuses = [token(client, teller.email, WRONG).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    # when the right password follows
    response = token(client, teller.email, DEFAULT_PASSWORD)
    # then
    assert response.status_code == 429
    body = response.json()
    assert body["title"] == "Account locked"
    assert body["type"].endswith("/locked-out")
    assert "access" not in body
    assert AuditLog.objects.filter(event=AuditLog.Event.LOCKOUT, username=teller.email).exists()
    assert AuditLog.objects.filter(
        event=AuditLog.Event.TOKEN_REFUSED, detail__reason="locked out", user=teller
    ).exists()


def test_token_lockout_ignores_a_rotating_spoofed_forwarded_header(client, teller):
    for n in range(5):
        token(
            client,
            f"guess{n}@test.ng",
            WRONG,
            REMOTE_ADDR="198.51.100.30",
            HTTP_X_FORWARDED_FOR=f"10.1.1.{n}",
        )
    response = token(
        client, teller.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.30", HTTP_X_FORWARDED_FOR="10.1.1.99"
    )
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.30"}


def test_admin_and_api_failures_count_together(client, teller):
    for _ in range(3):
        admin_login(client, teller.email, WRONG)
    for _ in range(2):
        token(client, teller.email, WRONG)
    assert token(client, teller.email, DEFAULT_PASSWORD).status_code == 429
    assert is_locked_page(admin_login(client, teller.email, DEFAULT_PASSWORD))


def test_token_email_is_case_insensitive_for_lockout(client, teller):
    for n in range(5):
        token(client, teller.email.upper() if n % 2 else teller.email, WRONG)
    assert token(client, teller.email, DEFAULT_PASSWORD).status_code == 429


# --- rate limits -------------------------------------------------------------------------------


@override_settings(LOGIN_RATE_LIMIT="2/m")
def test_admin_login_is_rate_limited_with_a_429_page(client):
    users = [UserFactory(email=f"rl{n}@test.ng") for n in range(3)]
    assert admin_login(client, users[0].email, DEFAULT_PASSWORD).status_code == 302
    client.logout()
    assert admin_login(client, users[1].email, DEFAULT_PASSWORD).status_code == 302
    client.logout()
    response = admin_login(client, users[2].email, DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert 'id="rate-limited"' in response.content.decode()
    # GETs of the login page are not limited
    assert client.get("/admin/login/").status_code == 200


@override_settings(LOGIN_RATE_LIMIT="2/m")
def test_token_endpoint_is_rate_limited_with_a_429_problem(client, teller):
    assert token(client, teller.email, DEFAULT_PASSWORD).status_code == 200
    assert token(client, teller.email, DEFAULT_PASSWORD).status_code == 200
    response = token(client, teller.email, DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "60"
    assert response.json()["title"] == "Too many requests"
    # another client address has its own budget
    assert token(client, teller.email, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.40").status_code == 200


@override_settings(LOGIN_RATE_LIMIT="2/m")
def test_token_refresh_is_rate_limited(client, teller):
    refresh = token(client, teller.email, DEFAULT_PASSWORD).json()["refresh"]
    statuses = []
    for _ in range(3):
        response = client.post(
            "/api/v1/auth/token/refresh/", {"refresh": refresh}, content_type="application/json"
        )
        statuses.append(response.status_code)
        if response.status_code == 200:
            refresh = response.json()["refresh"]
    assert statuses == [200, 200, 429]


@override_settings(LOGIN_RATE_LIMIT="2/m")
def test_rate_limit_ignores_a_spoofed_forwarded_header(client, teller):
    for n in range(2):
        token(client, teller.email, DEFAULT_PASSWORD, HTTP_X_FORWARDED_FOR=f"10.2.2.{n}")
    assert token(client, teller.email, DEFAULT_PASSWORD, HTTP_X_FORWARDED_FOR="10.2.2.9").status_code == 429
