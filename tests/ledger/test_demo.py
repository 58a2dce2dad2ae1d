"""The ledger's demo seeder: believable history, idempotent, and the books balance."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from cooperative import demo
from ledger import demo as ledger_demo
from ledger.models import Account, AccountType, JournalEntry, Transaction
from ledger.services import BRANCH_GL_ACCOUNTS
from tests.factories import UserFactory
from tests.ledger.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(branch):
    return {
        "TELLER": UserFactory(roles=["TELLER"], branches=[branch]),
        "ACCOUNTANT": UserFactory(roles=["ACCOUNTANT"], branches=[branch]),
    }


def seed(branch, other_branch, staff) -> str:
    out = io.StringIO()
    ledger_demo.seed(branch=branch, other_branch=other_branch, staff=staff, stdout=out)
    return out.getvalue()


def test_seeder_is_registered_after_the_members_seeder():
    assert ledger_demo.seed in demo.seeders()


def test_seed_gives_each_member_savings_shares_and_history(branch, other_branch, staff):
    # given three Main Branch members and one elsewhere
    members = [make_member(branch) for _ in range(3)]
    outsider = make_member(other_branch)

    # when the demo ledger is seeded
    seed(branch, other_branch, staff)

    # then every branch has its GL accounts and each Main Branch member a savings and a shares account
    for each in (branch, other_branch):
        codes = set(
            Account.objects.filter(branch=each, member__isnull=True).values_list("gl_code", flat=True)
        )
        assert codes == set(BRANCH_GL_ACCOUNTS)
    for member in members:
        types = set(Account.objects.filter(member=member).values_list("type", flat=True))
        assert types == {AccountType.SAVINGS, AccountType.SHARES}
        savings = Account.objects.get(member=member, type=AccountType.SAVINGS)
        assert savings.balance > 0
        dates = set(Transaction.objects.filter(account=savings).values_list("value_date", flat=True))
        assert len(dates) >= 3, "a few months of back-dated movements"
    assert not Account.objects.filter(member=outsider).exists()
    kinds = set(JournalEntry.objects.values_list("kind", flat=True))
    assert {"DEPOSIT", "WITHDRAWAL", "TRANSFER", "REVERSAL"} <= kinds


def test_seed_twice_posts_nothing_the_second_time_and_the_ledger_verifies(branch, other_branch, staff):
    for _ in range(2):
        make_member(branch)
    seed(branch, other_branch, staff)
    entries, legs, accounts = (
        JournalEntry.objects.count(),
        Transaction.objects.count(),
        Account.objects.count(),
    )

    assert "nothing to add" in seed(branch, other_branch, staff)

    assert (JournalEntry.objects.count(), Transaction.objects.count(), Account.objects.count()) == (
        entries,
        legs,
        accounts,
    )
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()


def test_seed_with_no_members_only_bootstraps_the_gl(branch, other_branch, staff):
    seed(branch, other_branch, staff)
    assert not JournalEntry.objects.exists()
    assert Account.objects.filter(member__isnull=True).count() == 2 * len(BRANCH_GL_ACCOUNTS)


def test_seed_demo_command_is_idempotent_for_the_ledger(db):
    # given the whole demo (the members seeder, when present, adds the members first)
    call_command("seed_demo", password="demo-pass-123", stdout=io.StringIO())
    entries, accounts = JournalEntry.objects.count(), Account.objects.count()

    # when it runs again
    call_command("seed_demo", password="demo-pass-123", stdout=io.StringIO())

    # then the ledger gained nothing and still verifies
    assert (JournalEntry.objects.count(), Account.objects.count()) == (entries, accounts)
    out = io.StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()


def test_at_close_the_manager_takes_the_tellers_cash_into_the_vault(branch, other_branch, staff):
    staff = {**staff, "MANAGER": UserFactory(roles=["MANAGER"], branches=[branch])}
    make_member(branch)
    make_member(branch)
    seed(branch, other_branch, staff)
    till = Account.objects.get(branch=branch, till_teller=staff["TELLER"])
    vault = Account.objects.get(branch=branch, gl_code="TELLER_CASH", till_teller__isnull=True)
    assert till.balance == ledger_demo.DEMO_TILL_FLOAT
    assert vault.balance > 0
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.TILL_TRANSFER).count() == 1
