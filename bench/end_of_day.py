"""End-of-day throughput: 100,000 active loans, next to one plain set-based UPDATE of the same rows.

    python -m bench.end_of_day [--loans 100000] [--keep]

Needs PostgreSQL. Uses a DEDICATED database named after DATABASE_URL's with `_eod_bench` appended
(e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/l2 -> l2_eod_bench; default coopdesk_eod_bench):
it is dropped, created and migrated on every run, so nothing else is touched. The fixture is
loaded with server-side INSERT … SELECT generate_series (the bulk path; no services, no history rows):
one branch, two products (a monthly penalty with 5 grace days; a daily penalty on principal),
N members each with a LOAN ledger account and one disbursed 12-month loan (12 schedule rows), paid up
to the business date except every tenth loan, which is 0–199 days behind. The ledger stays
consistent: one opening entry debits each LOAN account with its principal outstanding and credits
the branch's SUSPENSE account (the ledger's balance trigger is off while loading; the bench then checks
that the entry balances and every cached balance equals its legs).

Then, in the same run, it times:
  * eod_first_day: run_end_of_day for the business date (marks every overdue installment, charges the
    first penalties, classifies, snapshots);
  * eod_next_day: the following date (the nightly steady state);
  * baseline: one set-based UPDATE recomputing is_overdue on the same schedule rows.
Prints one JSON line per figure {name, value, unit, baseline, ratio} and writes them to
bench/results/end_of_day.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/coopdesk"
MACHINE = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
AS_OF = date(2026, 6, 30)


def bench_url(database_url: str) -> str:
    base, name = database_url.rsplit("/", 1)
    return f"{base}/{name.split('?')[0]}_eod_bench"


def recreate_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="cooperative.settings.base",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        REDIS_URL="",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django  # noqa: PLC0415 - once Django is set up here

    django.setup()


def insert_select(cursor, model, exprs: dict[str, str], source: str, params: list | None = None) -> int:
    """INSERT INTO model's table SELECT …: `exprs` gives SQL per column; other columns get the
    field's Python default as a parameter (so new model fields with defaults need no change here)."""
    from django.db import connection  # noqa: PLC0415 - once Django is set up here

    columns, values, defaults = [], [], []
    for field in model._meta.concrete_fields:
        columns.append(field.column)
        if field.column in exprs:
            values.append(exprs[field.column])
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values.append("now()")
        else:
            values.append("%s")
            defaults.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}"  # noqa: S608
    )
    cursor.execute(sql, defaults + list(params or []))
    return cursor.rowcount


