"""A user suspended by QuerySet.update (no save(), no signal) loses API tokens, admin session and
permissions at the next request; the idle timeout works at any setting, also below 30 seconds."""

from __future__ import annotations

from unittest import mock

import pytest

from cooperative.models import User
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def access_token(client, user) -> str:
    response = client.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    return response.json()["access"]


def me(client, access):
    return client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access}")


@pytest.mark.parametrize("change", [{"status": User.Status.SUSPENDED}, {"is_active": False}])
def test_a_bulk_suspension_stops_the_token_at_once(client, teller, change):
    access = access_token(client, teller)
    assert me(client, access).status_code == 200  # permissions now cached
    User.objects.filter(pk=teller.pk).update(**change)
    assert me(client, access).status_code == 401
    refused = client.post(
        "/api/v1/auth/token/",
        {"email": teller.email, "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    assert refused.status_code == 401


def test_a_bulk_suspension_ends_the_admin_session(client, teller):
    client.force_login(teller)
    assert client.get("/admin/").status_code == 200
    User.objects.filter(pk=teller.pk).update(status=User.Status.LEFT)
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("timeout", [4, 20, 45])
def test_an_active_person_stays_signed_in_and_an_idle_one_is_signed_out(client, teller, settings, timeout):
    settings.STAFF_SESSION_IDLE_TIMEOUT = timeout
    client.force_login(teller)
    now = 1_000_000

    def page(at):
        with mock.patch("cooperative.middleware.time.time", return_value=at):
            return client.get("/admin/")

    assert page(now).status_code == 200
    # a request every 3/4 of the timeout, three times: never idle that long
    step = timeout * 3 // 4
    for n in range(1, 4):
        assert page(now + n * step).status_code == 200, f"logged out after {n * step}s of activity"
    # then idle for longer than the timeout
    last = now + 3 * step
    response = page(last + timeout + 1)
    assert response.status_code == 302
    assert "idle=1" in response["Location"]
