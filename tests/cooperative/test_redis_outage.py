"""A Redis outage degrades, never 500s: with the Redis this test started killed, a JWT API call,
a token request and an admin login still work (permissions from the database, login throttling in
the database cache, still counting), /health/ready says "degraded" with Retry-After, and what truly
needs Redis answers 503 with Retry-After."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from unittest import mock

import pytest
import redis
from django.core.cache import caches

from cooperative import authz
from cooperative import cache as resilient
from cooperative.settings.base import redis_caches
from tests.factories import DEFAULT_PASSWORD

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_redis(settings):
    """A redis-server of this test's own, the cache and broker pointed at it; yields a killer."""
    port = _free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    settings.REDIS_URL = url
    settings.CACHES = redis_caches(url)
    settings.RATELIMIT_USE_CACHE = "ratelimit"

    def kill():
        server.kill()
        server.wait(timeout=10)

    yield kill
    if server.poll() is None:
        kill()
    resilient._failing.clear()


def token(client, user, **extra):
    return client.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": DEFAULT_PASSWORD, **extra},
        content_type="application/json",
    )


def test_the_api_token_requests_and_admin_login_work_while_redis_is_down(client, own_redis, teller):
    # given a token issued and permissions cached while Redis was up
    access = token(client, teller).json()["access"]
    assert client.get("/api/v1/members/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200

    # when Redis dies
    own_redis()

    # then an authenticated API call reads the permissions from the database
    listed = client.get("/api/v1/members/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert listed.status_code == 200, listed.content
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access}").json()["roles"] == ["TELLER"]
    # and a token request and an admin login succeed
    assert token(client, teller).status_code == 200
    login = client.post("/admin/login/", {"username": teller.email, "password": DEFAULT_PASSWORD})
    assert login.status_code == 302, login.content
    assert client.get("/admin/").status_code == 200


def test_login_throttling_keeps_counting_in_the_database_while_redis_is_down(
    client, own_redis, teller, settings
):
    settings.LOGIN_RATE_LIMIT = "3/d"  # a day-long window: the four requests never straddle two
    own_redis()
    answers = [token(client, teller, password="wrong-password").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]  # fails closed: never unlimited attempts
    assert token(client, teller).status_code == 429  # the right password too, from that address


def test_ready_reports_degraded_with_retry_after(client, own_redis):
    assert client.get("/health/ready").status_code == 200
    own_redis()
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "error"
    assert body["checks"]["broker"]["status"] == "error"


def test_what_needs_redis_answers_503_with_retry_after(client, own_redis, teller):
    access = token(client, teller).json()["access"]
    own_redis()

    def needs_redis(*args, **kwargs):
        caches["redis"].get("anything")  # the real cache, as a Celery enqueue or a lock would need

    with mock.patch("cooperative.api.views.MeView.get", needs_redis):
        api = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert api.status_code == 503
    assert api["Retry-After"] == "30"
    assert api.json()["title"] == "Service unavailable"

    client.force_login(teller)
    with mock.patch("cooperative.dashboard.widgets_for", needs_redis):
        page = client.get("/admin/")
    assert page.status_code == 503
    assert page["Retry-After"] == "30"


def test_a_change_made_during_the_outage_is_not_hidden_by_a_stale_entry(own_redis, teller):
    # given the teller's permissions cached in Redis
    tokens_before = authz.user_authz(teller).tokens
    # when Redis is unreachable for a moment (the invalidation of a change cannot be written) ...
    with mock.patch.object(caches["redis"], "get_many", side_effect=redis.exceptions.ConnectionError):
        authz.forget_request_memo(teller)
        assert authz.user_authz(teller).perms  # served from the database meanwhile
    # ... then the first answer after it outdates every entry cached before
    authz.forget_request_memo(teller)
    assert authz.user_authz(teller).tokens[0] != tokens_before[0]
