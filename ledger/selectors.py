"""Reads of the ledger: balances, movements, statements."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce, Round
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from cooperative.models import User
from cooperative.permissions import scope_queryset, sees_all_branches, user_branch_ids

from .models import Account, AccountType, JournalEntry, PostingRequest, Side, Transaction

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

# Entry kinds that count against a member's daily withdrawal limit.
LIMITED_KINDS = (JournalEntry.Kind.WITHDRAWAL, JournalEntry.Kind.TRANSFER)


def amount_withdrawn_on(account: Account, day: date) -> Decimal:
    """What left `account` on `day` by withdrawals and transfers (its daily limit counts these)."""
    total = Transaction.objects.filter(
        account=account, type=Side.DEBIT, value_date=day, entry__kind__in=LIMITED_KINDS
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0.00")


def member_display(account: Account) -> str:
    """Whose account this is, as shown to an approver: "Ada Obi (M000123)", or the account's name."""
    member = account.member
    return f"{member.full_name} ({member.member_number})" if member is not None else account.name


def member_accounts_with_money(*, member_id) -> QuerySet[Account]:
    """A member's accounts that still hold a balance or a lien (they block the member's exit)."""
    return Account.objects.filter(member_id=member_id).filter(~Q(balance=0) | ~Q(held_amount=0))


def member_accounts() -> QuerySet[Account]:
    """Member accounts (the API does not expose internal GL accounts as accounts)."""
    return Account.objects.filter(member__isnull=False).select_related("member", "branch")


def member_accounts_visible_to(*, user: User | AnonymousUser) -> QuerySet[Account]:
    return scope_queryset(member_accounts(), user)


def account_legs(*, account_id: uuid.UUID) -> QuerySet[Transaction]:
    """One account's legs with their entries (the caller checks the account is visible first)."""
    return Transaction.objects.filter(account_id=account_id).select_related("entry", "account")


def legs_visible_to(*, user: User | AnonymousUser) -> QuerySet[Transaction]:
    """Legs of the caller's branches plus legs of accounts granted to them one by one (guardian)."""
    legs = Transaction.objects.select_related("entry", "account")
    if sees_all_branches(user):
        return legs
    granted = get_objects_for_user(
        user, "ledger.view_account", klass=Account, accept_global_perms=False, with_superuser=False
    ).values("pk")
    return legs.filter(Q(branch_id__in=user_branch_ids(user)) | Q(account_id__in=granted))


def entry_legs() -> QuerySet[Transaction]:
    """An entry's legs as shown: debits first, with their accounts."""
    return Transaction.objects.select_related("account").order_by("-type", "pk")


def entry_with_legs(entry: JournalEntry) -> JournalEntry:
    """Load the legs of a just-posted entry in one query. The joined account rows are read after
    the posting, inside its transaction (the rows are still locked), so their figures are exact."""
    prefetch_related_objects([entry], Prefetch("legs", queryset=entry_legs()))
    return entry


def journal_entries_visible_to(*, user: User | AnonymousUser) -> QuerySet[JournalEntry]:
    return scope_queryset(
        JournalEntry.objects.select_related("reversed_by").prefetch_related(
            Prefetch("legs", queryset=entry_legs())
        ),
        user,
    )


def accounts_visible_to(*, user) -> QuerySet[Account]:
    return scope_queryset(Account.objects.select_related("member", "branch"), user)


def ledger_discrepancies(*, limit: int = 20) -> dict[str, list]:
    """Set-based checks behind `verify_ledger`: every cached balance equals its legs, every entry
    balances, every leg's balance_after chain ends at the cached balance, and all legs sum to zero."""
    zero = Value(Decimal("0.00"), output_field=DecimalField(max_digits=18, decimal_places=2))
    signed = Case(
        When(type=F("account__normal_balance"), then=F("amount")),
        default=-F("amount"),
        output_field=DecimalField(max_digits=18, decimal_places=2),
    )
    leg_sums = (
        Transaction.objects.values("account_id")
        # Round: SQLite adds decimals as floats, so a zero balance could come back as 3.6e-12.
        .annotate(total=Round(Coalesce(Sum(signed), zero), 2))
        .values("account_id", "total")
    )
    by_account = {row["account_id"]: row["total"] for row in leg_sums}
    bad_balances = []
    for account in Account.objects.only("id", "account_number", "balance").iterator(chunk_size=5000):
        expected = by_account.get(account.pk, Decimal("0.00"))
        if account.balance != expected:
            bad_balances.append(
                {"account": account.account_number, "cached": str(account.balance), "legs": str(expected)}
            )
            if len(bad_balances) >= limit:
                break
    debit = Sum(Case(When(type=Side.DEBIT, then=F("amount")), default=zero))
    credit = Sum(Case(When(type=Side.CREDIT, then=F("amount")), default=zero))
    unbalanced = list(
        Transaction.objects.values("entry_id")
        .annotate(debits=Round(Coalesce(debit, zero), 2), credits=Round(Coalesce(credit, zero), 2))
        .exclude(debits=F("credits"))
        .values_list("entry__reference", "debits", "credits")[:limit]
    )
    legless = list(JournalEntry.objects.filter(legs__isnull=True).values_list("reference", flat=True)[:limit])
    totals = Transaction.objects.aggregate(
        debits=Round(Coalesce(debit, zero), 2), credits=Round(Coalesce(credit, zero), 2)
    )
    return {
        "balances": bad_balances,
        "unbalanced_entries": [
            {"entry": ref, "debits": str(d), "credits": str(c)} for ref, d, c in unbalanced
        ],
        "entries_without_legs": legless,
        "system_total": []
        if totals["debits"] == totals["credits"]
        else [{"debits": str(totals["debits"]), "credits": str(totals["credits"])}],
    }


