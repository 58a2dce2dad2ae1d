"""The legs changelist searches by full account number or reference with indexed, exact lookups."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger import services
from tests.ledger.factories import make_account, make_member

pytestmark = pytest.mark.django_db


def test_search_by_account_number_and_by_reference(client, admin_user, branch):
    mine = make_account(branch, member=make_member(branch))
    other = make_account(branch, member=make_member(branch))
    entry = services.deposit(account_id=mine.pk, amount=Decimal("100.00"), description="Mine")
    services.deposit(account_id=other.pk, amount=Decimal("200.00"), description="Other")
    client.force_login(admin_user)

    page = client.get(f"/admin/ledger/transaction/?q={mine.account_number}")
    legs = list(page.context["cl"].result_list)
    assert page.status_code == 200
    assert {leg.account_id for leg in legs} == {mine.pk}

    by_reference = client.get(f"/admin/ledger/transaction/?q={entry.reference.lower()}")
    assert {leg.reference for leg in by_reference.context["cl"].result_list} == {entry.reference}
    assert len(by_reference.context["cl"].result_list) == 2  # both legs of the entry

    nothing = client.get("/admin/ledger/transaction/?q=0000000000")
    assert list(nothing.context["cl"].result_list) == []
