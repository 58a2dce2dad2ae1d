"""Every 4xx/5xx on /api/ is an RFC 9457 problem document (application/problem+json)."""

from unittest import mock

import pytest
from django.test import Client, override_settings
from rest_framework import serializers

from cooperative.api.errors import _flatten
from cooperative.exceptions import Conflict

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_malformed_json_is_a_400_problem(client):
    response = client.post("/api/v1/auth/token/", '{"email": "a@b.ng",', content_type="application/json")
    body = assert_problem(response, 400)
    assert "JSON parse error" in body["detail"]


def test_wrong_content_type_is_a_415_problem(client):
    response = client.post("/api/v1/auth/token/", "email=a@b.ng", content_type="text/plain")
    body = assert_problem(response, 415)
    assert body["title"] == "Unsupported media type"


def test_form_encoded_body_is_also_415(client):
    response = client.post("/api/v1/auth/token/", {"email": "a@b.ng", "password": "x"})
    assert_problem(response, 415)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_an_oversized_body_is_a_413_problem(client):
    response = client.post(
        "/api/v1/auth/token/", '{"email": "' + "a" * 2000 + '"}', content_type="application/json"
    )
    body = assert_problem(response, 413)
    assert "limit is 1000 bytes" in body["detail"]


def test_an_unknown_api_url_is_a_404_problem(client):
    body = assert_problem(client.get("/api/v1/no-such-thing/"), 404)
    assert body["instance"] == "/api/v1/no-such-thing/"


@override_settings(DEBUG=True)
def test_an_unknown_api_url_is_a_404_problem_in_debug_too(client):
    assert_problem(client.get("/api/v1/no-such-thing/"), 404)


def test_outside_the_api_a_404_stays_an_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_a_405_problem_with_allow(api_as, teller):
    response = api_as(teller).delete("/api/v1/me/")
    assert_problem(response, 405)
    assert "GET" in response["Allow"]


def test_validation_errors_list_field_paths(client):
    response = client.post("/api/v1/auth/token/", {"email": "x@y.ng"}, content_type="application/json")
    body = assert_problem(response, 400)
    assert body["title"] == "Invalid input"
    assert body["errors"] == [{"field": "password", "message": "This field is required."}]


def test_nested_validation_errors_become_dotted_paths():
    class Line(serializers.Serializer):
        amount = serializers.DecimalField(max_digits=18, decimal_places=2)

    class Entry(serializers.Serializer):
        memo = serializers.CharField()
        lines = Line(many=True)

    serializer = Entry(data={"lines": [{"amount": "1.00"}, {"amount": "abc"}]})
    assert not serializer.is_valid()
    assert sorted(_flatten(serializer.errors), key=lambda e: e["field"]) == [
        {"field": "lines.1.amount", "message": "A valid number is required."},
        {"field": "memo", "message": "This field is required."},
    ]


def test_non_field_errors_have_a_null_field():
    assert _flatten({"non_field_errors": ["Debits must equal credits."]}) == [
        {"field": None, "message": "Debits must equal credits."}
    ]


def test_an_unhandled_exception_is_a_500_problem_without_internals(api_as, teller, caplog):
    with mock.patch(
        "cooperative.api.views.BranchListView.list", side_effect=RuntimeError("secret internals")
    ):
        response = api_as(teller).get("/api/v1/branches/", HTTP_X_REQUEST_ID="boom-1")
    body = assert_problem(response, 500)
    assert body["request_id"] == "boom-1"
    assert "secret internals" not in response.content.decode()
    assert "Unhandled API error" in caplog.text


def test_a_500_outside_drf_is_still_a_problem_on_api_paths(teller):
    client = Client(raise_request_exception=False)
    client.force_login(teller)
    with mock.patch("cooperative.api.views.MeView.dispatch", side_effect=RuntimeError("boom")):
        response = client.get("/api/v1/me/")
    assert_problem(response, 500)


def test_a_domain_error_carries_its_status_and_type(api_as, teller):
    error = Conflict("Loan already decided", field="status", code="already-decided")
    with mock.patch("cooperative.api.views.BranchListView.list", side_effect=error):
        response = api_as(teller).get("/api/v1/branches/")
    body = assert_problem(response, 409)
    assert body["type"].endswith("/already-decided")
    assert body["detail"] == "Loan already decided"
    assert body["errors"] == [{"field": "status", "message": "Loan already decided"}]


def test_a_sane_request_id_is_echoed_and_a_hostile_one_replaced(client):
    assert client.get("/health/live", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    replaced = client.get("/health/live", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert replaced != "<script>"
    assert len(replaced) == 32


def test_a_bad_page_number_is_a_404_problem(api_as, teller):
    assert_problem(api_as(teller).get("/api/v1/branches/?page=99"), 404)


def test_page_size_is_capped_at_200(api_as, auditor):
    from tests.factories import BranchFactory

    BranchFactory.create_batch(205)
    body = api_as(auditor).get("/api/v1/branches/?page_size=500").json()
    assert len(body["results"]) == 200
    assert body["count"] == 206  # and the auditor's own branch
    assert body["next"]
