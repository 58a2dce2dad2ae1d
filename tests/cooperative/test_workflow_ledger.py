"""The ledger account's state machine (ledger/workflow.py) under ledger.services: freeze, unfreeze and
close move through the table, and a move the table lacks (reopening a closed account) is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cooperative.workflow import InvalidTransition
from ledger import services as ledger
from ledger.exceptions import AccountNotEmpty
from ledger.models import Account, AccountType
from ledger.services._common import set_status
from ledger.workflow import ACCOUNT_MACHINE
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(branch):
    return ledger.open_account(member=MemberFactory(branch=branch), account_type=AccountType.SAVINGS)


def test_the_table_is_active_frozen_closed():
    assert set(ACCOUNT_MACHINE.states) == set(Account.Status.values)
    assert {t.name: (t.sources, t.target) for t in ACCOUNT_MACHINE.transitions} == {
        "freeze": (("ACTIVE",), "FROZEN"),
        "unfreeze": (("FROZEN",), "ACTIVE"),
        "close": (("ACTIVE", "FROZEN"), "CLOSED"),
    }
    assert ACCOUNT_MACHINE.final_states() == ["CLOSED"]


def test_freeze_unfreeze_and_close_go_through_the_table(account, manager):
    frozen = ledger.freeze_account(account_id=account.pk, reason="Court order")
    assert frozen.status == "FROZEN"
    assert ledger.unfreeze_account(account_id=account.pk, reason="Lifted").status == "ACTIVE"
    ledger.freeze_account(account_id=account.pk, reason="Again")
    assert ledger.close_account(account_id=account.pk, reason="Member asked").status == "CLOSED"


def test_a_closed_account_cannot_be_reopened(account):
    ledger.close_account(account_id=account.pk, reason="Done")
    closed = Account.objects.get(pk=account.pk)
    with pytest.raises(InvalidTransition) as refused:
        set_status(closed, Account.Status.ACTIVE, "reopen", [])
    assert refused.value.status == 409
    assert "is closed" in refused.value.message
    assert "No further steps are possible" in refused.value.message
    assert Account.objects.get(pk=account.pk).status == "CLOSED"


def test_the_close_guards_name_what_is_left(account):
    ledger.deposit(account_id=account.pk, amount=Decimal("500.00"), description="Savings")
    fresh = Account.objects.get(pk=account.pk)
    with pytest.raises(AccountNotEmpty, match="still holds 500.00"):
        ACCOUNT_MACHINE.check(fresh, "close", actor=None)
    ledger.place_hold(account_id=account.pk, amount=Decimal("100.00"), reason="Guarantee")
    with pytest.raises(AccountNotEmpty, match="on hold"):
        ACCOUNT_MACHINE.check(Account.objects.get(pk=account.pk), "close", actor=None)
