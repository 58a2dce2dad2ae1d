"""Every locking read of the ledger, defined once: fixed order (pk), lock only the account rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from .models import Account, Hold, PostingRequest
from .posting_sql import hot_cursor


@dataclass(frozen=True)
class BranchGL:
    """The internal GL account `gl_code` of the branch that keeps account `of` (e.g. the teller
    cash of a member account's branch). `post_entry` finds it in the same locking read as the
    other accounts of the entry, so a deposit needs no lookup of the member's branch first.

    `till_teller` (a user pk, teller cash only): that teller's till in the branch instead of the
    branch's vault. Cash postings of different tellers then lock different rows and run side by
    side; the vault and every till together are the branch's teller cash."""

    gl_code: str
    of: object  # uuid.UUID of the account whose branch counts
    till_teller: object = None


def accounts_for_update(account_ids) -> QuerySet[Account]:
    return Account.objects.filter(pk__in=list(account_ids)).order_by("pk").select_for_update(of=("self",))


def hold_for_update(hold_id) -> QuerySet[Hold]:
    return Hold.objects.filter(pk=hold_id).select_for_update(of=("self",))


def posting_request_for_update(posting_request_id) -> QuerySet[PostingRequest]:
    """A withdrawal or transfer waiting for approval, locked before its decision is carried out."""
    return PostingRequest.objects.filter(pk=posting_request_id).select_for_update(of=("self",))


# The columns post_entry and its callers' guards read from a locked account.
LOCKED_ACCOUNT_FIELDS = (
    "id",
    "account_number",
    "member_id",
    "type",
    "normal_balance",
    "gl_code",
    "till_teller_id",
    "currency",
    "branch_id",
    "status",
    "balance",
    "held_amount",
    "minimum_balance",
    "daily_withdrawal_limit",
)
_COLUMNS = ", ".join(LOCKED_ACCOUNT_FIELDS)
_GL_OF = (
    "SELECT g.id FROM ledger_account g JOIN ledger_account m ON m.branch_id = g.branch_id "
    "WHERE m.id = %s AND g.gl_code = %s AND g.member_id IS NULL AND g.till_teller_id IS NULL"
)
_TILL_OF = (
    "SELECT g.id FROM ledger_account g JOIN ledger_account m ON m.branch_id = g.branch_id "
    "WHERE m.id = %s AND g.gl_code = %s AND g.member_id IS NULL AND g.till_teller_id = %s"
)


def _ref_sql(ref: BranchGL) -> tuple[str, list]:
    if ref.till_teller is None:
        return _GL_OF, [ref.of, ref.gl_code]
    return _TILL_OF, [ref.of, ref.gl_code, ref.till_teller]


def gl_account_filter(ref: BranchGL) -> dict:
    """ORM lookups of the account `ref` names (relative to ledger_account)."""
    return {
        "branch__accounts__pk": ref.of,
        "gl_code": ref.gl_code,
        "member__isnull": True,
        **({"till_teller__isnull": True} if ref.till_teller is None else {"till_teller": ref.till_teller}),
    }


def lock_accounts(account_ids, gl_refs=()) -> list[Account]:
    """Lock the accounts `account_ids` plus each `BranchGL` in `gl_refs`, in primary-key order.

    PostgreSQL: one `SELECT … ORDER BY id FOR UPDATE` (a `BranchGL` resolves in a sub-select of
    the same statement); the rows come back as Account instances with LOCKED_ACCOUNT_FIELDS loaded.
    All or nothing: when a `BranchGL` does not exist (yet), nothing is locked and the result is
    empty, so the caller can create it and lock again without ever holding a row while it waits
    for one with a smaller key (which could deadlock against a posting locking in pk order).
    Elsewhere (SQLite, which serialises writers anyway): the locking queryset, after looking the
    GL accounts up; a missing GL account is simply absent."""
    account_ids = list(account_ids)
    if connection.vendor != "postgresql":
        id_set = set(account_ids)
        for ref in gl_refs:
            gl_id = Account.objects.filter(**gl_account_filter(ref)).values_list("pk", flat=True).first()
            if gl_id is not None:
                id_set.add(gl_id)
        return list(accounts_for_update(id_set))
    ids, params, exist, exist_params = "%s::uuid[]", [account_ids], "", []
    for ref in gl_refs:
        sub, sub_params = _ref_sql(ref)
        ids += f" || ARRAY({sub})"
        params += sub_params
        exist += f" AND EXISTS ({sub})"
        exist_params += sub_params
    # Constant SQL fragments only; every value is a parameter.
    sql = f"SELECT {_COLUMNS} FROM ledger_account WHERE id = ANY({ids}){exist} ORDER BY id FOR UPDATE"  # noqa: S608
    params += exist_params
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [Account.from_db(connection.alias, LOCKED_ACCOUNT_FIELDS, row) for row in rows]
