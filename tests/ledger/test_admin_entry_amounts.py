"""The journal entries list shows each entry's true amount whatever the search or filter joins."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger import services
from tests.ledger.factories import make_account, make_member

pytestmark = pytest.mark.django_db

LIST = "/admin/ledger/journalentry/"


@pytest.fixture
def postings(branch):
    saver = make_account(branch, member=make_member(branch))
    friend = make_account(branch, member=make_member(branch))
    deposit = services.deposit(account_id=saver.pk, amount=Decimal("25000.00"), description="Savings")
    transfer = services.transfer(
        from_account_id=saver.pk, to_account_id=friend.pk, amount=Decimal("1234.56"), description="Rent"
    )
    return {"saver": saver, "deposit": deposit, "transfer": transfer}


def _amounts(page) -> dict[str, str]:
    model_admin = page.context["cl"].model_admin
    return {entry.reference: model_admin.amount(entry) for entry in page.context["cl"].result_list}


@pytest.mark.parametrize(
    "query",
    [
        lambda p: {"q": p["deposit"].reference},  # matches the entry and both its legs' reference
        lambda p: {"q": p["saver"].account_number},  # matches one leg of each entry
        lambda p: {"amount_range": "10k-100k"},
        lambda p: {"amount_range": "10k-100k", "q": p["deposit"].reference},
        lambda p: {"legs__reconciliation_status__exact": "UNRECONCILED"},
        lambda p: {},
    ],
    ids=["by reference", "by account number", "amount band", "band and search", "leg filter", "no filter"],
)
def test_each_entry_shows_its_own_amount(client, admin_user, postings, query):
    client.force_login(admin_user)

    page = client.get(LIST, query(postings))

    assert page.status_code == 200
    amounts = _amounts(page)
    assert amounts[postings["deposit"].reference] == "25,000.00"  # not 50,000.00 (two legs matched)
    if postings["transfer"].reference in amounts:
        assert amounts[postings["transfer"].reference] == "1,234.56"


def test_an_entry_is_listed_once_however_many_legs_match(client, admin_user, postings):
    client.force_login(admin_user)

    page = client.get(LIST, {"q": postings["deposit"].reference})

    references = [entry.reference for entry in page.context["cl"].result_list]
    assert references == [postings["deposit"].reference]
