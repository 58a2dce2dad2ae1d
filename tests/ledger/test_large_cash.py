"""The large-cash report: cash movements at or above the reporting threshold, possible structuring,
the admin page (scoped to the user's branches) and its audited CSV / Excel downloads."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from approvals.services import decide_approval
from cooperative.models import AuditLog
from ledger import services
from ledger.large_cash import (
    MOVEMENT_COLUMNS,
    large_cash_movements,
    large_cash_report,
    render_csv,
    render_xlsx,
    structuring_flags,
)
from ledger.models import JournalEntry
from ledger.services import Pending
from tests.ledger.factories import make_member

pytestmark = pytest.mark.django_db
D = Decimal
LAGOS = ZoneInfo("Africa/Lagos")
URL = "/admin/ledger/journalentry/large-cash/"
MARCH = {"date_from": date(2026, 3, 1), "date_to": date(2026, 3, 31)}


# Deposits here are at most ₦5,000,000, which a teller posts alone: the deposit approval band
# starts above it.


@contextmanager
def posted_on(day: date, hour: int = 10):
    """Post as if the clock said `day` at `hour` o'clock in Lagos."""
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=LAGOS)
    with patch("django.utils.timezone.now", return_value=moment):
        yield


def member_account(branch, first_name="Ngozi", last_name="Eze", **fields):
    member = make_member(branch, first_name=first_name, last_name=last_name, kyc_status="VERIFIED", **fields)
    return services.open_account(member=member, account_type="SAVINGS")


def cash_in(account, amount, teller, *, day=date(2026, 3, 10), hour=10, channel="cash") -> JournalEntry:
    with posted_on(day, hour):
        return services.deposit(
            account_id=account.pk, amount=D(amount), actor=teller, channel=channel, description="Lodgement"
        )


def cash_out(account, amount, teller, manager, *, channel="cash") -> JournalEntry:
    """A withdrawal through its public entry point; above the band a manager approves it."""
    result = services.withdraw(
        account_id=account.pk, amount=D(amount), actor=teller, channel=channel, description="Payout"
    )
    if isinstance(result, Pending):
        decide_approval(request_id=result.approval_request.pk, actor=manager, decision="APPROVED")
        result.posting_request.refresh_from_db()
        return result.posting_request.entry
    return result


def references(movements) -> list[str]:
    return [m.reference for m in movements]


# --- the selector --------------------------------------------------------------------------------


def test_a_cash_deposit_at_exactly_the_threshold_is_listed_and_one_kobo_below_is_not(branch, teller, manager):
    # given two cash deposits, one at the threshold and one a kobo below
    ngozi = member_account(branch)
    at = cash_in(ngozi, "5000000.00", teller, hour=9)
    cash_in(member_account(branch, "Tunde", "Bakare"), "4999999.99", teller, hour=11)

    # when the manager lists the month
    movements = large_cash_movements(user=manager, **MARCH)

    # then only the first is there, with everything the CTR needs
    assert references(movements) == [at.reference]
    row = movements[0]
    assert (row.member_name, row.member_number, row.account_number) == (
        "Ngozi Eze",
        ngozi.member.member_number,
        ngozi.account_number,
    )
    assert (row.amount, row.movement, row.direction, row.channel) == (
        D("5000000.00"),
        "Deposit",
        "in",
        "Cash – till",
    )
    assert (row.teller, row.branch, row.reversed) == (teller.get_full_name(), "Main Branch", False)
    assert row.posted_at == datetime(2026, 3, 10, 9, tzinfo=LAGOS)


def test_a_large_cash_withdrawal_is_listed_as_cash_out(branch, teller, manager):
    # given a teller whose till holds the cash, and a member who takes ₦5,000,000 out (approved)
    ngozi = member_account(branch)
    cash_in(ngozi, "5000000.00", teller, day=date(2026, 3, 2))
    cash_in(member_account(branch, "Tunde", "Bakare"), "3000000.00", teller, day=date(2026, 3, 2))
    withdrawal = cash_out(ngozi, "5000000.00", teller, manager)

    movements = large_cash_movements(user=manager, date_from=date(2026, 3, 1), date_to=timezone.localdate())

    assert [(m.movement, m.direction, m.amount) for m in movements] == [
        ("Deposit", "in", D("5000000.00")),
        ("Withdrawal", "out", D("5000000.00")),
    ]
    assert movements[1].reference == withdrawal.reference


