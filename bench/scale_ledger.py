"""verify_ledger over the generated ledger, and a 5,000-movement statement (issue 6, benchmarks 5 and 6).

    python -m bench.scale_ledger [--movements 5000]

Against the database `generate_data` made (bench/common.py), read-only:
  * verify_ledger: the command as cron runs it (every balance against its legs, every entry balanced,
    all legs summing to zero); target < 60 s;
  * statement: the busiest savings account, over the shortest period ending on its last movement
    that holds at least `--movements` movements; the selector and the PDF, CSV and Excel renderers
    each timed end to end (queries included); target for the PDF < 5 s.
"""

from __future__ import annotations

import argparse
import io
import time
from contextlib import redirect_stderr, redirect_stdout

from bench.common import Results, setup_django

VERIFY_TARGET_S, PDF_TARGET_S = 60, 5


def busiest_account():
    from django.db import connection  # noqa: PLC0415 - once Django is set up here

    from ledger.models import Account  # noqa: PLC0415 - once Django is set up here

    with connection.cursor() as cursor:  # the generator's busiest accounts are the first members'
        cursor.execute(
            """SELECT t.account_id, count(*) FROM ledger_transaction t
               WHERE t.account_id IN (SELECT id FROM ledger_account WHERE type = 'SAVINGS'
                                      ORDER BY account_number LIMIT 50)
               GROUP BY t.account_id ORDER BY 2 DESC LIMIT 1"""
        )
        account_id, count = cursor.fetchone()
    return Account.objects.select_related("member", "branch").get(pk=account_id), count


def period_with(account, movements: int):
    """(from, to): the last `movements` legs of the account, by local posting date."""
    from django.utils import timezone  # noqa: PLC0415 - once Django is set up here

    from ledger.models import Transaction  # noqa: PLC0415 - once Django is set up here

    legs = Transaction.objects.filter(account=account).order_by("-created_at", "-id")
    last = legs.values_list("created_at", flat=True).first()
    first = legs.values_list("created_at", flat=True)[movements - 1 : movements].first()
    first = first or legs.order_by("created_at").values_list("created_at", flat=True).first()
    return timezone.localtime(first).date(), timezone.localtime(last).date()


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movements", type=int, default=5000)
    args = parser.parse_args(argv)
    url = setup_django()

    from django.core.management import call_command  # noqa: PLC0415 - once Django is set up here

    from ledger.models import Transaction  # noqa: PLC0415 - once Django is set up here
    from ledger.statements import account_statement, render_csv, render_pdf, render_xlsx  # noqa: PLC0415 - once Django is set up here

    legs = Transaction.objects.count()
    results = Results("scale_ledger", database=url.rsplit("/", 1)[1], legs=legs)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        seconds, _ = timed(lambda: call_command("verify_ledger", stdout=out, stderr=err))
    ok = "Ledger OK" in out.getvalue()
    results.add(
        "verify_ledger",
        seconds,
        "s",
        target=f"< {VERIFY_TARGET_S} s and passes",
        met=ok and seconds < VERIFY_TARGET_S,
        legs=legs,
        passed=ok,
    )

    account, total = busiest_account()
    date_from, date_to = period_with(account, args.movements)
    statement_s, statement = timed(
        lambda: account_statement(account=account, date_from=date_from, date_to=date_to)
    )
    pdf_s, pdf = timed(lambda: render_pdf(statement))
    csv_s, _ = timed(lambda: render_csv(statement))
    xlsx_s, _ = timed(lambda: render_xlsx(statement))
    common = {"movements": statement.movement_count, "account": account.account_number}
    results.add(
        "statement_pdf",
        statement_s + pdf_s,
        "s",
        target=f"< {PDF_TARGET_S} s for ≥ {args.movements} movements",
        met=statement.movement_count >= args.movements and statement_s + pdf_s < PDF_TARGET_S,
        pdf_bytes=len(pdf),
        rows_per_second=round(statement.movement_count / pdf_s),
        **common,
    )
    results.add("statement_csv", statement_s + csv_s, "s", **common)
    results.add("statement_xlsx", statement_s + xlsx_s, "s", **common)
    results.context.update(account_legs=total, period=[str(date_from), str(date_to)])
    (results.write().parent / "statement_sample.pdf").write_bytes(pdf)


if __name__ == "__main__":
    main()
