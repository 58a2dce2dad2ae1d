"""The ledger's internal accounts: each branch's GL accounts (teller cash vault, bank, gateway
clearing, income, expense …) and each teller's till, created on first use; which of them takes the
other side of a member's movement."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from cooperative.authz import user_authz
from cooperative.models import User
from cooperative.roles import PARTNER

from ..exceptions import NotPermitted
from ..models import DEBIT_NORMAL_TYPES, Account, AccountType, Side
from ..numbering import next_account_number

# Internal accounts every branch gets (gl_code -> (type, name)).
BRANCH_GL_ACCOUNTS = {
    "TELLER_CASH": (AccountType.TELLER_CASH, "Vault"),  # the branch's vault; tills are opened per teller
    "BANK": (AccountType.BANK, "Bank (main operating account)"),
    "PAYSTACK_CLEARING": (AccountType.GATEWAY_CLEARING, "Paystack clearing"),
    "FLUTTERWAVE_CLEARING": (AccountType.GATEWAY_CLEARING, "Flutterwave clearing"),
    "LOANS_RECEIVABLE": (AccountType.LOANS_RECEIVABLE, "Loans receivable (control)"),
    "INTEREST_INCOME": (AccountType.INTEREST_INCOME, "Interest income"),
    "FEE_INCOME": (AccountType.FEE_INCOME, "Fee income"),
    "PENALTY_INCOME": (AccountType.PENALTY_INCOME, "Penalty income"),
    "GENERAL_EXPENSE": (AccountType.EXPENSE, "General expenses"),
    "LOAN_LOSS_EXPENSE": (AccountType.EXPENSE, "Loan-loss expense"),
    "LOAN_LOSS_PROVISION": (AccountType.LOAN_LOSS_PROVISION, "Loan-loss provision"),
    "SUSPENSE": (AccountType.SUSPENSE, "Suspense"),
}


def ensure_gl_account(*, branch_id: uuid.UUID, gl_code: str) -> Account:
    """The branch's internal account for `gl_code`, created on first use (for teller cash: the
    branch's vault, not a till)."""
    lookup = {"branch_id": branch_id, "gl_code": gl_code, "member__isnull": True, "till_teller__isnull": True}
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    account_type, name = BRANCH_GL_ACCOUNTS[gl_code]
    try:
        with transaction.atomic():
            return Account.objects.create(
                account_number=next_account_number(),
                name=name,
                type=account_type,
                normal_balance=Side.DEBIT if account_type in DEBIT_NORMAL_TYPES else Side.CREDIT,
                gl_code=gl_code,
                currency=settings.COOP_CURRENCY,
                branch_id=branch_id,
            )
    except IntegrityError:  # created concurrently
        return Account.objects.get(**lookup)


def ensure_till_account(*, branch_id: uuid.UUID, teller_id: uuid.UUID) -> Account:
    """The till (teller-cash sub-account) of a teller in a branch, opened at their first cash posting.

    The branch's vault (`ensure_gl_account(gl_code="TELLER_CASH")`) and its tills together are the
    branch's teller cash; cash moves between them with `move_till_cash`."""
    lookup = {"branch_id": branch_id, "till_teller_id": teller_id}
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    teller = User.objects.filter(pk=teller_id).first()
    if teller is None:
        raise NotPermitted("Unknown teller.")
    try:
        with transaction.atomic():
            return Account.objects.create(
                account_number=next_account_number(),
                name=f"Till – {teller.get_full_name() or teller.email}"[:160],
                type=AccountType.TELLER_CASH,
                normal_balance=Side.DEBIT,
                gl_code="TELLER_CASH",
                till_teller_id=teller_id,
                currency=settings.COOP_CURRENCY,
                branch_id=branch_id,
            )
    except IntegrityError:  # opened concurrently
        return Account.objects.get(**lookup)


def till_teller_of(actor: User | None, channel: str) -> uuid.UUID | None:
    """Whose till cash at the counter goes into: a staff member's own (their pk); None, the branch's
    vault, for the system (jobs, imports, the demo) and for partner systems, which hold no cash.
    (The roles come from the per-request copy of the cache that the permission check uses too.)"""
    if channel != "cash" or actor is None or not actor.pk or not actor.is_staff:
        return None
    authz = user_authz(actor)
    if authz is None or PARTNER in authz.group_names:
        return None
    return actor.pk


def counter_account_id(*, branch_id: uuid.UUID, gl_code: str, actor: User | None = None) -> uuid.UUID:
    """The account that takes the other side of a member's movement through `gl_code` (TELLER_CASH,
    BANK, …): for cash handled by a staff member, their till in the branch; else the branch's GL
    account. For services outside the ledger (loan repayments in cash)."""
    teller = till_teller_of(actor, "cash") if gl_code == "TELLER_CASH" else None
    if teller is not None:
        return ensure_till_account(branch_id=branch_id, teller_id=teller).pk
    return ensure_gl_account(branch_id=branch_id, gl_code=gl_code).pk


def bootstrap_branch_ledger(*, branch_id: uuid.UUID) -> list[Account]:
    """Create every internal GL account of a branch (idempotent)."""
    return [ensure_gl_account(branch_id=branch_id, gl_code=code) for code in BRANCH_GL_ACCOUNTS]
