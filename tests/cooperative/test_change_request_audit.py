"""Postings and admin bulk actions record the client IP: every successful change on the API or the
admin leaves a CHANGE_REQUEST audit row with the user, the IP, the path and the request id."""

from __future__ import annotations

import uuid

import pytest

from cooperative.models import AuditLog
from ledger.models import JournalEntry
from tests.ledger.factories import make_account

pytestmark = pytest.mark.django_db


def change_rows():
    return AuditLog.objects.filter(event=AuditLog.Event.CHANGE_REQUEST).order_by("id")


def test_an_api_posting_records_the_client_ip(api_as, teller, branch):
    account = make_account(branch, balance="0.00")
    response = api_as(teller).post(
        f"/api/v1/accounts/{account.pk}/deposit/",
        {"amount": "2500.00", "description": "Cash in"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        REMOTE_ADDR="10.9.8.7",
    )
    assert response.status_code == 201, response.content
    row = change_rows().get()
    entry = JournalEntry.objects.get(pk=response.json()["id"])
    assert (row.user, row.ip_address, row.path) == (
        teller,
        "10.9.8.7",
        f"/api/v1/accounts/{account.pk}/deposit/",
    )
    assert row.request_id == response["X-Request-ID"]
    assert entry.posted_by == row.user  # the posting and its address, side by side
    assert row.detail == {"method": "POST", "status": 201}


def test_a_refused_or_read_only_request_writes_no_change_row(api_as, teller, branch):
    account = make_account(branch, balance="0.00")
    api_as(teller).get(f"/api/v1/accounts/{account.pk}/")
    refused = api_as(teller).post(
        f"/api/v1/accounts/{account.pk}/deposit/",
        {"amount": "-5"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert refused.status_code == 400
    assert not change_rows().exists()


def test_an_admin_bulk_action_records_the_ip_the_action_and_the_rows(
    client, admin_user, branch, other_branch
):
    client.force_login(admin_user)
    response = client.post(
        "/admin/cooperative/branch/",
        {"action": "delete_selected", "_selected_action": [str(branch.pk), str(other_branch.pk)]},
        REMOTE_ADDR="10.0.0.42",
    )
    assert response.status_code == 200  # the confirmation page
    row = change_rows().get()
    assert row.ip_address == "10.0.0.42"
    assert row.user == admin_user
    assert row.detail["action"] == "delete_selected"
    assert row.detail["selected"] == 2
    assert set(row.detail["ids"]) == {str(branch.pk), str(other_branch.pk)}
