"""What every module of the ledger's services shares: the permission check, id parsing, the member
deposit accounts and the status move. Private to the package."""

from __future__ import annotations

import uuid

from cooperative.authz import user_authz
from cooperative.exceptions import ValidationFailed
from cooperative.history import set_change_reason
from cooperative.models import User
from cooperative.permissions import require_permission
from cooperative.roles import PARTNER

from ..exceptions import AccountNotFound, NotPermitted
from ..models import Account, AccountType
from ..workflow import ACCOUNT_MACHINE

# Member accounts whose balance the member owns and may not overdraw.
DEPOSIT_ACCOUNT_TYPES = (AccountType.SAVINGS, AccountType.SHARES, AccountType.CASH)


def as_uuid(value: object) -> uuid.UUID:
    """Account ids arrive as UUIDs or strings; the locked rows are keyed by UUID."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError) as exc:
        raise AccountNotFound("No such account.") from exc


def require(actor: User | None, perm: str, branch_id: uuid.UUID | None = None) -> None:
    """Permission and branch checks. `actor=None` means the system itself (jobs, migrations)."""
    require_permission(actor, perm, branch_id=branch_id, error=NotPermitted, subject="account")


def refuse_partner_outflow(actor: User | None) -> None:
    """Partner systems may deposit (with `ledger.post_transaction`) but never take money out: every
    service that moves money out of an account asks this first, whatever route called it."""
    if actor is None or actor.is_superuser:
        return
    authz = user_authz(actor)
    if authz is not None and PARTNER in authz.group_names:
        raise NotPermitted("Partner systems may post deposits only; they never take money out.")


def member_deposit_account(account_id: uuid.UUID) -> Account:
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        raise AccountNotFound("No such account.")
    if account.type not in DEPOSIT_ACCOUNT_TYPES:
        raise ValidationFailed(
            f"Account {account.account_number} is not a member savings, shares or cash account."
        )
    return account


def counter_gl_code(channel: str) -> str:
    gl_code = {"cash": "TELLER_CASH", "bank": "BANK"}.get(channel)
    if gl_code is None:
        raise ValidationFailed("The channel is 'cash' or 'bank'.", field="channel")
    return gl_code


def set_status(account: Account, status: str, reason: str, update: list[str]) -> Account:
    ACCOUNT_MACHINE.move(account, status)  # the move must exist in ledger/workflow.py's table
    account.status_reason = reason
    set_change_reason(account, reason)
    account.save(update_fields=["status", "status_reason", "updated_at", *update])
    return account
