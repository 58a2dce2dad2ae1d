"""Accounting scenarios a cooperative bookkeeper would recognise, end to end through the services."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from cooperative.exceptions import Conflict, ValidationFailed
from ledger import services
from ledger.exceptions import (
    AccountNotActive,
    AccountNotEmpty,
    AlreadyReversed,
    CurrencyMismatch,
    DailyLimitExceeded,
    InsufficientFunds,
    NotPermitted,
    UnbalancedEntry,
)
from ledger.models import Account, JournalEntry, Side, Transaction
from ledger.numbering import check_digit, is_valid_nuban
from ledger.selectors import ledger_discrepancies, teller_cash_total
from ledger.services._direct import post_reversal
from tests.ledger.factories import fund_till, make_account, make_member

pytestmark = pytest.mark.django_db
D = Decimal


def teller_cash(branch) -> Decimal:
    """The branch's teller cash: its vault and every teller's till together."""
    return teller_cash_total(branch_id=branch.pk)


def entry_totals(entry: JournalEntry) -> tuple[Decimal, Decimal]:
    legs = list(entry.legs.all())
    return (
        sum((leg.amount for leg in legs if leg.type == Side.DEBIT), D("0")),
        sum((leg.amount for leg in legs if leg.type == Side.CREDIT), D("0")),
    )


def test_deposit_credits_member_and_debits_teller_cash(branch, teller):
    # given an empty savings account
    savings = make_account(branch)
    # when the teller takes in 1,500.50 in cash
    entry = services.deposit(account_id=savings.pk, amount=D("1500.50"), actor=teller, description="Cash")
    # then one balanced entry moves the money and both balances show it
    savings.refresh_from_db()
    assert savings.balance == D("1500.50")
    assert teller_cash(branch) == D("1500.50")
    assert entry_totals(entry) == (D("1500.50"), D("1500.50"))
    assert entry.posted_by == teller
    assert {leg.balance_after for leg in entry.legs.all()} == {D("1500.50")}


def test_member_deposits_withdraws_and_transfers_and_the_books_still_balance(branch, other_branch, teller):
    alice = make_account(branch, balance="10000.00")
    bola = make_account(other_branch, balance="200.00")
    fund_till(branch, teller, "2500.00")  # the vault gives the teller's till the cash to pay out
    services.withdraw(account_id=alice.pk, amount=D("2500.00"), actor=teller)
    services.transfer(from_account_id=alice.pk, to_account_id=bola.pk, amount=D("1000.25"), actor=teller)
    alice.refresh_from_db()
    bola.refresh_from_db()
    assert alice.balance == D("6499.75")
    assert bola.balance == D("1200.25")
    assert teller_cash(branch) == D("7500.00")
    assert ledger_discrepancies() == {
        "balances": [],
        "unbalanced_entries": [],
        "entries_without_legs": [],
        "system_total": [],
    }


def test_withdrawal_cannot_go_below_holds_and_minimum_balance(branch):
    savings = make_account(branch, balance="5000.00", minimum_balance=D("1000.00"))
    services.place_hold(account_id=savings.pk, amount=D("1500.00"), reason="Guarantor pledge")
    with pytest.raises(InsufficientFunds, match="only 2500.00 available"):
        services.withdraw(account_id=savings.pk, amount=D("2500.01"))
    services.withdraw(account_id=savings.pk, amount=D("2500.00"))
    savings.refresh_from_db()
    assert savings.balance == D("2500.00")
    assert savings.available_balance == D("0.00")


def test_released_hold_frees_the_money_again(branch):
    savings = make_account(branch, balance="3000.00")
    hold = services.place_hold(account_id=savings.pk, amount=D("3000.00"), reason="Pledge")
    with pytest.raises(InsufficientFunds):
        services.withdraw(account_id=savings.pk, amount=D("1.00"))
    services.release_hold(hold_id=hold.pk, amount=D("1000.00"))
    services.withdraw(account_id=savings.pk, amount=D("1000.00"))
    hold.refresh_from_db()
    assert hold.amount == D("2000.00")
    assert hold.status == "ACTIVE"
    services.release_hold(hold_id=hold.pk)
    hold.refresh_from_db()
    savings.refresh_from_db()
    assert (hold.status, savings.held_amount) == ("RELEASED", D("0.00"))


def test_hold_cannot_exceed_free_savings(branch):
    savings = make_account(branch, balance="1000.00")
    services.place_hold(account_id=savings.pk, amount=D("600.00"), reason="Pledge A")
    with pytest.raises(InsufficientFunds):
        services.place_hold(account_id=savings.pk, amount=D("400.01"), reason="Pledge B")


def test_daily_withdrawal_limit_counts_everything_taken_out_today(branch):
    savings = make_account(branch, balance="100000.00", daily_withdrawal_limit=D("50000.00"))
    services.withdraw(account_id=savings.pk, amount=D("30000.00"))
    services.transfer(from_account_id=savings.pk, to_account_id=make_account(branch).pk, amount=D("15000.00"))
    with pytest.raises(DailyLimitExceeded):
        services.withdraw(account_id=savings.pk, amount=D("5000.01"))
    services.withdraw(account_id=savings.pk, amount=D("5000.00"))


def test_reversal_posts_the_mirror_entry_once(branch, teller, accountant):
    savings = make_account(branch)
    entry = services.deposit(account_id=savings.pk, amount=D("700.00"), actor=teller)
    reversal = post_reversal(entry_id=entry.pk, reason="Keyed twice", actor=accountant)
    savings.refresh_from_db()
    assert savings.balance == D("0.00")
    assert reversal.reverses == entry
    assert reversal.kind == JournalEntry.Kind.REVERSAL
    assert sorted((leg.account_id, leg.type) for leg in reversal.legs.all()) == sorted(
        (leg.account_id, "CREDIT" if leg.type == "DEBIT" else "DEBIT") for leg in entry.legs.all()
    )
    with pytest.raises(AlreadyReversed):
        services.reverse_entry(entry_id=entry.pk, reason="again", actor=accountant)
    with pytest.raises(Conflict, match="itself a reversal"):
        services.reverse_entry(entry_id=reversal.pk, reason="undo", actor=accountant)


def test_reversal_needs_a_reason_and_the_permission(branch, teller):
    entry = services.deposit(account_id=make_account(branch).pk, amount=D("10.00"))
    with pytest.raises(ValidationFailed):
        services.reverse_entry(entry_id=entry.pk, reason="  ")
    with pytest.raises(NotPermitted):
        services.reverse_entry(entry_id=entry.pk, reason="mistake", actor=teller)


def test_reversing_a_deposit_already_spent_is_refused(branch):
    savings = make_account(branch)
    entry = services.deposit(account_id=savings.pk, amount=D("100.00"))
    services.withdraw(account_id=savings.pk, amount=D("100.00"))
    with pytest.raises(InsufficientFunds):
        services.reverse_entry(entry_id=entry.pk, reason="wrong account")
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.REVERSAL).count() == 0


def test_teller_cannot_post_on_another_branchs_account(branch, other_branch, teller):
    foreign = make_account(other_branch)
    with pytest.raises(NotPermitted, match="branch"):
        services.deposit(account_id=foreign.pk, amount=D("10.00"), actor=teller)


def test_frozen_and_closed_accounts_refuse_postings(branch):
    savings = make_account(branch, balance="100.00")
    services.freeze_account(account_id=savings.pk, reason="Court order")
    with pytest.raises(AccountNotActive, match="frozen"):
        services.deposit(account_id=savings.pk, amount=D("1.00"))
    services.unfreeze_account(account_id=savings.pk, reason="Order lifted")
    services.deposit(account_id=savings.pk, amount=D("1.00"))


def test_closing_an_account_with_money_needs_a_sweep(branch):
    member = make_member(branch)
    shares = make_account(branch, member=member, account_type="SHARES", balance="250.00")
    savings = make_account(branch, member=member)
    with pytest.raises(AccountNotEmpty, match="250.00"):
        services.close_account(account_id=shares.pk, reason="Member request")
    services.close_account(account_id=shares.pk, reason="Member request", sweep_to_account_id=savings.pk)
    shares.refresh_from_db()
    savings.refresh_from_db()
    assert (shares.status, shares.balance, savings.balance) == ("CLOSED", D("0.00"), D("250.00"))
    with pytest.raises(AccountNotActive):
        services.deposit(account_id=shares.pk, amount=D("1.00"))


def test_post_entry_refuses_unbalanced_and_mixed_currency_entries(branch):
    a, b = make_account(branch), make_account(branch)
    with pytest.raises(UnbalancedEntry):
        services.post_entry(
            kind="ADJUSTMENT",
            narration="x",
            lines=[services.Line(a.pk, Side.DEBIT, D("1.00")), services.Line(b.pk, Side.CREDIT, D("2.00"))],
        )
    usd = make_account(branch, currency="USD")
    with pytest.raises(CurrencyMismatch):
        services.deposit(account_id=usd.pk, amount=D("1.00"))  # teller cash is NGN
    with pytest.raises(ValidationFailed):
        services.post_entry(
            kind="ADJUSTMENT",
            narration="x",
            lines=[services.Line(a.pk, Side.DEBIT, D("1.001")), services.Line(b.pk, Side.CREDIT, D("1.001"))],
        )
    assert Transaction.objects.count() == 0


def test_post_entry_is_idempotent_on_its_key(branch):
    savings = make_account(branch)
    first = services.deposit(account_id=savings.pk, amount=D("50.00"), idempotency_key="psk_ref_1")
    again = services.deposit(account_id=savings.pk, amount=D("50.00"), idempotency_key="psk_ref_1")
    savings.refresh_from_db()
    assert first == again
    assert savings.balance == D("50.00")


def test_one_open_savings_account_per_member(branch):
    member = make_member(branch)
    make_account(branch, member=member)
    with pytest.raises(Conflict, match="already has an open savings"):
        services.open_account(member=member, account_type="SAVINGS")


def test_account_numbers_are_valid_nubans_for_the_institution(branch, settings):
    account = make_account(branch)
    assert len(account.account_number) == 10
    assert is_valid_nuban(settings.COOP_INSTITUTION_CODE, account.account_number)


@pytest.mark.parametrize(
    ("code", "account"),
    [
        ("011", "0000014579"),
        ("011", "0000000220"),
        ("044", "0010246780"),
        ("50515", "5522116946"),
        ("999991", "8106136519"),
        ("058", "0152792740"),
    ],
)
def test_nuban_check_digit_matches_published_examples(code, account):
    assert check_digit(code, account[:9]) == int(account[9])
    assert is_valid_nuban(code, account)


def test_nuban_rejects_a_wrong_check_digit():
    assert not is_valid_nuban("058", "0982736625")


def test_legs_and_entries_cannot_be_edited_or_deleted_in_code(branch):
    entry = services.deposit(account_id=make_account(branch).pk, amount=D("10.00"))
    leg = entry.legs.first()
    leg.amount = D("99.00")
    with pytest.raises(PermissionError):
        leg.save()
    with pytest.raises(PermissionError):
        leg.delete()
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_reconciliation_fields_may_change(branch, accountant):
    entry = services.deposit(account_id=make_account(branch).pk, amount=D("10.00"), channel="bank")
    leg = entry.legs.get(type=Side.DEBIT)
    leg.reconciliation_status = "RECONCILED"
    leg.reconciled_by = accountant
    leg.save(update_fields=["reconciliation_status", "reconciled_by"])
    leg.refresh_from_db()
    assert leg.reconciliation_status == "RECONCILED"


def test_verify_ledger_passes_on_a_clean_ledger_and_catches_a_tampered_balance(branch, capsys):
    savings = make_account(branch, balance="1000.00")
    call_command("verify_ledger")
    assert "Ledger OK" in capsys.readouterr().out
    Account.objects.filter(pk=savings.pk).update(balance=D("1000000.00"))  # tampering behind our back
    with pytest.raises(SystemExit) as exited:
        call_command("verify_ledger")
    assert exited.value.code == 1
    assert savings.account_number in capsys.readouterr().err


def test_services_accept_account_ids_as_strings(branch):
    a = make_account(branch, balance="100.00")
    b = make_account(branch)
    services.transfer(from_account_id=str(a.pk), to_account_id=str(b.pk), amount=D("40.00"))
    services.withdraw(account_id=str(b.pk), amount=D("10.00"))
    b.refresh_from_db()
    assert b.balance == D("30.00")
    with pytest.raises(ValidationFailed):
        services.transfer(from_account_id=str(a.pk), to_account_id=a.pk, amount=D("1.00"))
