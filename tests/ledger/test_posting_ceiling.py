"""The absolute ceiling per posting (settings.POSTING_CEILING, default ₦100,000,000.00): refused outright,
before any approval routing, for every kind of posting (post_entry's line check), in the admin and the
API. Reversals are the one exception: they mirror an entry that passed the ceiling of its day. (The
loan repayment's refusal is in tests/loans/test_api_loans.py.)"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from approvals.models import ApprovalRequest
from ledger import services
from ledger.exceptions import AboveCeiling
from ledger.models import JournalEntry, PostingRequest
from ledger.services import Line, post_entry
from tests.ledger.factories import make_account

pytestmark = pytest.mark.django_db
D = Decimal
TYPO = "25000000000.00"  # ₦25,000,000,000.00 typed for ₦25,000


def nothing_happened() -> bool:
    return not PostingRequest.objects.exists() and not ApprovalRequest.objects.exists()


def api_post(client, url, body, key="c-1"):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def account(branch):
    return make_account(branch, balance="1000.00")


def test_the_ceiling_itself_posts_and_one_kobo_more_is_refused(account, settings):
    assert D("100000000.00") == settings.POSTING_CEILING  # the default
    assert isinstance(services.deposit(account_id=account.pk, amount=D("100000000.00")), JournalEntry)
    with pytest.raises(AboveCeiling, match=r"100,000,000.01 is above the ceiling of 100,000,000.00"):
        services.deposit(account_id=account.pk, amount=D("100000000.01"))


def test_the_systems_own_postings_are_held_to_it(account, branch):
    vault = services.ensure_gl_account(branch_id=branch.pk, gl_code="TELLER_CASH")
    with pytest.raises(AboveCeiling):  # actor None: the system itself
        post_entry(
            kind=JournalEntry.Kind.ADJUSTMENT,
            lines=[Line(vault.pk, "DEBIT", D(TYPO)), Line(account.pk, "CREDIT", D(TYPO))],
            narration="System posting",
        )


def test_a_typo_deposit_over_the_api_is_a_400_and_never_asks_for_approval(api_as, teller, account):
    response = api_post(api_as(teller), f"/api/v1/accounts/{account.pk}/deposit/", {"amount": TYPO})
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["title"] == "Above the posting ceiling"
    assert "25,000,000,000.00 is above the ceiling of 100,000,000.00 for one posting" in body["detail"]
    assert nothing_happened()
    account.refresh_from_db()
    assert account.balance == D("1000.00")


def test_a_withdrawal_and_a_transfer_over_the_api_are_refused(api_as, teller, branch, account):
    client = api_as(teller)
    other = make_account(branch)
    withdrawal = api_post(client, f"/api/v1/accounts/{account.pk}/withdraw/", {"amount": TYPO}, "w")
    transfer = api_post(
        client,
        "/api/v1/transfers/",
        {"from_account": str(account.pk), "to_account": str(other.pk), "amount": TYPO},
        "t",
    )
    for response in (withdrawal, transfer):
        assert response.status_code == 400, response.json()
        assert response.json()["title"] == "Above the posting ceiling"
    assert nothing_happened()


@pytest.mark.parametrize("action", ["deposit", "withdraw", "transfer"])
def test_the_admin_shows_the_ceiling_on_the_form(client, teller, branch, account, action):
    client.force_login(teller)
    url = reverse(f"admin:ledger_account_{action}", args=[account.pk])
    other = make_account(branch)
    data = {"amount": TYPO, "channel": "cash", "to_account_number": other.account_number}
    confirm = client.post(url, data)
    token = confirm.context["token"]

    refused = client.post(url, {"confirmation_token": token})

    assert refused.status_code == 400
    assert "is above the ceiling of 100,000,000.00 for one posting" in refused.content.decode()
    assert refused.context["form"].errors["amount"]
    assert nothing_happened()


def test_a_reversal_of_an_entry_above_a_lowered_ceiling_still_posts(account, settings):
    entry = services.deposit(account_id=account.pk, amount=D("50000.00"))
    settings.POSTING_CEILING = D("10000.00")
    mirror = services.reverse_entry(entry_id=entry.pk, reason="Wrong account")  # the system: not routed
    assert mirror.reverses_id == entry.pk