def test_bank_deposits_bank_withdrawals_and_transfers_are_not_cash(branch, teller, manager):
    ngozi, tunde = member_account(branch), member_account(branch, "Tunde", "Bakare")
    cash_in(ngozi, "5000000.00", teller, channel="bank", day=date(2026, 3, 3))
    cash_out(ngozi, "2000000.00", teller, manager, channel="bank")
    pending = services.transfer(
        from_account_id=ngozi.pk, to_account_id=tunde.pk, amount=D("3000000.00"), actor=teller
    )
    if isinstance(pending, Pending):
        decide_approval(request_id=pending.approval_request.pk, actor=manager, decision="APPROVED")
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.TRANSFER).count() == 1

    assert large_cash_movements(user=manager, date_from=date(2026, 3, 1), date_to=timezone.localdate()) == []


def test_a_reversed_deposit_stays_listed_as_reversed_and_the_reversal_is_not_a_movement(
    branch, teller, manager
):
    entry = cash_in(member_account(branch), "5000000.00", teller)
    services.reverse_entry(entry_id=entry.pk, reason="Typed twice")

    movements = large_cash_movements(user=manager, date_from=date(2026, 3, 1), date_to=timezone.localdate())

    assert [(m.reference, m.reversed) for m in movements] == [(entry.reference, True)]


def test_the_threshold_is_a_setting(branch, teller, manager, settings):
    settings.LARGE_CASH_THRESHOLD_INDIVIDUAL = D("1000000.00")
    entry = cash_in(member_account(branch), "1000000.00", teller)
    assert references(large_cash_movements(user=manager, **MARCH)) == [entry.reference]


def test_the_period_is_by_posting_date_in_lagos(branch, teller, manager):
    late = cash_in(member_account(branch), "5000000.00", teller, day=date(2026, 3, 31), hour=23)
    cash_in(member_account(branch, "Tunde", "Bakare"), "5000000.00", teller, day=date(2026, 4, 1), hour=0)
    assert references(large_cash_movements(user=manager, **MARCH)) == [late.reference]


def test_branch_scoping_in_the_selector(branch, other_branch, teller, make_staff, manager, auditor):
    ours = cash_in(member_account(branch), "5000000.00", teller)
    their_teller = make_staff("TELLER", other_branch)
    theirs = cash_in(member_account(other_branch, "Garba", "Shehu"), "5000000.00", their_teller)

    assert references(large_cash_movements(user=manager, **MARCH)) == [ours.reference]
    # an auditor sees every branch, and may narrow to one
    assert sorted(references(large_cash_movements(user=auditor, **MARCH))) == sorted(
        [ours.reference, theirs.reference]
    )
    only_theirs = large_cash_movements(user=auditor, branch_id=other_branch.pk, **MARCH)
    assert references(only_theirs) == [theirs.reference]


def test_the_rows_and_their_members_are_read_in_a_fixed_number_of_queries(
    branch, teller, manager, django_assert_max_num_queries
):
    for n in range(6):
        cash_in(member_account(branch, "Member", f"No{n}"), "5000000.00", teller, hour=8 + n)
    large_cash_movements(user=manager, **MARCH)  # warm the permission cache
    # the legs and their members, plus the (uncached) guardian grants of branches and legs
    with django_assert_max_num_queries(4):
        movements = large_cash_movements(user=manager, **MARCH)
    assert len(movements) == 6


# --- structuring ---------------------------------------------------------------------------------


def test_three_deposits_just_below_the_threshold_in_six_days_are_flagged(branch, teller, manager):
    # given three ₦4,900,000 cash deposits by one member within six days, and another member's
    # three deposits that are far below the threshold
    ngozi = member_account(branch)
    deposits = [cash_in(ngozi, "4900000.00", teller, day=date(2026, 3, d)) for d in (2, 5, 8)]
    tunde = member_account(branch, "Tunde", "Bakare")
    for d in (2, 3, 4):
        cash_in(tunde, "4400000.00", teller, day=date(2026, 3, d))

    # when the month is checked
    flags = structuring_flags(user=manager, **MARCH)

    # then Ngozi is flagged with the three deposits (none of which is itself a large movement)
    assert [(f.member_number, f.count, f.total) for f in flags] == [
        (ngozi.member.member_number, 3, D("14700000.00"))
    ]
    assert [d.reference for d in flags[0].deposits] == [e.reference for e in deposits]
    assert large_cash_movements(user=manager, **MARCH) == []


def test_the_same_deposits_spread_over_ten_days_are_not_flagged(branch, teller, manager):
    ngozi = member_account(branch)
    for d in (1, 6, 11):
        cash_in(ngozi, "4900000.00", teller, day=date(2026, 3, d))
    assert structuring_flags(user=manager, **MARCH) == []


