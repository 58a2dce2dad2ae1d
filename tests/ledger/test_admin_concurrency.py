"""PostgreSQL-only: a teller's confirmation submitted several times at once (double click, two tabs)
posts exactly once."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from ledger.models import JournalEntry
from tests.ledger.factories import make_account
from tests.postgres_harness import closing_connection

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("transactional_roles"),
]


def test_simultaneous_confirmations_of_one_deposit_post_once(make_staff, branch):
    # given a teller on the confirmation page of a 500.00 deposit
    teller = make_staff("TELLER", branch)
    account = make_account(branch)
    url = reverse("admin:ledger_account_deposit", args=[account.pk])
    client = Client()
    client.force_login(teller)
    page = client.post(url, {"amount": "500", "channel": "cash"}).content.decode()
    token = re.search(r'name="confirmation_token" value="([^"]+)"', page).group(1)
    session_cookie = client.cookies["sessionid"].value
    barrier = threading.Barrier(6)

    @closing_connection
    def confirm(_):
        browser_tab = Client()
        browser_tab.cookies["sessionid"] = session_cookie
        barrier.wait()
        return browser_tab.post(url, {"confirmation_token": token}).status_code

    # when six requests confirm it at the same instant
    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(confirm, range(6)))

    # then every request ends on the account page and the money moved once
    assert codes == [302] * 6
    assert JournalEntry.objects.filter(idempotency_key=f"admin:{token}").count() == 1
    account.refresh_from_db()
    assert account.balance == Decimal("500.00")
