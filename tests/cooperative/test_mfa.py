"""Staff MFA (django-otp TOTP): enforcement on the admin and the session API, enrolment, login."""

import re

import pytest
from django.test import override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from cooperative.models import AuditLog
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

mfa_on = override_settings(REQUIRE_STAFF_MFA=True)


def code_for(device: TOTPDevice, *, offset_steps: int = 0) -> str:
    """The code an authenticator app would show now for this device."""
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset_steps)
    return f"{value:0{device.digits}d}"


def wrong_code_for(device: TOTPDevice) -> str:
    valid = {code_for(device, offset_steps=n) for n in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


@pytest.fixture
def enrolled_teller(teller):
    device = TOTPDevice.objects.create(user=teller, name="phone", confirmed=True)
    return teller, device


def _login(client, user, otp_token=""):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": user.email, "password": DEFAULT_PASSWORD, "otp_token": otp_token},
    )


@mfa_on
def test_staff_without_a_device_is_sent_to_enrolment_with_a_qr_code(client, teller):
    # given a teller who logged in with a password only
    assert _login(client, teller).status_code == 302
    # when they open the admin
    response = client.get("/admin/")
    # then they land on the enrolment page, which shows a QR code and the key
    assert response.status_code == 302
    assert response["Location"] == "/admin/mfa/enrol/"
    page = client.get("/admin/mfa/enrol/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="mfa-qr"' in html
    assert "data:image/svg+xml;base64," in html
    assert TOTPDevice.objects.filter(user=teller, confirmed=False).count() == 1


@mfa_on
def test_admin_pages_refuse_an_unverified_session(client, teller):
    client.force_login(teller)
    for url in ("/admin/", "/admin/cooperative/branch/", "/admin/cooperative/user/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == "/admin/mfa/enrol/"


@mfa_on
def test_enrolment_with_the_right_code_confirms_the_device_and_opens_the_dashboard(client, teller):
    # given
    _login(client, teller)
    client.get("/admin/mfa/enrol/")
    device = TOTPDevice.objects.get(user=teller)
    # when
    response = client.post("/admin/mfa/enrol/", {"otp_token": code_for(device)})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    device.refresh_from_db()
    assert device.confirmed
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200
    assert "Main Branch (MB001)" in dashboard.content.decode()
    assert AuditLog.objects.filter(event=AuditLog.Event.MFA_ENROLLED, user=teller).exists()


@mfa_on
def test_enrolment_with_a_wrong_code_is_refused_and_audited(client, teller):
    _login(client, teller)
    client.get("/admin/mfa/enrol/")
    device = TOTPDevice.objects.get(user=teller)
    response = client.post("/admin/mfa/enrol/", {"otp_token": wrong_code_for(device)})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert AuditLog.objects.filter(event=AuditLog.Event.MFA_FAILURE, user=teller).exists()
    assert client.get("/admin/")["Location"] == "/admin/mfa/enrol/"


@mfa_on
def test_enrolment_page_reuses_the_pending_device(client, teller):
    _login(client, teller)
    first = re.search(r'id="mfa-secret">(\w+)<', client.get("/admin/mfa/enrol/").content.decode())[1]
    second = re.search(r'id="mfa-secret">(\w+)<', client.get("/admin/mfa/enrol/").content.decode())[1]
    assert first == second
    assert TOTPDevice.objects.filter(user=teller).count() == 1


@mfa_on
def test_enrolled_user_needs_the_code_to_log_in(client, enrolled_teller):
    teller, _device = enrolled_teller
    response = _login(client, teller)
    assert response.status_code == 200
    assert "Enter the 6-digit code" in response.content.decode()
    assert client.get("/admin/").status_code == 302


@mfa_on
def test_enrolled_user_with_a_wrong_code_gets_a_form_error_and_an_audit_row(client, enrolled_teller):
    teller, device = enrolled_teller
    response = _login(client, teller, otp_token=wrong_code_for(device))
    assert response.status_code == 200
    assert "authenticator code is not valid" in response.content.decode()
    row = AuditLog.objects.get(event=AuditLog.Event.MFA_FAILURE)
    assert row.user == teller
    assert row.ip_address == "127.0.0.1"


@mfa_on
def test_enrolled_user_with_the_right_code_reaches_the_dashboard(client, enrolled_teller):
    teller, device = enrolled_teller
    response = _login(client, teller, otp_token=code_for(device))
    assert response.status_code == 302
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "Welcome" in page.content.decode()


@mfa_on
def test_a_password_only_session_cannot_enrol_a_second_device(client, enrolled_teller):
    # given someone who has only the password of an enrolled teller and a session (e.g. MFA was
    # switched on after they logged in)
    teller, _device = enrolled_teller
    client.force_login(teller)
    # when they try the enrolment page
    response = client.get("/admin/mfa/enrol/")
    # then they are logged out and sent to the login page; no second device exists
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert TOTPDevice.objects.filter(user=teller).count() == 1
    assert "_auth_user_id" not in client.session


@mfa_on
def test_an_unverified_session_of_an_enrolled_user_goes_back_to_login(client, enrolled_teller):
    teller, _device = enrolled_teller
    client.force_login(teller)
    response = client.get("/admin/cooperative/branch/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@mfa_on
def test_session_api_refuses_an_unverified_session_with_a_403_problem(client, teller):
    client.force_login(teller)
    response = client.get("/api/v1/me/")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "Two-factor" in response.json()["detail"]


@mfa_on
def test_session_api_accepts_a_verified_session(client, enrolled_teller):
    teller, device = enrolled_teller
    _login(client, teller, otp_token=code_for(device))
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["email"] == teller.email


def _token(client, user, **extra):
    return client.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": DEFAULT_PASSWORD, **extra},
        content_type="application/json",
    )


@mfa_on
def test_staff_token_needs_the_authenticator_code(client, enrolled_teller):
    teller, device = enrolled_teller
    # the password alone is not enough
    missing = _token(client, teller)
    assert missing.status_code == 401
    assert missing["Content-Type"] == "application/problem+json"
    assert missing.json()["title"] == "Authenticator code required"
    assert "otp" in missing.json()["detail"]
    # a wrong code is refused and audited
    wrong = _token(client, teller, otp=wrong_code_for(device))
    assert wrong.status_code == 401
    assert wrong.json()["title"] == "Authenticator code not valid"
    assert AuditLog.objects.filter(event=AuditLog.Event.MFA_FAILURE, user=teller).exists()
    # the current code gets the token (once django-otp's throttle after a failure has passed)
    device.refresh_from_db()
    device.throttle_reset()
    ok = _token(client, teller, otp=code_for(device))
    assert ok.status_code == 200, ok.content
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {ok.json()['access']}").status_code == 200


@mfa_on
@override_settings(AXES_FAILURE_LIMIT=3)
def test_wrong_codes_count_towards_the_lockout(client, enrolled_teller):
    teller, device = enrolled_teller
    for _ in range(3):
        _token(client, teller, otp=wrong_code_for(device))
    assert _token(client, teller, otp=code_for(device)).status_code == 429


@mfa_on
def test_staff_without_an_authenticator_are_sent_to_set_one_up(client, teller):
    response = _token(client, teller)
    assert response.status_code == 401
    assert "/admin/" in response.json()["detail"]


@mfa_on
def test_partner_users_keep_their_own_credentials(client, make_staff, branch):
    partner = make_staff("PARTNER", branch, is_staff=False)
    assert _token(client, partner).status_code == 200
    machine_staff = make_staff("PARTNER", branch, is_staff=True)  # flagged staff by mistake
    assert _token(client, machine_staff).status_code == 200


@override_settings(REQUIRE_STAFF_MFA=False)
def test_with_mfa_off_the_password_is_enough_for_a_token(client, enrolled_teller):
    teller, _device = enrolled_teller
    assert _token(client, teller).status_code == 200


@override_settings(REQUIRE_STAFF_MFA=False)
def test_with_mfa_off_the_login_page_says_so_and_password_is_enough(client, teller):
    page = client.get("/admin/login/")
    assert 'id="demo-notice"' in page.content.decode()
    assert "switched off" in page.content.decode()
    assert 'name="otp_token"' not in page.content.decode()
    _login(client, teller)
    assert client.get("/admin/").status_code == 200


@mfa_on
def test_with_mfa_on_the_login_page_asks_for_the_code_and_has_no_notice(client):
    page = client.get("/admin/login/").content.decode()
    assert 'name="otp_token"' in page
    assert 'id="demo-notice"' not in page


def test_nobody_reads_a_second_factor_secret_in_the_admin(client, auditor, admin_user, teller):
    # given a teller's authenticator and backup codes
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    device = TOTPDevice.objects.create(user=teller, name="phone", confirmed=True)
    backup = StaticDevice.objects.create(user=teller, name="backup", confirmed=True)
    StaticToken.objects.create(device=backup, token="backup77")

    for reader in (auditor, admin_user):
        client.force_login(reader)
        # when an auditor (every view permission) or an admin opens the device pages
        page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
        static_page = client.get(f"/admin/otp_static/staticdevice/{backup.pk}/change/")

        # then the secret, its QR code and the backup codes are not shown
        assert page.status_code == 200
        assert device.key not in page.content.decode()
        assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code == 403
        assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/").status_code == 403
        assert static_page.status_code == 200
        assert "backup77" not in static_page.content.decode()