def build_fixture(loans: int) -> dict:
    from django.db import connection, transaction  # noqa: PLC0415 - once Django is set up here

    from cooperative.models import Branch  # noqa: PLC0415 - once Django is set up here
    from ledger import services as ledger  # noqa: PLC0415 - once Django is set up here
    from ledger.models import Account, JournalEntry, Transaction  # noqa: PLC0415 - once Django is set up here
    from loans.models import Loan, LoanProduct, LoanSchedule  # noqa: PLC0415 - once Django is set up here
    from members.models import Member  # noqa: PLC0415 - once Django is set up here

    branch = Branch.objects.create(code="EODB1", name="End-of-day bench branch")
    ledger.bootstrap_branch_ledger(branch_id=branch.pk)
    suspense = Account.objects.get(branch=branch, gl_code="SUSPENSE")
    common = {
        "interest_rate": "12",
        "min_amount": "1000",
        "max_amount": "10000000",
        "min_term": 1,
        "max_term": 36,
    }
    monthly = LoanProduct.objects.create(
        name="Bench monthly penalty", penalty_rate="2", penalty_grace_days=5, **common
    )
    daily = LoanProduct.objects.create(
        name="Bench daily penalty",
        penalty_rate="0.05",
        penalty_frequency=LoanProduct.PenaltyFrequency.PER_DAY,
        penalty_basis=LoanProduct.PenaltyBasis.OVERDUE_PRINCIPAL,
        **common,
    )
    b = f"'{branch.pk}'::uuid"
    as_of = f"'{AS_OF.isoformat()}'::date"
    seq = "substring(m.member_number from 3)::integer"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # ledger trigger off while loading
        insert_select(
            cursor,
            Member,
            {
                "id": "gen_random_uuid()",
                "member_number": "'EB' || lpad(g::text, 8, '0')",
                "first_name": "'Bench'",
                "last_name": "'Member ' || g",
                "phone": "'+23480' || lpad(g::text, 8, '0')",
                "branch_id": b,
            },
            "generate_series(1, %s) g",
            [loans],
        )
        insert_select(
            cursor,
            Account,
            {
                "id": "gen_random_uuid()",
                "account_number": f"'9' || lpad(({seq})::text, 9, '0')",
                "name": "'Bench loan ' || m.member_number",
                "type": "'LOAN'",
                "normal_balance": "'DEBIT'",
                "branch_id": b,
                "member_id": "m.id",
            },
            f"members_member m WHERE m.branch_id = {b}",
        )
        insert_select(
            cursor,
            Loan,
            {
                "id": "gen_random_uuid()",
                "loan_number": "m.member_number",
                "status": "'DISBURSED'",
                "principal": f"1200 * (1 + mod({seq}, 40))",
                "annual_rate": "12",
                "term": "12",
                "disbursement_date": f"{as_of} - mod({seq}, 330)",
                "first_due_date": f"({as_of} - mod({seq}, 330) + interval '1 month')::date",
                "account_id": "a.id",
                "branch_id": b,
                "member_id": "m.id",
                "product_id": (
                    f"CASE WHEN mod({seq}, 2) = 0 THEN '{monthly.pk}'::uuid ELSE '{daily.pk}'::uuid END"
                ),
            },
            f"members_member m JOIN ledger_account a ON a.member_id = m.id WHERE m.branch_id = {b}",
        )
        due = "(l.disbursement_date + make_interval(months => n))::date"
        cutoff = (
            f"CASE WHEN mod(substring(l.loan_number from 3)::integer, 10) = 0 "
            f"THEN {as_of} - mod(substring(l.loan_number from 3)::integer, 200) ELSE {as_of} END"
        )
        paid = f"({due} < {cutoff})"
        part = "(l.principal / 12)"
        insert_select(
            cursor,
            LoanSchedule,
            {
                "id": "nextval(pg_get_serial_sequence('loans_loanschedule', 'id'))",
                "loan_id": "l.id",
                "installment_number": "n",
                "due_date": due,
                "principal_amount": part,
                "interest_amount": f"{part} / 10",
                "total_amount": f"{part} * 1.1",
                "principal_balance": f"l.principal - {part} * n",
                "principal_paid": f"CASE WHEN {paid} THEN {part} ELSE 0 END",
                "interest_paid": f"CASE WHEN {paid} THEN {part} / 10 ELSE 0 END",
                "paid_amount": f"CASE WHEN {paid} THEN {part} * 1.1 ELSE 0 END",
                "is_paid": paid,
                "paid_on": f"CASE WHEN {paid} THEN {due} END",
            },
            f"loans_loan l CROSS JOIN generate_series(1, 12) n WHERE l.branch_id = {b}",
        )
        cursor.execute(
            f"""UPDATE ledger_account a SET balance = o.outstanding
                FROM (SELECT l.account_id, sum(s.principal_amount - s.principal_paid) AS outstanding
                      FROM loans_loanschedule s JOIN loans_loan l ON l.id = s.loan_id
                      WHERE l.branch_id = {b} GROUP BY l.account_id) o
                WHERE a.id = o.account_id"""  # noqa: S608
        )
        entry = JournalEntry.objects.create(
            reference=f"JEBENCH{secrets.token_hex(4).upper()}",
            kind=JournalEntry.Kind.OPENING,
            narration="Bench: loan balances migrated from the previous system",
            branch=branch,
            value_date=AS_OF - timedelta(days=365),
        )
        leg = {
            "id": "gen_random_uuid()",
            "type": "'DEBIT'",
            "amount": "a.balance",
            "balance_after": "a.balance",
            "description": "'Opening loan balance'",
            "reference": f"'{entry.reference}'",
            "account_id": "a.id",
            "branch_id": b,
            "entry_id": f"'{entry.pk}'::uuid",
        }
        insert_select(
            cursor, Transaction, leg, f"ledger_account a WHERE a.branch_id = {b} AND a.type = 'LOAN'"
        )
        cursor.execute(f"SELECT sum(balance) FROM ledger_account WHERE branch_id = {b} AND type = 'LOAN'")  # noqa: S608
        total = cursor.fetchone()[0]
        credit = {
            **leg,
            "type": "'CREDIT'",
            "amount": f"{total}::numeric",
            "balance_after": f"{total}::numeric",
            "description": "'Opening loan balances (suspense)'",
        }
        cursor.execute("UPDATE ledger_account SET balance = %s WHERE id = %s", [total, suspense.pk])
        insert_select(cursor, Transaction, credit, f"ledger_account a WHERE a.id = '{suspense.pk}'::uuid")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(
            """SELECT count(*) FROM (SELECT entry_id FROM ledger_transaction GROUP BY entry_id
               HAVING sum(amount) FILTER (WHERE type = 'DEBIT')
                   <> sum(amount) FILTER (WHERE type = 'CREDIT')) x"""
        )
        unbalanced = cursor.fetchone()[0]
        cursor.execute(
            """SELECT count(*) FROM ledger_account a WHERE a.balance <> COALESCE((
                   SELECT sum(CASE WHEN t.type = a.normal_balance THEN t.amount ELSE -t.amount END)
                   FROM ledger_transaction t WHERE t.account_id = a.id), 0)"""
        )
        mismatched = cursor.fetchone()[0]
    if unbalanced or mismatched:
        raise SystemExit(
            f"fixture ledger inconsistent: {unbalanced} unbalanced entries, {mismatched} balances"
        )
    return {"total_outstanding": str(total)}


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def baseline_update(as_of: date) -> int:
    """One plain set-based UPDATE over the same rows end of day reads and writes (the yardstick)."""
    from django.db import connection, transaction  # noqa: PLC0415 - once Django is set up here

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """UPDATE loans_loanschedule s SET is_overdue = (s.due_date < %s AND NOT s.is_paid)
               FROM loans_loan l WHERE l.id = s.loan_id AND l.status = 'DISBURSED'""",
            [as_of],
        )
        return cursor.rowcount


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loans", type=int, default=100_000)
    args = parser.parse_args(argv)
    url = bench_url(os.environ.get("DATABASE_URL") or DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/end_of_day.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    recreate_database(url)
    setup_django(url)
    from django.core.management import call_command  # noqa: PLC0415 - once Django is set up here

    call_command("migrate", verbosity=0)

    from loans.eod import run_end_of_day  # noqa: PLC0415 - once Django is set up here

    fixture_seconds, fixture = timed(lambda: build_fixture(args.loans))
    first_seconds, first = timed(lambda: run_end_of_day(as_of=AS_OF))
    next_seconds, following = timed(lambda: run_end_of_day(as_of=AS_OF + timedelta(days=1)))
    baseline_seconds, rows = timed(lambda: baseline_update(AS_OF + timedelta(days=1)))

    def line(name, value, unit, baseline=None):
        ratio = round(value / baseline, 2) if baseline else None
        return {"name": name, "value": round(value, 3), "unit": unit, "baseline": baseline, "ratio": ratio}

    base = round(baseline_seconds, 3)
    results = [
        line("fixture_load", fixture_seconds, "s"),
        line("eod_first_day", first_seconds, "s", base),
        line("eod_next_day", next_seconds, "s", base),
        line("baseline_update_schedule", baseline_seconds, "s"),
    ]
    for item in results:
        item.update(loans=args.loans, schedule_rows=rows, machine=MACHINE)
        print(json.dumps(item))
    details = {"fixture": fixture, "first_day": first, "next_day": following}
    print(json.dumps(details, default=str))
    out = ROOT / "bench" / "results" / "end_of_day.json"
    out.write_text(json.dumps({"results": results, "details": details}, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