def test_overlapping_windows_make_one_flag_and_a_window_may_start_before_the_period(branch, teller, manager):
    ngozi = member_account(branch)
    for d in (26, 28):
        cash_in(ngozi, "4800000.00", teller, day=date(2026, 2, d))
    for d in (2, 4):
        cash_in(ngozi, "4800000.00", teller, day=date(2026, 3, d))

    flags = structuring_flags(user=manager, date_from=date(2026, 3, 4), date_to=date(2026, 3, 4))

    assert [f.count for f in flags] == [4]
    assert flags[0].first_at.date() == date(2026, 2, 26)


def test_reversed_deposits_do_not_count_and_the_rule_is_configurable(branch, teller, manager, settings):
    ngozi = member_account(branch)
    first = cash_in(ngozi, "4700000.00", teller, day=date(2026, 3, 2))
    cash_in(ngozi, "4700000.00", teller, day=date(2026, 3, 3))
    cash_in(ngozi, "4700000.00", teller, day=date(2026, 3, 4))
    services.reverse_entry(entry_id=first.pk, reason="Counterfeit notes returned")
    assert structuring_flags(user=manager, **MARCH) == []

    settings.STRUCTURING_MIN_COUNT = 2
    assert [f.count for f in structuring_flags(user=manager, **MARCH)] == [2]
    settings.STRUCTURING_MARGIN_PERCENT = D("5")  # 4,700,000 is 6% below: no longer "just below"
    assert structuring_flags(user=manager, **MARCH) == []


def test_structuring_is_branch_scoped(branch, other_branch, make_staff, manager):
    their_teller = make_staff("TELLER", other_branch)
    garba = member_account(other_branch, "Garba", "Shehu")
    for d in (2, 3, 4):
        cash_in(garba, "4900000.00", their_teller, day=date(2026, 3, d))
    assert structuring_flags(user=manager, **MARCH) == []


# --- renderers -----------------------------------------------------------------------------------


@pytest.fixture
def poisoned(branch, teller):
    """A large deposit by a member whose name is a spreadsheet formula, and a structuring run."""
    account = member_account(branch, first_name='=HYPERLINK("http://evil")', last_name="@SUM(A1)")
    cash_in(account, "5000000.00", teller, day=date(2026, 3, 1))
    for d in (2, 3, 4):
        cash_in(account, "4900000.00", teller, day=date(2026, 3, d))
    return account


def test_csv_lists_movements_and_flags_with_amounts_in_kobo_and_formulas_escaped(poisoned, manager):
    report = large_cash_report(user=manager, **MARCH)
    rows = list(csv.reader(io.StringIO(render_csv(report).decode())))

    header = rows.index(MOVEMENT_COLUMNS)
    assert {"Member", "Member number", "Account", "Amount", "Channel", "Teller", "Branch", "Posted"} <= set(
        MOVEMENT_COLUMNS
    )
    movement = rows[header + 1]
    assert movement[0] == "2026-03-01 10:00"
    assert movement[2] == '\'=HYPERLINK("http://evil") @SUM(A1)'
    assert movement[3:8] == [
        poisoned.member.member_number,
        poisoned.account_number,
        "Deposit",
        "in",
        "5000000.00",
    ]
    assert ["Threshold (individual)", "5000000.00"] in rows
    flags = rows.index(["Possible structuring"])
    assert rows[flags + 2][0].startswith("'=HYPERLINK")
    assert rows[flags + 2][3:5] == ["3", "14700000.00"]
    assert [row[3] for row in rows[flags + 3 : flags + 6]] == ["4900000.00"] * 3
    assert not any(cell.startswith(("=", "@", "+", "-")) for row in rows for cell in row)


def test_xlsx_has_both_sheets_numeric_amounts_and_escaped_text(poisoned, manager):
    workbook = load_workbook(io.BytesIO(render_xlsx(large_cash_report(user=manager, **MARCH))))
    assert workbook.sheetnames == ["Large cash", "Structuring"]
    rows = [list(row) for row in workbook["Large cash"].iter_rows(values_only=True)]
    header = next(i for i, row in enumerate(rows) if row[0] == "Posted")
    movement = rows[header + 1]
    assert movement[2] == '\'=HYPERLINK("http://evil") @SUM(A1)'
    assert movement[7] == 5000000
    assert isinstance(movement[7], int | float)
    flags = [list(row) for row in workbook["Structuring"].iter_rows(values_only=True)]
    assert flags[1][0].startswith("'=")
    assert flags[1][3:5] == [3, 14700000]
    assert [row[3] for row in flags[2:5]] == [4900000] * 3


# --- the admin page ------------------------------------------------------------------------------


@pytest.fixture
def page(client):
    def get(user, **params):
        client.force_login(user)
        return client.get(URL, params)

    return get


def march(**extra) -> dict:
    return {"date_from": "2026-03-01", "date_to": "2026-03-31", **extra}


