"""Account statements: totals reconcile with the ledger, exports are safe, the API is scoped."""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from cooperative.models import AuditLog
from ledger import services
from ledger.models import Account
from ledger.statements import account_statement, escape_cell, render_csv, render_pdf, render_xlsx
from tests.ledger.factories import make_account, make_member

pytestmark = pytest.mark.django_db
D = Decimal
LAGOS = ZoneInfo("Africa/Lagos")


@contextmanager
def posted_on(day: date, hour: int = 10):
    """Post as if the clock said `day` at `hour` o'clock in Lagos."""
    with patch(
        "django.utils.timezone.now", return_value=datetime(day.year, day.month, day.day, hour, tzinfo=LAGOS)
    ):
        yield


@pytest.fixture
def history(branch, other_branch):
    """A savings account with five movements between January and April 2026."""
    member = make_member(
        branch, first_name="Chiamaka", last_name="Okonkwo", address="4 Allen Avenue", city="Ikeja"
    )
    account = services.open_account(member=member, account_type="SAVINGS")
    friend = make_account(other_branch)
    with posted_on(date(2026, 1, 5)):
        services.deposit(account_id=account.pk, amount=D("10000.00"), description="January savings")
    with posted_on(date(2026, 2, 10)):
        services.withdraw(account_id=account.pk, amount=D("2500.00"), description="School fees")
    with posted_on(date(2026, 3, 3)):
        services.deposit(account_id=account.pk, amount=D("1234.56"), description="March savings")
    with posted_on(date(2026, 3, 20), hour=23):  # late evening still counts as 20 March in Lagos
        services.withdraw(account_id=account.pk, amount=D("100.00"), description="Cash")
    with posted_on(date(2026, 4, 1)):
        services.transfer(from_account_id=account.pk, to_account_id=friend.pk, amount=D("500.00"))
    account.refresh_from_db()
    return account


def test_open_ended_statement_reconciles_with_the_account_balance(history):
    # when the whole history is printed
    statement = account_statement(account=history, date_from=date(2026, 1, 1), date_to=date(2026, 12, 31))
    movements = list(statement.movements())

    # then opening + credits − debits = closing = the account's balance
    assert statement.opening_balance == D("0.00")
    assert statement.total_credits == D("11234.56")
    assert statement.total_debits == D("3100.00")
    assert (
        statement.opening_balance + statement.total_credits - statement.total_debits
        == statement.closing_balance
    )
    assert statement.closing_balance == history.balance == D("8134.56")
    # and every line's running balance follows from the previous one
    running = statement.opening_balance
    for movement in movements:
        running += (movement.credit or 0) - (movement.debit or 0)
        assert movement.balance == running
    assert [m.description for m in movements][:2] == ["January savings", "School fees"]
    assert statement.movement_count == len(movements) == 5


def test_statement_for_the_widest_possible_dates_is_the_whole_history(api_as, teller, history):
    # given a teller who asks for "everything" with the extreme dates a date picker allows
    params = {"from": "0001-01-01", "to": "9999-12-31"}

    # when the statement is fetched
    statement = account_statement(account=history, date_from=date(1, 1, 1), date_to=date(9999, 12, 31))
    response = api_as(teller).get(url(history, **params))

    # then it is the whole history, not a server error
    assert statement.closing_balance == history.balance
    assert statement.movement_count == 5
    assert response.status_code == 200
    assert response.json()["closing_balance"] == "8134.56"


def test_statement_for_a_period_in_the_middle(history):
    statement = account_statement(account=history, date_from=date(2026, 2, 1), date_to=date(2026, 3, 20))
    movements = list(statement.movements())
    assert statement.opening_balance == D("10000.00")
    assert [(m.debit, m.credit) for m in movements] == [
        (D("2500.00"), None),
        (None, D("1234.56")),
        (D("100.00"), None),
    ]
    assert statement.closing_balance == D("8634.56")
    assert statement.opening_balance + statement.net_change == statement.closing_balance


def test_statement_of_a_quiet_period_carries_the_balance(history):
    statement = account_statement(account=history, date_from=date(2026, 1, 6), date_to=date(2026, 2, 9))
    assert list(statement.movements()) == []
    assert statement.opening_balance == statement.closing_balance == D("10000.00")
    assert statement.total_debits == statement.total_credits == D("0.00")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+2348031234567", "'+2348031234567"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("School fees", "School fees"),
        ("", ""),
    ],
)
def test_escape_cell_neutralises_formulas(raw, expected):
    assert escape_cell(raw) == expected


@pytest.fixture
def poisoned(branch):
    account = make_account(branch)
    services.deposit(
        account_id=account.pk, amount=D("700.00"), description='=HYPERLINK("http://evil.example","x")'
    )
    services.withdraw(account_id=account.pk, amount=D("50.00"), description="@SUM(1+1)")
    account.refresh_from_db()
    return account


