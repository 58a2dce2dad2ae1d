"""generate_data: a small dataset on PostgreSQL verifies, matches the sizes asked for, and the normal
services (registration, accounts, deposits, loans) and the admin work on top of it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from decimal import Decimal

import phonenumbers
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import F, Sum

from cooperative.models import Sequence, User
from datagen.generator import GenerationRefused, Generator, Sizes
from datagen.generator.pipeline import real_postings
from ledger import services as ledger
from ledger.models import Account, JournalEntry, Transaction
from ledger.numbering import is_valid_nuban
from loans.models import Loan, LoanPayment, LoanSchedule
from members import services as members
from members.models import Member

SMALL = ["--members", "200", "--loans", "50", "--postings", "2000", "--branches", "3", "--seed", "7"]


def test_refuses_a_database_that_is_not_postgresql(monkeypatch):
    class SQLite:
        vendor = "sqlite"

    monkeypatch.setattr("datagen.generator.pipeline.connection", SQLite())
    with pytest.raises(GenerationRefused, match="needs PostgreSQL"):
        Generator(Sizes(members=1, loans=0, postings=10, branches=1)).run()


@pytest.mark.postgres
@pytest.mark.django_db
class TestSmallDataset:
    @pytest.fixture(autouse=True)
    def _generated(self, django_db_blocker):
        call_command("generate_data", *SMALL, stdout=io.StringIO())

    def test_sizes_and_the_ledger_verify(self):
        assert Member.objects.count() == 200
        assert Loan.objects.count() == 50
        assert Transaction.objects.count() == 2000  # --postings counts legs, exactly
        assert Account.objects.filter(type="SAVINGS").count() == 200
        assert Account.objects.filter(type="SHARES").count() == 200
        call_command("verify_ledger", stdout=io.StringIO())  # exits 1 on any mismatch
        statuses = set(Loan.objects.values_list("status", flat=True))
        assert {"DISBURSED", "CLOSED"} <= statuses
        assert len(statuses) >= 4
        assert Loan.objects.filter(status="DISBURSED", days_past_due__gt=0).exists()  # some overdue

    def test_rows_look_real(self):
        for member in Member.objects.all()[:50]:
            assert phonenumbers.is_valid_number(phonenumbers.parse(member.phone, "NG")), member.phone
        assert Member.objects.values("phone").distinct().count() == 200
        for number in Account.objects.values_list("account_number", flat=True):
            assert is_valid_nuban("50547", number) or len(number) == 10
        kinds = set(JournalEntry.objects.values_list("kind", flat=True))
        assert {"DEPOSIT", "WITHDRAWAL", "TRANSFER", "LOAN_DISBURSEMENT", "LOAN_REPAYMENT"} <= kinds

    def test_loans_agree_with_their_schedules_and_payments(self):
        for loan in Loan.objects.filter(status__in=["DISBURSED", "CLOSED", "WRITTEN_OFF"]).select_related(
            "account"
        ):
            rows = LoanSchedule.objects.filter(loan=loan)
            assert rows.aggregate(s=Sum("principal_amount"))["s"] == loan.principal
            paid = rows.aggregate(s=Sum("principal_paid"))["s"]
            payments = LoanPayment.objects.filter(loan=loan).aggregate(s=Sum("principal_portion"))["s"] or 0
            assert paid == payments
            expected = {"DISBURSED": loan.principal - paid, "CLOSED": 0, "WRITTEN_OFF": 0}[loan.status]
            assert loan.account.balance == expected
            if loan.status == "WRITTEN_OFF":
                assert loan.written_off_amount == loan.principal - paid
        assert not LoanSchedule.objects.filter(is_paid=True).exclude(paid_amount=F("total_amount")).exists()

    def test_services_carry_on_after_generation(self, teller):
        # given a branch the generator made, and its teller
        member = Member.objects.order_by("member_number").last()
        teller.branches.add(member.branch)
        # when a new member registers and opens an account and deposits through the services
        new = members.register_member(
            actor=teller, branch=member.branch, first_name="Zainab", last_name="Bello", phone="+2348099990001"
        )
        account = ledger.open_account(member=new, account_type="SAVINGS", actor=teller)
        ledger.deposit(account_id=account.pk, amount=Decimal("5000.00"), actor=teller, description="First")
        # then numbers continue where generation stopped, and the ledger still verifies
        assert new.member_number == "MEM00201"
        assert Sequence.objects.get(name="member_number").last_value == 201
        assert is_valid_nuban("50547", account.account_number)
        assert (
            not Account.objects.filter(account_number=account.account_number).exclude(pk=account.pk).exists()
        )
        account.refresh_from_db()
        assert account.balance == Decimal("5000.00")
        call_command("verify_ledger", stdout=io.StringIO())

    def test_refuses_to_mix_unless_append(self):
        with pytest.raises(CommandError, match="--append"):
            call_command("generate_data", *SMALL, stdout=io.StringIO())
        call_command("generate_data", *SMALL, "--append", stdout=io.StringIO())
        assert Member.objects.count() == 400
        assert Transaction.objects.count() == 4000
        call_command("verify_ledger", stdout=io.StringIO())

    def test_too_few_postings_is_a_clear_error(self):
        with pytest.raises(CommandError, match="too few"):
            call_command(
                "generate_data", "--members", "50", "--loans", "10", "--postings", "20", "--append",
                stdout=io.StringIO(),
            )  # fmt: skip

    def test_admin_changelists_render(self, client):
        admin = User.objects.create_superuser("datagen-admin@test.ng", "x")
        client.force_login(admin)
        account = Account.objects.filter(type="SAVINGS").first()
        loan = Loan.objects.filter(status="DISBURSED").first()
        member = Member.objects.first()
        for path in (
            "/admin/members/member/",
            f"/admin/members/member/?q={member.last_name}",
            f"/admin/members/member/{member.pk}/change/",
            f"/admin/ledger/transaction/?q={account.account_number}",
            f"/admin/ledger/account/{account.pk}/change/",
            "/admin/loans/loan/?status__exact=DISBURSED",
            f"/admin/loans/loan/{loan.pk}/change/",
        ):
            assert client.get(path).status_code == 200, path


def test_production_settings_have_no_generate_data():
    # given production settings: debug off, a real secret, COOP_ENABLE_DATAGEN unset
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "COOP_", "PYTEST_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="cooperative.settings.base",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="production-like-secret-for-this-test-only",
        DJANGO_READ_DOT_ENV="false",
    )
    # when generate_data is asked for
    result = subprocess.run(
        [sys.executable, "manage.py", "generate_data", "--members", "1"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # then Django does not know the command, and the app is not installed
    assert result.returncode != 0
    assert "Unknown command: 'generate_data'" in result.stderr
    listed = subprocess.run(
        [sys.executable, "manage.py", "help", "--commands"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "generate_data" not in listed.stdout.split()
    assert "verify_ledger" in listed.stdout.split()


def test_the_setting_installs_the_app():
    # the test settings ask for it (COOP_ENABLE_DATAGEN=true); production's default is false
    assert settings.ENABLE_DATAGEN is True
    assert "datagen.apps.DatagenConfig" in settings.INSTALLED_APPS


@pytest.mark.postgres
@pytest.mark.django_db
class TestRealBooks:
    """Entries the generator did not write are real postings: --append onto them needs the flag."""

    @pytest.fixture
    def real_posting(self, teller):
        member = members.register_member(
            actor=teller,
            branch=teller.branches.first(),
            first_name="Ada",
            last_name="Eze",
            phone="+2348031112233",
        )
        account = ledger.open_account(member=member, account_type="SAVINGS", actor=teller)
        return ledger.deposit(
            account_id=account.pk, amount=Decimal("1000.00"), actor=teller, description="Real"
        )

    def test_append_onto_real_postings_is_refused_and_says_why(self, real_posting):
        with pytest.raises(CommandError) as refused:
            call_command("generate_data", *SMALL, "--append", stdout=io.StringIO())
        message = str(refused.value)
        assert "journal entries that generate_data did not write" in message
        assert "--i-know-this-writes-fake-money-into-real-books" in message
        assert Member.objects.count() == 1  # nothing written
        assert JournalEntry.objects.count() == 1

    def test_with_the_flag_it_is_allowed(self, real_posting):
        call_command(
            "generate_data", *SMALL, "--append", "--i-know-this-writes-fake-money-into-real-books",
            stdout=io.StringIO(),
        )  # fmt: skip
        assert Member.objects.count() == 201
        assert real_postings() == 1  # the real entry, and only it, lacks the generator's marker
        call_command("verify_ledger", stdout=io.StringIO())

    def test_generated_entries_are_not_real_postings(self):
        call_command("generate_data", *SMALL, stdout=io.StringIO())
        assert JournalEntry.objects.exists()
        assert real_postings() == 0
