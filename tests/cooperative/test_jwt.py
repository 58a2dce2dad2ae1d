"""JWT: issue, refresh with rotation + blacklist, expiry, bad signatures, alg=none, /me/."""

import base64
import json
import time

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def issue(client, user):
    response = client.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(client, token):
    return client.post("/api/v1/auth/token/refresh/", {"refresh": token}, content_type="application/json")


def me(client, access):
    return client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access}")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_401_problem(response):
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["title"] == "Authentication required"
    assert "Bearer" in response["WWW-Authenticate"]


def test_token_pair_is_issued_for_email_and_password(client, teller):
    tokens = issue(client, teller)
    assert set(tokens) == {"access", "refresh"}
    response = me(client, tokens["access"])
    assert response.status_code == 200
    assert response.json()["email"] == teller.email


def test_email_is_matched_case_insensitively(client, teller):
    response = client.post(
        "/api/v1/auth/token/",
        {"email": teller.email.upper(), "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200


def test_me_returns_roles_and_branches(client, teller, branch):
    body = me(client, issue(client, teller)["access"]).json()
    assert body["roles"] == ["TELLER"]
    assert [b["code"] for b in body["branches"]] == ["MB001"]
    assert body["sees_all_branches"] is False
    assert "password" not in body


def test_me_for_an_auditor_says_they_see_all_branches(client, auditor):
    body = me(client, issue(client, auditor)["access"]).json()
    assert body["roles"] == ["AUDITOR"]
    assert body["sees_all_branches"] is True


def test_me_without_credentials_is_a_401_problem(client):
    assert_401_problem(client.get("/api/v1/me/"))


def test_refresh_rotates_and_the_old_refresh_token_is_blacklisted(client, teller):
    # given
    first = issue(client, teller)
    # when
    rotated = refresh(client, first["refresh"])
    # then a new pair comes back and works
    assert rotated.status_code == 200
    assert set(rotated.json()) == {"access", "refresh"}
    assert rotated.json()["refresh"] != first["refresh"]
    assert me(client, rotated.json()["access"]).status_code == 200
    # and reusing the rotated-out refresh token fails
    reuse = refresh(client, first["refresh"])
    assert_401_problem(reuse)
    assert "blacklisted" in reuse.json()["detail"]
    # while the new one still refreshes
    assert refresh(client, rotated.json()["refresh"]).status_code == 200


def test_an_access_token_cannot_be_used_to_refresh(client, teller):
    tokens = issue(client, teller)
    assert_401_problem(refresh(client, tokens["access"]))


def test_refresh_without_a_token_is_a_400_with_the_field(client):
    response = client.post("/api/v1/auth/token/refresh/", {}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "refresh"


def test_an_expired_access_token_is_a_401_problem(client, teller):
    token = AccessToken.for_user(teller)
    token["exp"] = int(time.time()) - 5
    assert_401_problem(me(client, str(token)))


def test_a_token_with_an_invalid_signature_is_a_401_problem(client, teller):
    genuine = AccessToken.for_user(teller)
    forged = jwt.encode(dict(genuine.payload), "some-other-secret-key-of-enough-length", algorithm="HS256")
    assert_401_problem(me(client, forged))


def test_a_tampered_payload_is_a_401_problem(client, teller, admin_user):
    header, _payload, signature = str(AccessToken.for_user(teller)).split(".")
    claims = dict(AccessToken.for_user(teller).payload, user_id=str(admin_user.pk))
    assert_401_problem(me(client, f"{header}.{_b64(claims)}.{signature}"))


def test_an_alg_none_token_is_a_401_problem(client, teller):
    claims = dict(AccessToken.for_user(teller).payload)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert_401_problem(me(client, unsigned))


def test_garbage_in_the_authorization_header_is_a_401_problem(client):
    assert_401_problem(me(client, "not.a.jwt"))


def test_a_token_of_a_deactivated_user_is_refused(client, teller):
    access = issue(client, teller)["access"]
    teller.status = teller.Status.SUSPENDED
    teller.save()
    assert_401_problem(me(client, access))


def test_suspended_staff_get_no_token(client, teller):
    teller.status = teller.Status.SUSPENDED
    teller.save()
    response = client.post(
        "/api/v1/auth/token/",
        {"email": teller.email, "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 401


def test_token_request_without_fields_lists_the_missing_fields(client):
    response = client.post("/api/v1/auth/token/", {}, content_type="application/json")
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"email", "password"}


def test_token_request_with_a_json_array_is_a_400_problem(client):
    response = client.post("/api/v1/auth/token/", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_access_tokens_are_short_lived():
    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds() <= 3600
    assert settings.SIMPLE_JWT["ROTATE_REFRESH_TOKENS"] is True
    assert settings.SIMPLE_JWT["BLACKLIST_AFTER_ROTATION"] is True


def test_issued_refresh_tokens_are_never_shown_in_the_admin(client, teller, auditor, admin_user):
    # given a teller who signed in to the API
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    token = issue(client, teller)["refresh"]
    outstanding = OutstandingToken.objects.get(user=teller)

    for reader in (auditor, admin_user):
        # when an auditor or an admin looks at the issued tokens
        client.force_login(reader)
        listing = client.get("/admin/token_blacklist/outstandingtoken/", {"q": teller.email})
        page = client.get(f"/admin/token_blacklist/outstandingtoken/{outstanding.pk}/change/")

        # then they see who holds one and until when, but not the token they could use
        assert listing.status_code == page.status_code == 200
        assert outstanding.jti in listing.content.decode()
        assert token not in page.content.decode()
        assert outstanding.jti in page.content.decode()
