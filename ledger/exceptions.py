"""Ledger rule violations. Each becomes a 4xx problem in the API and a form error in the admin."""

from cooperative.exceptions import Conflict, NotAllowed, NotFoundError, ValidationFailed


class UnbalancedEntry(ValidationFailed):
    title = "Unbalanced journal entry"


class AccountNotActive(Conflict):
    title = "Account not active"


class CurrencyMismatch(ValidationFailed):
    title = "Currency mismatch"


class InsufficientFunds(Conflict):
    title = "Insufficient funds"


class DailyLimitExceeded(Conflict):
    title = "Daily withdrawal limit exceeded"


class AlreadyReversed(Conflict):
    title = "Already reversed"


class AccountNotEmpty(Conflict):
    title = "Account still holds money"


class NotPermitted(NotAllowed):
    title = "Not permitted"


class AccountNotFound(NotFoundError):
    title = "Account not found"


class AccountNotVisible(LookupError):
    """An account the caller may not see (another branch) or that is not a member account.

    Not a DomainError on purpose: the API answers it as a 404 exactly like an unknown id, and an
    idempotent request does not store it as its outcome (see cooperative/idempotency.py)."""


class AboveCeiling(ValidationFailed):
    """A posting above the absolute ceiling per posting (setting POSTING_CEILING): refused outright,
    never sent for approval (a typo such as ₦25,000,000,000 for ₦25,000)."""

    title = "Above the posting ceiling"


class KycTierLimitExceeded(Conflict):
    """A deposit beyond the member's KYC tier (single deposit or balance limit, KYC_TIER_LIMITS)."""

    title = "KYC tier limit exceeded"


class TillShort(InsufficientFunds):
    """A till or the vault asked to pay out more cash than it holds (a drawer cannot go below zero)."""

    title = "Not enough cash in the till"