def test_csv_export_escapes_formulas_and_keeps_numbers(poisoned):
    statement = account_statement(account=poisoned, date_from=date(2000, 1, 1), date_to=date(2100, 1, 1))
    rows = list(csv.reader(io.StringIO(render_csv(statement).decode())))
    descriptions = [row[3] for row in rows if len(row) == 7]
    assert '\'=HYPERLINK("http://evil.example","x")' in descriptions
    assert "'@SUM(1+1)" in descriptions
    assert not any(cell.startswith(("=", "@", "+")) for row in rows for cell in row)
    assert rows[-1][3:] == ["Closing balance", "", "", "650.00"]


def test_xlsx_export_escapes_formulas_and_money_stays_numeric(poisoned):
    statement = account_statement(account=poisoned, date_from=date(2000, 1, 1), date_to=date(2100, 1, 1))
    sheet = load_workbook(io.BytesIO(render_xlsx(statement))).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    movement_rows = [row for row in rows if row[3] and str(row[3]).startswith("'")]
    assert [row[3] for row in movement_rows] == ['\'=HYPERLINK("http://evil.example","x")', "'@SUM(1+1)"]
    # no cell is a formula, and the money columns are numbers a spreadsheet can add up
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert movement_rows[0][5] == 700
    assert isinstance(movement_rows[0][5], (int, float))
    assert movement_rows[1][4] == 50
    assert movement_rows[1][6] == 650
    assert rows[-1][3] == "Closing balance"
    assert rows[-1][6] == 650


def test_pdf_is_a_real_document(history):
    statement = account_statement(account=history, date_from=date(2026, 1, 1), date_to=date(2026, 4, 30))
    pdf = render_pdf(statement)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 1024
    assert _pages(pdf) == 1


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