def teller_cash_of_branch(*, branch_id) -> QuerySet[Account]:
    """A branch's teller cash: its vault first, then every teller's till (by name), balances included.
    Their sum is the cash the branch holds."""
    return Account.objects.filter(branch_id=branch_id, type=AccountType.TELLER_CASH).order_by(
        F("till_teller").asc(nulls_first=True), "name"
    )


def teller_cash_total(*, branch_id) -> Decimal:
    return teller_cash_of_branch(branch_id=branch_id).aggregate(total=Sum("balance"))["total"] or Decimal(
        "0.00"
    )


def till_day_summary(*, branch_id, day) -> list[dict]:
    """Each teller-cash account of a branch (vault first, then the tills) on `day`, as counted at
    the counter: opening balance, cash in (debits), cash out (credits) and closing balance, by the
    time each leg was posted (local time), whatever its value date. Two aggregate queries."""
    start = datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
    end = start + timedelta(days=1)
    accounts = list(teller_cash_of_branch(branch_id=branch_id).select_related("till_teller"))
    legs = Transaction.objects.filter(account__in=[a.pk for a in accounts])
    zero = Decimal("0.00")
    since_start: dict = {}  # account -> net debit since the day began (today and every later day)
    for row in legs.filter(created_at__gte=start).values("account_id", "type").annotate(total=Sum("amount")):
        sign = 1 if row["type"] == Side.DEBIT else -1
        since_start[row["account_id"]] = since_start.get(row["account_id"], zero) + sign * row["total"]
    during: dict = {}
    for row in (
        legs.filter(created_at__gte=start, created_at__lt=end)
        .values("account_id", "type")
        .annotate(total=Sum("amount"), count=Count("id"))
    ):
        during.setdefault(row["account_id"], {})[row["type"]] = (row["total"], row["count"])
    summary = []
    for account in accounts:  # teller cash is debit-normal: debits bring cash in
        day_legs = during.get(account.pk, {})
        cash_in, count_in = day_legs.get(Side.DEBIT, (zero, 0))
        cash_out, count_out = day_legs.get(Side.CREDIT, (zero, 0))
        opening = account.balance - since_start.get(account.pk, zero)
        summary.append(
            {
                "account": account,
                "teller": account.till_teller,
                "opening": opening,
                "cash_in": cash_in,
                "cash_out": cash_out,
                "movements": count_in + count_out,
                "closing": opening + cash_in - cash_out,
            }
        )
    return summary


def counter_day_totals(*, user, day) -> dict:
    """Deposits and withdrawals posted on ``day`` in the branches ``user`` may see: how many and how
    much of each, and which branches those are (the tellers' dashboard widget)."""
    start = datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
    legs = scope_queryset(Transaction.objects.all(), user).filter(
        created_at__gte=start, created_at__lt=start + timedelta(days=1), type=Side.DEBIT
    )
    figures = {}
    for name, kind in (
        ("deposits", JournalEntry.Kind.DEPOSIT),
        ("withdrawals", JournalEntry.Kind.WITHDRAWAL),
    ):
        # One debit leg per deposit (teller cash / bank) and per withdrawal (the member account).
        row = legs.filter(entry__kind=kind).aggregate(count=Count("id"), total=Sum("amount"))
        figures[f"{name}_count"] = row["count"]
        figures[f"{name}_total"] = row["total"] or Decimal("0.00")
    if sees_all_branches(user):
        figures["branches"] = "All branches"
    else:
        figures["branches"] = ", ".join(user.branches.order_by("code").values_list("name", flat=True))
    return figures


def pending_posting_requests(*, account: Account) -> QuerySet[PostingRequest]:
    """The account's withdrawals and transfers waiting for approval (paying or receiving)."""
    return PostingRequest.objects.filter(
        Q(account=account) | Q(to_account=account), status=PostingRequest.Status.PENDING
    ).order_by("created_at")


def entries_with_amounts(queryset: QuerySet[JournalEntry]) -> QuerySet[JournalEntry]:
    """Each entry with `total_amount`, the sum of its debit legs. A subquery, not a join: a search or
    filter that joins the legs (by account number, leg reference) would otherwise count the entry's
    legs once per matching row and show a multiple of the amount."""
    debits = (
        Transaction.objects.filter(entry=OuterRef("pk"), type=Side.DEBIT)
        .order_by()
        .values("entry")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return queryset.annotate(
        total_amount=Subquery(debits, output_field=DecimalField(max_digits=18, decimal_places=2))
    )


def ready_to_pay_withdrawals(*, user) -> QuerySet[PostingRequest]:
    """Approved cash withdrawals waiting for cash in a till, in the branches `user` may see (the
    tellers' queue on the dashboard), oldest first."""
    return (
        scope_queryset(PostingRequest.objects.all(), user)
        .filter(status=PostingRequest.Status.APPROVED, kind=PostingRequest.Kind.WITHDRAWAL)
        .select_related("account", "requested_by")
        .order_by("created_at")
    )
