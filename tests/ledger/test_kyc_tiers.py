"""Tiered KYC limits on deposits (issue 12 §2, CBN tiers; ledger/kyc.py, members.selectors.kyc_tier):
tier I (KYC not verified) ₦50,000 a deposit / ₦300,000 balance, tier II (verified with a BVN)
₦100,000 / ₦500,000, tier III (BVN and NIN) none; refusals name the limit and the way up; every money
page warns about a member whose KYC is not verified."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.urls import reverse

from approvals.services import decide_approval
from ledger import services
from ledger.exceptions import KycTierLimitExceeded
from ledger.kyc import limits_suspended
from ledger.models import Account, JournalEntry, PostingRequest
from ledger.services import Pending
from members.selectors import kyc_tier
from tests.ledger.factories import make_account, make_member

pytestmark = pytest.mark.django_db
D = Decimal
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _kyc_tier_limits_on(settings):
    settings.KYC_TIER_LIMITS = True  # tests/conftest.py switches them off for every other test


def member_of_tier(branch, tier: int, **fields):
    n = next(_ids)
    identity = {
        1: {},
        2: {"kyc_status": "VERIFIED", "bvn_hash": f"bvn{n:061d}"},
        3: {"kyc_status": "VERIFIED", "bvn_hash": f"bvn{n:061d}", "nin_hash": f"nin{n:061d}"},
    }[tier]
    return make_member(branch, **identity, **fields)


def account_of_tier(branch, tier: int, balance="0.00"):
    with limits_suspended():
        return make_account(branch, member=member_of_tier(branch, tier), balance=balance)


def deposit(account, amount, actor=None, **kwargs):
    return services.deposit(account_id=account.pk, amount=D(amount), actor=actor, **kwargs)


def balance_of(account) -> Decimal:
    return Account.objects.get(pk=account.pk).balance


def test_the_tier_follows_what_was_verified(branch):
    assert kyc_tier(member_of_tier(branch, 1).pk) == 1
    assert kyc_tier(member_of_tier(branch, 2).pk) == 2
    assert kyc_tier(member_of_tier(branch, 3).pk) == 3
    # verified on a NIN alone, or BVN and NIN on file but not verified: tier I
    assert kyc_tier(make_member(branch, kyc_status="VERIFIED", nin_hash="n" * 64).pk) == 1
    assert kyc_tier(make_member(branch, bvn_hash="b" * 64, nin_hash="m" * 64).pk) == 1


def test_tier_one_single_deposit_limit(branch, teller):
    account = account_of_tier(branch, 1)
    assert isinstance(deposit(account, "50000.00", teller), JournalEntry)
    with pytest.raises(KycTierLimitExceeded) as refused:
        deposit(account, "50000.01", teller)
    assert str(refused.value.message) == (
        "The member is KYC tier I: one deposit may be at most ₦50,000.00 (this one is ₦50,000.01); "
        "verify the member's BVN (KYC) to raise the limit to ₦100,000.00 (tier II)."
    )
    assert balance_of(account) == D("50000.00")


def test_tier_one_balance_limit(branch):
    account = account_of_tier(branch, 1, balance="280000.00")
    assert isinstance(deposit(account, "20000.00"), JournalEntry)  # exactly ₦300,000: allowed
    with pytest.raises(
        KycTierLimitExceeded, match=r"may hold at most ₦300,000.00 \(it would hold ₦300,000.01\)"
    ):
        deposit(account, "0.01")


def test_tier_two_limits_and_the_way_up(branch):
    account = account_of_tier(branch, 2, balance="450000.00")
    with pytest.raises(KycTierLimitExceeded, match="one deposit may be at most ₦100,000.00") as refused:
        deposit(account, "100000.01")
    assert "verify the member's NIN as well (full KYC) to lift the limit (tier III)." in refused.value.message
    with pytest.raises(KycTierLimitExceeded, match="may hold at most ₦500,000.00"):
        deposit(account, "60000.00")
    assert isinstance(deposit(account, "50000.00"), JournalEntry)


def test_tier_three_has_no_limit_and_bank_deposits_are_limited_too(branch, teller):
    full = account_of_tier(branch, 3)
    assert isinstance(deposit(full, "4000000.00", teller), JournalEntry)
    assert isinstance(deposit(full, "6000000.00", teller), Pending)  # the deposit band still applies
    basic = account_of_tier(branch, 1)
    with pytest.raises(KycTierLimitExceeded):
        deposit(basic, "60000.00", teller, channel="bank")


def test_the_limits_are_settings_and_can_be_switched_off(branch, settings):
    account = account_of_tier(branch, 1)
    settings.KYC_TIER1_MAX_DEPOSIT = D("1000.00")
    with pytest.raises(KycTierLimitExceeded, match="at most ₦1,000.00"):
        deposit(account, "1000.01")
    settings.KYC_TIER_LIMITS = False
    assert isinstance(deposit(account, "1000000.00"), JournalEntry)


def test_an_approved_deposit_is_checked_again_at_approval(branch, teller, manager):
    account = account_of_tier(branch, 3)
    pending = deposit(account, "6000000.00", teller)
    account.member.__class__.objects.filter(pk=account.member_id).update(kyc_status="PENDING")

    with pytest.raises(KycTierLimitExceeded):
        decide_approval(request_id=pending.approval_request.pk, actor=manager, decision="APPROVED")

    assert PostingRequest.objects.get().status == PostingRequest.Status.PENDING  # rolled back
    assert balance_of(account) == D("0.00")


def test_the_api_refuses_with_a_409_naming_the_limit(api_as, teller, branch):
    account = account_of_tier(branch, 1)
    response = api_as(teller).post(
        f"/api/v1/accounts/{account.pk}/deposit/",
        {"amount": "75000.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["title"] == "KYC tier limit exceeded"
    assert "at most ₦50,000.00" in body["detail"]
    assert "verify the member's BVN" in body["detail"]


# --- the admin's money pages ------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["deposit", "withdraw", "transfer"])
def test_every_money_page_warns_about_unverified_kyc(client, teller, branch, action):
    account = account_of_tier(branch, 1, balance="1000.00")
    other = account_of_tier(branch, 3)
    client.force_login(teller)
    url = reverse(f"admin:ledger_account_{action}", args=[account.pk])

    form = client.get(url).content.decode()
    data = {"amount": "100", "channel": "cash", "to_account_number": other.account_number}
    confirm = client.post(url, data).content.decode()

    for page in (form, confirm):
        assert 'id="ledger-kyc-notice"' in page
        assert "KYC not verified" in page
        assert "one deposit may be at most ₦50,000.00" in page


def test_a_fully_verified_member_has_no_warning(client, teller, branch):
    account = account_of_tier(branch, 3)
    client.force_login(teller)
    page = client.get(reverse("admin:ledger_account_deposit", args=[account.pk])).content.decode()
    assert 'id="ledger-kyc-notice"' not in page


def test_the_admin_shows_the_refusal_on_the_form(client, teller, branch):
    account = account_of_tier(branch, 1)
    client.force_login(teller)
    url = reverse("admin:ledger_account_deposit", args=[account.pk])
    confirm = client.post(url, {"amount": "60,000", "channel": "cash"})

    refused = client.post(url, {"confirmation_token": confirm.context["token"]})

    assert refused.status_code == 400
    assert refused.context["form"].errors["amount"] == [
        "The member is KYC tier I: one deposit may be at most ₦50,000.00 (this one is ₦60,000.00); "
        "verify the member's BVN (KYC) to raise the limit to ₦100,000.00 (tier II)."
    ]
    assert balance_of(account) == D("0.00")