@pytest.mark.parametrize("movements", [0, 44, 45, 47, 48, 400])
def test_pdf_page_count_matches_the_footer_count(branch, movements):
    """Every footer prints "Page n of N" from page_count(); the drawn document has exactly N pages
    (around the first page break too, where the footnote may need a page of its own)."""
    from ledger.statement_pdf import page_count

    member = make_member(branch, first_name="Ngozi", last_name="Eze")
    account = make_account(branch, member=member)
    with posted_on(date(2026, 3, 2)):
        for n in range(movements):
            services.deposit(account_id=account.pk, amount=D("100.00"), description=f"Deposit {n}")
    statement = account_statement(account=account, date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    assert statement.movement_count == movements
    assert _pages(render_pdf(statement)) == page_count(movements)


def test_pdf_shortens_a_description_to_its_column(history):
    from ledger.statement_pdf import _Writer

    writer = _Writer(
        account_statement(account=history, date_from=date(2026, 1, 1), date_to=date(2026, 4, 30))
    )
    long = "Transfer to Chukwuemeka Nwachukwu for the school fees of all the children, second term"
    fitted = writer.fit(long, 100, 7.5)
    assert fitted.endswith("…")
    assert len(fitted) < len(long)
    assert writer.fit("Cash deposit", 100, 7.5) == "Cash deposit"


# --- API ------------------------------------------------------------------------------------------


def url(account, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/v1/accounts/{account.pk}/statement/" + (f"?{query}" if query else "")


def test_api_json_statement_with_money_as_strings(api_as, teller, history):
    response = api_as(teller).get(url(history, **{"from": "2026-02-01", "to": "2026-03-20"}))
    assert response.status_code == 200
    body = response.json()
    assert body["from"] == "2026-02-01"
    assert body["to"] == "2026-03-20"
    assert body["opening_balance"] == "10000.00"
    assert body["closing_balance"] == "8634.56"
    assert body["total_debits"] == "2600.00"
    assert body["total_credits"] == "1234.56"
    assert [m["balance"] for m in body["movements"]] == ["7500.00", "8734.56", "8634.56"]
    assert body["movements"][0]["debit"] == "2500.00"
    assert body["movements"][0]["credit"] is None
    assert body["account"]["member_name"] == "Chiamaka Okonkwo"
    assert not AuditLog.objects.filter(event=AuditLog.Event.EXPORT).exists()


@pytest.mark.parametrize(
    ("fmt", "content_type", "magic"),
    [
        ("csv", "text/csv", b"Coopdesk"),
        ("xlsx", "application/vnd.openxml", b"PK"),
        ("pdf", "application/pdf", b"%PDF"),
    ],
)
def test_api_downloads_are_audited(api_as, teller, history, fmt, content_type, magic, settings):
    settings.COOP_NAME = "Coopdesk Test Cooperative"
    response = api_as(teller).get(url(history, **{"from": "2026-01-01", "to": "2026-04-30", "format": fmt}))
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert f"statement-{history.account_number}-20260101-20260430.{fmt}" in response["Content-Disposition"]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert content.startswith(magic)
    log = AuditLog.objects.get(event=AuditLog.Event.EXPORT)
    assert log.user == teller
    assert log.detail["account"] == history.account_number
    assert log.detail["format"] == fmt


def test_api_other_branch_account_is_not_found(api_as, make_staff, other_branch, history):
    stranger = make_staff("TELLER", other_branch)
    assert api_as(stranger).get(url(history)).status_code == 404
    assert api_as(stranger).get(url(history, format="pdf")).status_code == 404
    assert (
        api_as(stranger).get("/api/v1/accounts/7b0e4a9e-1c59-4f0e-a7ef-5ad0a1b6e6a2/statement/").status_code
        == 404
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "01/02/2026"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-03-01", "to": "2026-02-01"}, "from"),
        ({"format": "docx"}, "format"),
    ],
)
def test_api_bad_parameters_are_a_400_naming_the_field(api_as, teller, history, params, field):
    response = api_as(teller).get(url(history, **params))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field


def test_api_file_export_needs_the_export_permission(api_as, make_staff, branch, history):
    officer = make_staff("LOAN_OFFICER", branch)  # may view accounts, may not export
    assert api_as(officer).get(url(history)).status_code == 200
    response = api_as(officer).get(url(history, format="csv"))
    assert response.status_code == 403
    assert not AuditLog.objects.filter(event=AuditLog.Event.EXPORT).exists()


def test_api_needs_authentication(api_client, history):
    assert api_client.get(url(history)).status_code in (401, 403)


def test_api_default_period_runs_from_opening_to_today(api_as, teller, branch):
    account = make_account(branch, balance="300.00")
    body = api_as(teller).get(url(account)).json()
    assert body["opening_balance"] == "0.00"
    assert body["closing_balance"] == "300.00"
    assert Account.objects.get(pk=account.pk).balance == D("300.00")


def test_pdf_of_too_many_movements_is_refused_with_a_400(api_as, teller, history, settings):
    # given a cap of 3 movements per PDF (production: 1,000)
    settings.LEDGER_STATEMENT_PDF_MAX_MOVEMENTS = 3
    response = api_as(teller).get(url(history, **{"from": "2026-01-01", "to": "2026-12-31", "format": "pdf"}))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "format"
    assert "shorter period" in response.json()["detail"]
    assert not AuditLog.objects.filter(event=AuditLog.Event.EXPORT).exists()
    # and CSV of the same period still works
    csv_response = api_as(teller).get(
        url(history, **{"from": "2026-01-01", "to": "2026-12-31", "format": "csv"})
    )
    assert csv_response.status_code == 200


def test_api_accept_header_chooses_the_format(api_as, teller, history):
    response = api_as(teller).get(url(history), HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    json_response = api_as(teller).get(url(history), HTTP_ACCEPT="application/json")
    assert json_response.json()["closing_balance"] == "8134.56"


def test_exports_stream_movements_in_one_query(branch, django_assert_max_num_queries):
    # given an account with 40 movements
    account = make_account(branch)
    for n in range(20):
        services.deposit(account_id=account.pk, amount=D("100.00"), description=f"Deposit {n}")
        services.withdraw(account_id=account.pk, amount=D("50.00"), description=f"Withdrawal {n}")
    account = Account.objects.select_related("member", "branch").get(pk=account.pk)
    statement = account_statement(account=account, date_from=date(2000, 1, 1), date_to=date(2100, 1, 1))
    assert statement.movement_count == 40
    # then each renderer reads the legs with a single streaming query, however many there are
    with django_assert_max_num_queries(1):
        render_csv(statement)
    with django_assert_max_num_queries(1):
        render_xlsx(statement)


def test_an_auditor_may_download_statements_of_every_branch(make_staff, branch, other_branch):
    from rest_framework.test import APIClient

    from tests.ledger.factories import make_account as _make_account

    auditor = make_staff("AUDITOR", branch, email="auditor-stmt@test.ng")
    account = _make_account(other_branch, balance="250.00")
    client = APIClient()
    client.force_authenticate(auditor)
    response = client.get(f"/api/v1/accounts/{account.pk}/statement/?format=csv")
    assert response.status_code == 200
    assert b"250.00" in b"".join(response.streaming_content)


def test_csv_totals_are_written_with_kobo_like_every_other_amount(history):
    # given a history whose totals are whole naira (10,000 + 1,234.56 in, 2,500 + 100 + 500 out)
    statement = account_statement(account=history, date_from=date(2026, 1, 1), date_to=date(2026, 2, 28))

    # when the CSV is written
    rows = list(csv.reader(io.StringIO(render_csv(statement).decode())))

    # then the totals row reads 2500.00 and 10000.00, not 2500 and 10000
    totals = next(row for row in rows if "Totals" in row)
    assert totals[4:6] == ["2500.00", "10000.00"]
