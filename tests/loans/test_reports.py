"""Portfolio reports on a small hand-built portfolio: summary, aging, PAR, provisioning,
disbursements and repayments by month; branch scope; CSV/XLSX output and formula escaping."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from cooperative.exceptions import NotAllowed, ValidationFailed
from loans import reports
from loans.eod import run_end_of_day
from tests.loans.eod_factories import make_active_loan, make_product

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 5, 31)


@pytest.fixture
def portfolio(branch, other_branch):
    """Main branch: 5 active loans, 0/15/45/120/200 days past due on 31 May; Abuja: one, 45 days."""
    salary = make_product(name="Salary advance")
    asset = make_product(name="Asset loan")
    loans = {
        "current": make_active_loan(
            branch, product=salary, installments=[(date(2026, 6, 30), "1200.00", "12.00")]
        ),
        "dpd15": make_active_loan(
            branch, product=salary, installments=[(date(2026, 5, 16), "500.00", "5.00")]
        ),
        "dpd45": make_active_loan(
            branch, product=salary, installments=[(date(2026, 4, 16), "2000.00", "20.00")]
        ),
        "dpd120": make_active_loan(
            branch, product=asset, installments=[(date(2026, 1, 31), "1000.00", "10.00")]
        ),
        "dpd200": make_active_loan(
            branch, product=asset, installments=[(date(2025, 11, 12), "300.00", "3.00")]
        ),
        "abuja": make_active_loan(
            other_branch, product=salary, installments=[(date(2026, 4, 16), "700.00", "7.00")]
        ),
    }
    run_end_of_day(as_of=AS_OF)
    return loans


def test_portfolio_summary_by_branch_and_product(portfolio, manager):
    report = reports.report_portfolio_summary(user=manager)

    assert [(r["product"], r["loans"], r["outstanding"]) for r in report.rows] == [
        ("Asset loan", 2, Decimal("1300.00")),
        ("Salary advance", 3, Decimal("3700.00")),
    ]
    assert {r["branch"] for r in report.rows} == {"Main Branch"}
    assert report.totals["loans"] == 5
    assert report.totals["disbursed"] == Decimal("5000.00")
    assert report.totals["outstanding"] == Decimal("5000.00")
    assert report.totals["arrears"] == Decimal("3838.00")
    assert report.scope == "Main Branch"
    assert report.subtitle == "As at end of day 2026-05-31"


def test_arrears_aging_bands(portfolio, manager):
    report = reports.report_arrears_aging(user=manager)

    assert [(r["band"], r["loans"], r["outstanding"], r["share"]) for r in report.rows] == [
        ("1–30", 1, Decimal("500.00"), Decimal("10.00")),
        ("31–60", 1, Decimal("2000.00"), Decimal("40.00")),
        ("61–90", 0, Decimal("0.00"), Decimal("0.00")),
        ("91–180", 1, Decimal("1000.00"), Decimal("20.00")),
        ("180+", 1, Decimal("300.00"), Decimal("6.00")),
    ]
    assert (report.totals["loans"], report.totals["outstanding"], report.totals["share"]) == (
        4,
        Decimal("3800.00"),
        Decimal("76.00"),
    )


def test_par_report_and_dashboard_helper(portfolio, manager, admin_user):
    report = reports.report_par(user=manager)

    assert [(r["measure"], r["loans"], r["at_risk"], r["ratio"]) for r in report.rows] == [
        ("PAR1", 4, Decimal("3800.00"), Decimal("76.00")),
        ("PAR30", 3, Decimal("3300.00"), Decimal("66.00")),
        ("PAR90", 2, Decimal("1300.00"), Decimal("26.00")),
    ]
    assert reports.par(user=manager) == Decimal("66.00")
    assert reports.par(user=manager, days=90) == Decimal("26.00")
    # the administrator sees both branches: (2000 + 1000 + 300 + 700) / 5700
    assert reports.par(user=admin_user) == Decimal("70.18")


def test_par_of_an_empty_portfolio_is_none(manager):
    assert reports.par(user=manager) is None


def test_provisioning_by_bucket_from_the_snapshot(portfolio, manager):
    report = reports.report_provisioning(user=manager)

    assert [(r["bucket"], r["loans"], r["outstanding"], r["provision"]) for r in report.rows] == [
        ("Performing", 1, Decimal("1200.00"), Decimal("12.00")),
        ("Pass and watch", 1, Decimal("500.00"), Decimal("25.00")),
        ("Substandard", 1, Decimal("2000.00"), Decimal("400.00")),
        ("Doubtful", 0, Decimal("0.00"), Decimal("0.00")),
        ("Lost", 2, Decimal("1300.00"), Decimal("1300.00")),
        ("Written off", 0, Decimal("0.00"), Decimal("0.00")),
    ]
    assert report.rows[1]["days"] == "1–30"
    assert report.rows[4]["days"] == "91+"
    assert report.totals["provision"] == Decimal("1737.00")
    assert report.subtitle == "End of day 2026-05-31"


def test_provisioning_for_a_date_without_snapshot_is_empty(portfolio, manager):
    report = reports.report_provisioning(user=manager, as_of=date(2026, 1, 1))

    assert report.totals["loans"] == 0
    assert report.totals["provision"] == Decimal("0.00")


def test_provisioning_after_a_branchs_last_active_loan_is_written_off(branch, other_branch, manager):
    from loans.eod import business_date
    from loans.models import Loan
    from loans.services import write_off_loan

    # given the main branch's only active loan, lost (120 days past due) at yesterday's end of day,
    # and a loan in another branch
    today = business_date()
    yesterday = today - timedelta(days=1)
    product = make_product()
    lost = make_active_loan(
        branch,
        product=product,
        disbursed_on=yesterday - timedelta(days=150),
        installments=[(yesterday - timedelta(days=120), "1000.00", "10.00")],
    )
    make_active_loan(
        other_branch,
        product=product,
        disbursed_on=yesterday - timedelta(days=10),
        installments=[(today + timedelta(days=20), "700.00", "7.00")],
    )
    run_end_of_day(as_of=yesterday)
    assert reports.report_provisioning(user=manager).rows[4]["loans"] == 1

    # when it is written off and end of day runs today
    write_off_loan(actor=None, loan_id=lost.pk, reason="Member cannot be traced")
    run_end_of_day(as_of=today)

    # then today's report shows nothing in the buckets for the branch (not yesterday's snapshot), and
    # the loan as written off, in words, not as the bucket it last had
    report = reports.report_provisioning(user=manager)
    assert report.subtitle == f"End of day {today:%Y-%m-%d}"
    assert [(r["bucket"], r["loans"], r["provision"]) for r in report.rows] == [
        ("Performing", 0, Decimal("0.00")),
        ("Pass and watch", 0, Decimal("0.00")),
        ("Substandard", 0, Decimal("0.00")),
        ("Doubtful", 0, Decimal("0.00")),
        ("Lost", 0, Decimal("0.00")),
        ("Written off", 1, Decimal("0.00")),
    ]
    assert (report.totals["loans"], report.totals["provision"]) == (0, Decimal("0.00"))
    lost = Loan.objects.get(pk=lost.pk)
    assert lost.arrears_bucket is None
    assert reports.classification(lost) == "Written off"


def test_classification_in_words(portfolio):
    from loans.models import Loan

    assert reports.classification(Loan.objects.get(pk=portfolio["dpd120"].pk)) == "Lost"
    assert reports.classification(Loan.objects.get(pk=portfolio["current"].pk)) == "Performing"


def test_disbursements_and_repayments_by_month(branch, other_branch, manager):
    from loans.services import record_repayment

    product = make_product()
    jan = make_active_loan(
        branch,
        product=product,
        disbursed_on=date(2026, 1, 10),
        installments=[(date(2026, 2, 10), "1000.00", "10.00")],
    )
    make_active_loan(
        branch,
        product=product,
        disbursed_on=date(2026, 3, 5),
        installments=[(date(2026, 4, 5), "2500.00", "25.00")],
    )
    make_active_loan(
        other_branch,
        product=product,
        disbursed_on=date(2026, 1, 20),
        installments=[(date(2026, 2, 20), "900.00", "9.00")],
    )
    record_repayment(
        actor=None, loan_id=jan.pk, amount=Decimal("400.00"), source="CASH", payment_date=date(2026, 2, 10)
    )
    record_repayment(
        actor=None, loan_id=jan.pk, amount=Decimal("100.00"), source="CASH", payment_date=date(2026, 3, 1)
    )

    report = reports.report_disbursements_repayments(
        user=manager, date_from=date(2026, 1, 1), date_to=date(2026, 3, 31)
    )

    assert [
        (r["month"], r["disbursements"], r["disbursed"], r["repayments"], r["repaid"]) for r in report.rows
    ] == [
        ("2026-01", 1, Decimal("1000.00"), 0, Decimal("0.00")),
        ("2026-02", 0, Decimal("0.00"), 1, Decimal("400.00")),
        ("2026-03", 1, Decimal("2500.00"), 1, Decimal("100.00")),
    ]
    feb = report.rows[1]
    assert feb["principal"] + feb["interest"] + feb["fees"] + feb["penalties"] == Decimal("400.00")
    assert (report.totals["disbursed"], report.totals["repaid"]) == (Decimal("3500.00"), Decimal("500.00"))


def test_period_must_be_in_order(manager):
    with pytest.raises(ValidationFailed):
        reports.report_disbursements_repayments(
            user=manager, date_from=date(2026, 3, 1), date_to=date(2026, 1, 1)
        )


def test_reports_need_the_report_permission(portfolio, teller):
    with pytest.raises(NotAllowed):
        reports.report_portfolio_summary(user=teller)


def test_csv_has_header_rows_columns_and_totals(portfolio, manager):
    text = reports.render_csv(reports.report_arrears_aging(user=manager)).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))

    assert rows[1] == ["Arrears aging"]
    assert ["Days past due", "Loans", "Principal outstanding", "Arrears", "% of portfolio"] in rows
    assert ["31–60", "1", "2000.00", "2020.00", "40.00"] in rows
    assert rows[-1] == ["Total past due", "4", "3800.00", "3838.00", "76.00"]


def test_csv_and_xlsx_escape_formulas(branch, manager):
    product = make_product(name='=HYPERLINK("http://evil.example","x")')
    make_active_loan(branch, product=product, installments=[(date(2026, 6, 30), "1000.00", "10.00")])
    report = reports.report_portfolio_summary(user=manager)

    text = reports.render_csv(report).decode("utf-8")
    sheet = load_workbook(io.BytesIO(reports.render_xlsx(report))).active
    cells = [cell.value for row in sheet.iter_rows() for cell in row]

    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text
    assert '\'=HYPERLINK("http://evil.example","x")' in cells


def test_xlsx_keeps_numbers_as_numbers(portfolio, manager):
    workbook = load_workbook(io.BytesIO(reports.render_xlsx(reports.report_provisioning(user=manager))))
    rows = [[cell.value for cell in row] for row in workbook.active.iter_rows()]

    assert rows[0] == ["Coopdesk Cooperative Society"] or rows[0][0]
    lost = next(row for row in rows if row[0] == "Lost")
    assert lost[3] == 2
    assert Decimal(str(lost[6])) == Decimal("1300")
    assert rows[-1][0] == "Total"
