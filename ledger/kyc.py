"""KYC tiers and the deposit limits that go with them (CBN three-tiered KYC), on the ledger's side.

The ledger imports no domain app: the members app tells it a member's tier by registering a source
in its AppConfig.ready() (`register_tier_source`). Without a source every member counts as tier III
(no limits). Tier I: KYC not verified; tier II: verified with a BVN; tier III: verified with BVN and
NIN (members.selectors.kyc_tier decides). The limits are settings (`KYC_TIER_LIMITS` switches them
off; `KYC_TIER1_MAX_DEPOSIT`, `KYC_TIER1_MAX_BALANCE`, `KYC_TIER2_MAX_DEPOSIT`,
`KYC_TIER2_MAX_BALANCE`; tier III has none). `check_deposit` runs on the locked member account of a
deposit (`ledger.services.deposit`, also when a waiting deposit is approved).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from cooperative.money import format_naira

from .exceptions import KycTierLimitExceeded
from .models import Account

TIER_I, TIER_II, TIER_III = 1, 2, 3
TIER_NAMES = {TIER_I: "I", TIER_II: "II", TIER_III: "III"}
# How a member moves up from each tier (the sentence ends with the next tier's limit).
UPGRADE = {
    TIER_I: "verify the member's BVN (KYC) to raise the limit",
    TIER_II: "verify the member's NIN as well (full KYC) to lift the limit",
}

_tier_source: Callable[[uuid.UUID], int] | None = None
_suspended: ContextVar[bool] = ContextVar("kyc_limits_suspended", default=False)


def register_tier_source(source: Callable[[uuid.UUID], int]) -> None:
    """`source(member_id) -> 1 | 2 | 3`; the members app registers it (idempotent)."""
    global _tier_source
    _tier_source = source


def member_tier(member_id: uuid.UUID) -> int:
    return _tier_source(member_id) if _tier_source is not None else TIER_III


@dataclass(frozen=True)
class TierLimits:
    tier: int
    max_deposit: Decimal | None
    max_balance: Decimal | None

    @property
    def name(self) -> str:
        return TIER_NAMES[self.tier]


def tier_limits(tier: int) -> TierLimits:
    if tier == TIER_I:
        return TierLimits(tier, settings.KYC_TIER1_MAX_DEPOSIT, settings.KYC_TIER1_MAX_BALANCE)
    if tier == TIER_II:
        return TierLimits(tier, settings.KYC_TIER2_MAX_DEPOSIT, settings.KYC_TIER2_MAX_BALANCE)
    return TierLimits(TIER_III, None, None)


def limits_on() -> bool:
    return bool(settings.KYC_TIER_LIMITS) and not _suspended.get()


@contextmanager
def limits_suspended() -> Iterator[None]:
    """Scripts that are not about KYC (the demo seed) post without the tier limits."""
    token = _suspended.set(True)
    try:
        yield
    finally:
        _suspended.reset(token)


def _upgrade(tier: int, which: str) -> str:
    following = tier_limits(tier + 1)
    limit = following.max_deposit if which == "deposit" else following.max_balance
    to = f" to {format_naira(limit)}" if limit is not None else ""
    return f"{UPGRADE[tier]}{to} (tier {following.name})."


def check_deposit(account: Account, amount: Decimal) -> None:
    """Refuse a deposit beyond the member's tier: the single deposit, or the balance it would
    leave. `account` is the locked row (its balance before this deposit)."""
    if account.member_id is None or not limits_on():
        return
    limits = tier_limits(member_tier(account.member_id))
    if limits.max_deposit is not None and amount > limits.max_deposit:
        raise KycTierLimitExceeded(
            f"The member is KYC tier {limits.name}: one deposit may be at most "
            f"{format_naira(limits.max_deposit)} (this one is {format_naira(amount)}); "
            f"{_upgrade(limits.tier, 'deposit')}",
            field="amount",
        )
    if limits.max_balance is not None and account.balance + amount > limits.max_balance:
        raise KycTierLimitExceeded(
            f"The member is KYC tier {limits.name}: account {account.account_number} may hold at most "
            f"{format_naira(limits.max_balance)} (it would hold {format_naira(account.balance + amount)}); "
            f"{_upgrade(limits.tier, 'balance')}",
            field="amount",
        )


def kyc_notice(account: Account) -> dict | None:
    """For the money pages: the member's tier and limits when their KYC is not fully verified
    (None for tier III or a non-member account)."""
    if account.member_id is None:
        return None
    tier = member_tier(account.member_id)
    if tier == TIER_III:
        return None
    limits = tier_limits(tier)
    return {
        "tier": limits.name,
        "verified": tier > TIER_I,
        "limits_on": limits_on(),
        "max_deposit": format_naira(limits.max_deposit),
        "max_balance": format_naira(limits.max_balance),
        "upgrade": _upgrade(tier, "deposit"),
    }
