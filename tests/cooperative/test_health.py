"""Health probes: /health/live and /health/ready (database, cache, broker when configured)."""

from unittest import mock

import pytest
from django.db.utils import OperationalError

pytestmark = pytest.mark.django_db


def test_live_answers_200_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_each_check(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert response["Cache-Control"].startswith("max-age=0")


def test_ready_is_503_when_the_database_fails(client):
    with mock.patch("cooperative.views._check_database", side_effect=OperationalError("down")):
        response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == {"status": "error", "error": "OperationalError"}
    assert body["checks"]["cache"]["status"] == "ok"


def test_ready_is_503_when_the_cache_fails(client):
    with mock.patch("cooperative.views.cache.set", side_effect=ConnectionError("cache down")):
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["status"] == "error"


def test_ready_is_503_when_the_cache_returns_nothing(client):
    with mock.patch("cooperative.views.cache.get", return_value=None):
        response = client.get("/health/ready")
    assert response.status_code == 503


def test_ready_checks_the_broker_when_redis_is_configured(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with mock.patch("cooperative.views._check_broker", side_effect=ConnectionError("no broker")) as broker:
        response = client.get("/health/ready")
    broker.assert_called_once()
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"status": "error", "error": "ConnectionError"}


def test_health_endpoints_need_no_login_and_refuse_posts(client):
    assert client.post("/health/live").status_code == 405
    assert client.post("/health/ready").status_code == 405
