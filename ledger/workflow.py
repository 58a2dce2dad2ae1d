"""An account's status as a table: ACTIVE ⇄ FROZEN, and ACTIVE/FROZEN → CLOSED once it is empty.

ledger.services (freeze_account, unfreeze_account, close_account) owns the locking and the closing
sweep; this machine says which moves exist and on which conditions. docs/workflows.md is generated
from it (`python manage.py workflow_docs`). Imports no domain app.
"""

from __future__ import annotations

from cooperative.models import User
from cooperative.permissions import require_permission
from cooperative.workflow import StateMachine, Transition, guard, register

from .exceptions import AccountNotEmpty, NotPermitted
from .models import Account

A = Account.Status


def authorize(actor: User | None, permission: str, account: Account) -> None:
    require_permission(actor, permission, branch_id=account.branch_id, error=NotPermitted, subject="account")


@guard("no money on hold", error=AccountNotEmpty)
def nothing_on_hold(account: Account, **ctx) -> str | None:
    if account.held_amount:
        return f"Account {account.account_number} has {account.held_amount} on hold; release the holds first."
    return None


@guard("not overdrawn", error=AccountNotEmpty)
def not_overdrawn(account: Account, **ctx) -> str | None:
    if account.balance < 0:
        return f"Account {account.account_number} is overdrawn ({account.balance})."
    return None


@guard("the balance is zero (what remains is swept to another account first)", error=AccountNotEmpty)
def balance_is_zero(account: Account, **ctx) -> str | None:
    if account.balance != 0:
        return f"Account {account.account_number} still holds {account.balance}; sweep it first."
    return None


ACCOUNT_MACHINE = register(
    StateMachine(
        name="ledger_account",
        model="ledger.Account",
        field="status",
        states=Account.Status,
        initial=A.ACTIVE,
        title="Ledger account",
        description=(
            "Member and internal accounts. Only an ACTIVE account takes postings; a closed account "
            "stays closed (its legs and history are kept)."
        ),
        plural="accounts",
        subject=lambda account: f"Account {account.account_number}",
        authorize=authorize,
        transitions=[
            Transition(
                "freeze",
                (A.ACTIVE,),
                A.FROZEN,
                permission="ledger.freeze_account",
                verb="frozen",
                description="No posting in or out until unfrozen (a reason is kept).",
            ),
            Transition(
                "unfreeze",
                (A.FROZEN,),
                A.ACTIVE,
                permission="ledger.freeze_account",
                verb="unfrozen",
                description="Postings are accepted again.",
            ),
            Transition(
                "close",
                (A.ACTIVE, A.FROZEN),
                A.CLOSED,
                permission="ledger.close_account",
                guards=(nothing_on_hold, not_overdrawn, balance_is_zero),
                verb="closed",
                description="A positive balance is swept to another account of the member first.",
            ),
        ],
    )
)
