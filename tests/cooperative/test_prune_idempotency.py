"""prune_idempotency_records: old stored replies go, recent ones stay, a replay still posts once."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cooperative.models import IdempotencyRecord
from ledger.models import JournalEntry
from tests.ledger.factories import make_account

pytestmark = pytest.mark.django_db


def deposit(client, account, key):
    return client.post(
        f"/api/v1/accounts/{account.pk}/deposit/",
        {"amount": "250.00", "description": "Savings"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_old_records_are_pruned_and_a_late_replay_still_posts_nothing(api_as, teller, branch):
    # given two deposits: one 40 days ago, one today
    account = make_account(branch)
    client = api_as(teller)
    assert deposit(client, account, "old-key").status_code == 201
    assert deposit(client, account, "new-key").status_code == 201
    IdempotencyRecord.objects.filter(key="old-key").update(created_at=timezone.now() - timedelta(days=40))
    entries = JournalEntry.objects.count()

    # when the retention job runs with the default 30 days
    out = StringIO()
    call_command("prune_idempotency_records", stdout=out)

    # then only the old record is gone
    assert "Deleted 1 idempotency record(s) older than 30 day(s)." in out.getvalue()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new-key"]
    # and a very late retry of the old request still posts nothing: the ledger knows the key
    replay = deposit(client, account, "old-key")
    assert replay.status_code == 201
    assert JournalEntry.objects.count() == entries
    account.refresh_from_db()
    assert account.balance == Decimal("500.00")


def test_retention_below_one_day_is_refused():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_idempotency_records", "--days", "0")
