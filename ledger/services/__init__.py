"""Every change to the ledger. One function per use case; keyword-only arguments; each runs in one
transaction. `post_entry` is the only writer of legs and balances: every other service builds the
lines of one balanced entry and hands them to it, and it locks the touched accounts in primary-key
order, checks the rules on the locked rows and writes the entry, its legs and the cached balances.

`actor` is the staff user (or partner system) acting; its permission and branch are checked
(`cooperative.permissions.require_permission`); `actor=None` is the system itself (jobs, the demo
seed, migrations) and passes.
"""

from ._common import DEPOSIT_ACCOUNT_TYPES, as_uuid
from .accounts import (
    close_account,
    freeze_account,
    open_account,
    unfreeze_account,
    update_account_settings,
)
from .gl_accounts import (
    BRANCH_GL_ACCOUNTS,
    bootstrap_branch_ledger,
    counter_account_id,
    ensure_gl_account,
    ensure_till_account,
    till_teller_of,
)
from .holds import place_hold, release_hold
from .movements import deposit, move_till_cash, transfer, withdraw
from .payouts import pay_approved_withdrawal
from .posting import Line, post_entry
from .posting_requests import Pending
from .reversals import reverse_entry

__all__ = [
    "BRANCH_GL_ACCOUNTS",
    "DEPOSIT_ACCOUNT_TYPES",
    "Line",
    "Pending",
    "as_uuid",
    "bootstrap_branch_ledger",
    "close_account",
    "counter_account_id",
    "deposit",
    "ensure_gl_account",
    "ensure_till_account",
    "freeze_account",
    "move_till_cash",
    "open_account",
    "pay_approved_withdrawal",
    "place_hold",
    "post_entry",
    "release_hold",
    "reverse_entry",
    "till_teller_of",
    "transfer",
    "unfreeze_account",
    "update_account_settings",
    "withdraw",
]
