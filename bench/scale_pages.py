"""Admin pages and API lists on the generated database (issue 6, benchmarks 2 and 3).

    python -m bench.scale_pages [--requests 20] [--warmup 3]

In-process Django test client (no network), DEBUG off, against the database `generate_data` made
(bench/common.py). Each page is requested `--warmup` times, then `--requests` times while timing
each request and capturing its SQL (CaptureQueriesContext), as a superuser and as a branch teller
(branch scoping adds filters to every query). Reported per page and user: p50/p95 ms, queries per
request, and how many `COUNT(*)` statements ran on a large table without a WHERE clause that
narrows it to an indexed slice (there must be none: the admin shows estimated counts).
Targets: admin p95 < 300 ms and ≤ 12 queries; API p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import time

from bench.common import Results, percentile, setup_django

ADMIN_P95_MS, ADMIN_MAX_QUERIES, API_P95_MS = 300, 12, 200
BIG_TABLES = ("members_member", "ledger_transaction", "ledger_journalentry", "ledger_account", "loans_loan")
# BEGIN/COMMIT/SAVEPOINT are not counted as queries (the session save wraps its UPDATE in them).
TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)", re.IGNORECASE)
FULL_COUNT = re.compile(r'SELECT COUNT\(\*\) AS "__count" FROM "(\w+)"\s*$', re.IGNORECASE)


def full_counts(queries) -> int:
    """COUNT(*) over a whole large table (no WHERE): what the estimated counts avoid."""
    found = 0
    for query in queries:
        match = FULL_COUNT.match(query["sql"].strip())
        if match and match.group(1) in BIG_TABLES:
            found += 1
    return found


def sample(user_branch_id):
    """Real rows to ask for: a member, an account, a loan in the teller's branch."""
    from django.db.models import Count  # noqa: PLC0415 - once Django is set up here

    from ledger.models import Account  # noqa: PLC0415 - once Django is set up here
    from loans.models import Loan  # noqa: PLC0415 - once Django is set up here
    from members.models import Member  # noqa: PLC0415 - once Django is set up here

    member = Member.objects.filter(branch_id=user_branch_id, status="ACTIVE").order_by("member_number")[
        1000:1001
    ]
    member = member.first() or Member.objects.filter(branch_id=user_branch_id).first()
    busy = (
        Account.objects.filter(branch_id=user_branch_id, type="SAVINGS")
        .annotate(n=Count("transactions"))
        .order_by("-n")
        .values_list("pk", "account_number", "n")
        .first()
    )
    # the busiest savings account is found once with a scan of that branch only
    loan = Loan.objects.filter(branch_id=user_branch_id, status="DISBURSED", days_past_due__gt=0).first()
    loan = loan or Loan.objects.filter(branch_id=user_branch_id).first()
    return member, busy, loan


def users():
    from cooperative.models import User  # noqa: PLC0415 - once Django is set up here

    admin, created = User.objects.get_or_create(
        email="bench-admin@generated.coopdesk.local",
        defaults={"is_staff": True, "is_superuser": True, "first_name": "Bench", "last_name": "Admin"},
    )
    if created:
        admin.set_unusable_password()
        admin.save()
    teller = User.objects.filter(
        email__startswith="teller.", email__endswith="@generated.coopdesk.local"
    ).order_by("email")[0]
    return admin, teller


def measure(client, url: str, *, warmup: int, requests: int, headers=None) -> dict:
    from django.db import connection  # noqa: PLC0415 - once Django is set up here
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415 - once Django is set up here

    headers = headers or {}
    status = None
    for _ in range(warmup):
        status = client.get(url, **headers).status_code
    times, queries, counts = [], [], 0
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, **headers)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
        queries.append(sum(1 for q in captured.captured_queries if not TRANSACTION_CONTROL.match(q["sql"])))
        counts += full_counts(captured.captured_queries)
    return {
        "p50": percentile(times, 50),
        "p95": percentile(times, 95),
        "queries": max(queries),
        "full_counts": counts,
        "status": status,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    url = setup_django()

    from django.test import Client  # noqa: PLC0415 - once Django is set up here
    from rest_framework_simplejwt.tokens import RefreshToken  # noqa: PLC0415 - once Django is set up here

    from ledger.models import Transaction  # noqa: PLC0415 - once Django is set up here
    from members.models import Member  # noqa: PLC0415 - once Django is set up here

    admin, teller = users()
    branch_id = teller.branches.values_list("pk", flat=True)[0]
    member, busy, loan = sample(branch_id)
    account_id, account_number, movements = busy
    last_name = member.last_name
    results = Results(
        "scale_pages",
        database=url.rsplit("/", 1)[1],
        members=Member.objects.count(),
        legs=Transaction.objects.count(),
        requests=args.requests,
        load_average_before=os.getloadavg(),
    )
    by_branch = f"branch__id__exact={branch_id}"
    admin_pages = {
        "members_changelist": "/admin/members/member/",
        "member_search_phone": f"/admin/members/member/?q={member.phone.replace('+', '%2B')}",
        "member_search_name": f"/admin/members/member/?q={last_name}",
        "member_change": f"/admin/members/member/{member.pk}/change/",
        "account_transactions": f"/admin/ledger/transaction/?q={account_number}",
        "account_change": f"/admin/ledger/account/{account_id}/change/",
        "loans_changelist_filtered": "/admin/loans/loan/?status__exact=DISBURSED&o=-6",
        "loans_changelist_branch": f"/admin/loans/loan/?status__exact=DISBURSED&{by_branch}",
        "loan_change": f"/admin/loans/loan/{loan.pk}/change/",
    }
    api_pages = {
        "api_members_search": f"/api/v1/members/?search={last_name}",
        "api_members_list": "/api/v1/members/",
        "api_account_transactions": f"/api/v1/accounts/{account_id}/transactions/",
        "api_loans_list": "/api/v1/loans/",
        "api_loans_active": "/api/v1/loans/?status=DISBURSED",
    }
    for who, user in (("superuser", admin), ("teller", teller)):
        client = Client()
        client.force_login(user)
        for name, path in admin_pages.items():
            figures = measure(client, path, warmup=args.warmup, requests=args.requests)
            ok = figures["status"] == 200
            met = ok and figures["p95"] < ADMIN_P95_MS and figures["queries"] <= ADMIN_MAX_QUERIES
            met = met and figures["full_counts"] == 0
            results.add(
                f"admin_{name}_{who}_p95",
                figures["p95"],
                "ms",
                target=f"p95 < {ADMIN_P95_MS} ms, ≤ {ADMIN_MAX_QUERIES} queries, no full COUNT(*)",
                met=met,
                p50=round(figures["p50"], 1),
                queries=figures["queries"],
                full_counts=figures["full_counts"],
                status=figures["status"],
                path=path,
            )
        token = str(RefreshToken.for_user(user).access_token)
        api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        for name, path in api_pages.items():
            figures = measure(api, path, warmup=args.warmup, requests=args.requests)
            met = figures["status"] == 200 and figures["p95"] < API_P95_MS
            results.add(
                f"{name}_{who}_p95",
                figures["p95"],
                "ms",
                target=f"p95 < {API_P95_MS} ms",
                met=met,
                p50=round(figures["p50"], 1),
                queries=figures["queries"],
                full_counts=figures["full_counts"],
                status=figures["status"],
                path=path,
            )
    results.context.update(account_movements=movements, load_average_after=os.getloadavg())
    results.write()


if __name__ == "__main__":
    main()