def test_the_page_lists_movements_and_flags_with_downloads_that_keep_the_filters(
    page, poisoned, manager, branch
):
    response = page(manager, **march(branch=str(branch.pk)))

    assert response.status_code == 200
    body = response.content.decode()
    assert poisoned.member.member_number in body
    assert "5,000,000.00" in body
    assert "14,700,000.00" in body.split('id="large-cash-structuring"')[1]
    csv_link = response.context["downloads"]["csv"]
    assert {"date_from=2026-03-01", "date_to=2026-03-31", f"branch={branch.pk}", "format=csv"} <= set(
        csv_link.lstrip("?").split("&")
    )
    assert "=HYPERLINK(&quot;http://evil&quot;)" in body  # shown as text, escaped


def test_another_branch_in_the_address_is_a_form_error_never_its_rows(page, branch, other_branch, make_staff):
    their_teller = make_staff("TELLER", other_branch)
    garba = member_account(other_branch, "Garba", "Shehu")
    cash_in(garba, "5000000.00", their_teller)
    for d in (2, 3, 4):
        cash_in(garba, "4900000.00", their_teller, day=date(2026, 3, d))
    manager_a = make_staff("MANAGER", branch)

    for params in (
        march(branch=str(other_branch.pk)),
        march(),
        march(branch=str(other_branch.pk), format="csv"),
    ):
        response = page(manager_a, **params)
        assert response.status_code == 200
        body = response.content.decode()
        assert garba.member.member_number not in body
        assert "Garba" not in body
    assert "Select a valid choice" in page(manager_a, **march(branch=str(other_branch.pk))).content.decode()
    assert not AuditLog.objects.filter(event=AuditLog.Event.EXPORT).exists()


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2026-13-45", "date_to": "2026-03-31"},
        {"date_from": "yesterday", "date_to": "2026-03-31"},
        {"date_from": "2026-03-31", "date_to": "2026-03-01"},
        {"date_from": "2024-01-01", "date_to": "2026-03-31"},
        march(branch="not-a-uuid"),
        march(format="pdf"),
    ],
)
def test_bad_filters_are_form_errors_not_500s(page, manager, params):
    response = page(manager, **params)
    assert response.status_code == 200
    assert 'class="errornote"' in response.content.decode()
    assert response.context["report"] is None


@pytest.mark.parametrize(
    ("fmt", "content_type", "magic"), [("csv", "text/csv", b"Coopdesk"), ("xlsx", "spreadsheetml", b"PK")]
)
def test_downloads_are_audited(page, poisoned, manager, fmt, content_type, magic):
    response = page(manager, **march(format=fmt))

    assert response.status_code == 200
    assert content_type in response["Content-Type"]
    assert response["Content-Disposition"] == f'attachment; filename="large-cash-20260301-20260331.{fmt}"'
    assert response.content.startswith(magic)
    log = AuditLog.objects.get(event=AuditLog.Event.EXPORT)
    assert log.user == manager
    assert log.detail == {
        "what": "large_cash_report",
        "format": fmt,
        "from": "2026-03-01",
        "to": "2026-03-31",
        "branch": "All branches you can see",
        "branch_id": None,
        "movements": 1,
        "structuring_flags": 1,
    }


@pytest.mark.parametrize("role", ["TELLER", "LOAN_OFFICER", "PARTNER"])
def test_counter_staff_and_partners_may_not_read_the_report(page, make_staff, branch, role):
    assert page(make_staff(role, branch), **march()).status_code == 403
    assert page(make_staff(role, branch), **march(format="csv")).status_code == 403
    assert not AuditLog.objects.filter(event=AuditLog.Event.EXPORT).exists()


@pytest.mark.parametrize("role", ["MANAGER", "ACCOUNTANT", "AUDITOR", "ADMIN"])
def test_managers_accountants_auditors_and_admins_read_it(page, make_staff, branch, role):
    response = page(make_staff(role, branch), **march())
    assert response.status_code == 200
    assert "No cash movement at or above the threshold" in response.content.decode()


def test_the_page_defaults_to_the_last_thirty_days(page, manager):
    response = page(manager)
    assert response.status_code == 200
    assert response.context["report"].date_to == timezone.localdate()


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_journal_list_links_the_report_for_those_who_may_open_it(client, manager, teller):
    # when a manager and a teller of one branch open the journal entries list
    client.force_login(manager)
    manager_page = client.get("/admin/ledger/journalentry/")
    client.force_login(teller)
    teller_page = client.get("/admin/ledger/journalentry/")

    # then only the manager is offered the report, and the link opens it
    assert URL.encode() in manager_page.content
    assert URL.encode() not in teller_page.content
    client.force_login(manager)
    assert client.get(URL).status_code == 200
