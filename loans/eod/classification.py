"""Steps 5 to 7 of end of day: days past due, arrears and CBN classification; portfolio snapshots."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db import connection
from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from cooperative.money import money
from ledger.models import AccountType, Side

from ..models import ArrearsBucket, Loan, PortfolioSnapshot
from ._common import (
    ACTIVE,
    LOAN_TABLE,
    PRODUCT_TABLE,
    SCHEDULE_TABLE,
    ZERO,
    active_on,
    disbursed_by,
    is_postgres,
    later_legs,
    repaid_after,
)


def update_arrears(day: date) -> int:
    """One UPDATE per run for every active loan: days past due, arrears, bucket, last end of day.

    days_past_due = `day` − the oldest overdue unpaid due date; arrears = what is unpaid on the
    overdue installments (penalties included). At or below the product's arrears tolerance: not in
    arrears (both 0). arrears_bucket = the `ArrearsBucket` whose day range holds days_past_due.
    Returns the number of loans in arrears.
    """
    if is_postgres():
        days, day_param = "(%(day)s::date - o.oldest)", "%(day)s::date"
    else:
        days, day_param = "CAST(julianday(%(day)s) - julianday(o.oldest) AS INTEGER)", "%(day)s"
    in_arrears = "(o.amount IS NOT NULL AND o.amount > p.arrears_tolerance)"
    bucket = ArrearsBucket._meta.db_table
    sql = f"""
        WITH o AS (
            SELECT s.loan_id, min(s.due_date) AS oldest,
                   round(sum(s.total_amount - s.paid_amount), 2) AS amount
            FROM {SCHEDULE_TABLE} s JOIN {LOAN_TABLE} l ON l.id = s.loan_id
            WHERE l.status = %(active)s AND {disbursed_by(day_param)} AND s.is_overdue AND NOT s.is_paid
            GROUP BY s.loan_id
        ),
        f AS (
            SELECT l.id,
                   CASE WHEN {in_arrears} THEN {days} ELSE 0 END AS dpd,
                   CASE WHEN {in_arrears} THEN o.amount ELSE 0 END AS arrears
            FROM {LOAN_TABLE} l JOIN {PRODUCT_TABLE} p ON p.id = l.product_id LEFT JOIN o ON o.loan_id = l.id
            WHERE l.status = %(active)s AND {disbursed_by(day_param)}
        ),
        b AS (
            SELECT f.id, f.dpd, f.arrears,
                   (SELECT k.id FROM {bucket} k
                    WHERE k.min_days <= f.dpd AND (k.max_days IS NULL OR k.max_days >= f.dpd)
                    ORDER BY k.min_days LIMIT 1) AS bucket_id
            FROM f
        )
        UPDATE {LOAN_TABLE}
        SET days_past_due = b.dpd, arrears_amount = b.arrears, arrears_bucket_id = b.bucket_id,
            last_end_of_day = {day_param}
        FROM b WHERE {LOAN_TABLE}.id = b.id
    """  # noqa: S608 - table names from model metadata, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, {"day": day, "active": ACTIVE})
    # A loan repaid after `day` (a catch-up) was active and performing on `day`.
    Loan.objects.filter(pk__in=repaid_after(day).values("pk")).update(last_end_of_day=day)
    # A loan that is no longer active (closed, written off) carries no arrears classification: it is
    # shown as its status ("Written off"), not as the CBN bucket it last had.
    Loan.objects.filter(status__in=(Loan.Status.CLOSED, Loan.Status.WRITTEN_OFF)).exclude(
        days_past_due=0, arrears_amount=0, arrears_bucket__isnull=True
    ).update(days_past_due=0, arrears_amount=0, arrears_bucket=None)
    return Loan.objects.filter(active_on(day), arrears_amount__gt=0).count()


def snapshot(day: date) -> dict:
    """One PortfolioSnapshot per branch (with loans active on `day`) × bucket for `day`.

    Principal outstanding is the loan's LOAN ledger account balance by value date `day` (the balance
    less what was posted with a later value date, so a catch-up shows the date's own figure); a loan
    repaid in full after `day` still counts on `day`, performing (see `replay_conflicts`). Provision =
    outstanding × the bucket's provision percent, rounded half up to the kobo.
    """
    buckets = list(ArrearsBucket.objects.all())
    amount = DecimalField(max_digits=18, decimal_places=2)
    groups = (
        Loan.objects.filter(active_on(day))
        .values("branch_id", "arrears_bucket_id")
        .annotate(
            count=Count("pk"),
            outstanding=Coalesce(Sum("account__balance"), Value(ZERO), output_field=amount),
            arrears=Coalesce(Sum("arrears_amount"), Value(ZERO), output_field=amount),
        )
        .order_by()
    )
    figures = {(g["branch_id"], g["arrears_bucket_id"]): dict(g) for g in groups}
    # Back to the balance by value date: undo what LOAN accounts received with a later value date.
    later = (
        later_legs(day)
        .filter(entry__value_date__gt=day, account__type=AccountType.LOAN)
        .values("account_id")
        .annotate(
            debits=Coalesce(Sum("amount", filter=Q(type=Side.DEBIT)), Value(ZERO), output_field=amount),
            credits=Coalesce(Sum("amount", filter=Q(type=Side.CREDIT)), Value(ZERO), output_field=amount),
        )
        .order_by()
    )
    after = {row["account_id"]: row["debits"] - row["credits"] for row in later}
    if after:
        performing = next(
            (b.pk for b in buckets if b.min_days <= 0 and (b.max_days is None or b.max_days >= 0)), None
        )
        repaid_later = repaid_after(day).values_list("pk", flat=True)
        loans = (
            Loan.objects.filter(Q(active_on(day)) | Q(pk__in=repaid_later), account_id__in=list(after))
            .values("branch_id", "arrears_bucket_id", "account_id", "status")
            .distinct()
        )
        for loan in loans:
            key = (loan["branch_id"], loan["arrears_bucket_id"] if loan["status"] == ACTIVE else performing)
            g = figures.setdefault(key, {"count": 0, "outstanding": ZERO, "arrears": ZERO})
            if loan["status"] != ACTIVE:
                g["count"] += 1
            g["outstanding"] -= after[loan["account_id"]]
    branches = sorted({branch_id for branch_id, _ in figures}, key=str)
    PortfolioSnapshot.objects.filter(date=day).delete()
    rows, by_bucket = [], defaultdict(int)
    for branch_id in branches:
        for bucket in buckets:
            g = figures.get((branch_id, bucket.pk), {})
            outstanding = money(g.get("outstanding") or ZERO)
            rows.append(
                PortfolioSnapshot(
                    date=day,
                    branch_id=branch_id,
                    bucket=bucket,
                    loan_count=g.get("count", 0),
                    principal_outstanding=outstanding,
                    arrears_amount=money(g.get("arrears") or ZERO),
                    provision_amount=money(outstanding * bucket.provision_percent / 100),
                )
            )
            by_bucket[bucket.code] += g.get("count", 0)
    PortfolioSnapshot.objects.bulk_create(rows)
    unclassified = sum(g["count"] for (_, bucket_id), g in figures.items() if bucket_id is None)
    if unclassified:
        by_bucket["UNCLASSIFIED"] = unclassified
    return {"rows": len(rows), "by_bucket": dict(by_bucket)}
