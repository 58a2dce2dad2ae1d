"""The ledger in the admin: accounts (with counter operations behind a confirmation step), journal
entries and legs (read-only, reversible), holds.

Every change goes through `ledger.services`; the admin only collects input, asks for confirmation
and turns domain errors into form errors.

Modules by concern: accounts (the account list, page, opening, status actions), money_actions (the
counter operations with their confirmation step, tills, statements), journal (entries and legs,
reversals), holds (holds and posting requests), filters, common, widgets (the dashboard). Importing
this package registers every ModelAdmin (admin autodiscovery imports `ledger.admin`).
"""

from . import accounts, holds, journal  # noqa: F401  (registration)
from .widgets import ready_to_pay, today_at_branch

__all__ = ["ready_to_pay", "today_at_branch"]
