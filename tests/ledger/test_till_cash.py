"""A till or the vault never pays out more cash than it holds: every posting that takes cash out of
a teller-cash account is checked on the same locked read as the member's account (`post_entry`)."""

from __future__ import annotations

import importlib
import re
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from approvals.models import ApprovalRequest
from approvals.services import decide_approval
from cooperative.exceptions import Conflict
from ledger import approval_actions, services
from ledger.exceptions import TillShort
from ledger.models import Account, JournalEntry, PostingRequest
from ledger.selectors import ledger_discrepancies
from ledger.services import Pending
from ledger.services._direct import post_reversal
from tests.ledger.factories import fund_till, make_account
from tests.postgres_harness import run_threads

pytestmark = pytest.mark.django_db
D = Decimal


def vault(branch) -> Account:
    return services.ensure_gl_account(branch_id=branch.pk, gl_code="TELLER_CASH")


def cash_of(account: Account) -> Decimal:
    return Account.objects.get(pk=account.pk).balance


def withdrawals() -> int:
    return JournalEntry.objects.filter(kind=JournalEntry.Kind.WITHDRAWAL).count()


def test_an_approved_withdrawal_then_a_further_cash_withdrawal_cannot_drive_the_till_negative(
    teller, manager, branch
):
    # given a member with ₦2,000,000 and the teller's till holding a ₦525,000 float
    account = make_account(branch, balance="2000000.00")
    drawer = fund_till(branch, teller, "525000.00")
    # when a ₦520,000 withdrawal is approved and posted from the till
    pending = services.withdraw(account_id=account.pk, amount=D("520000.00"), actor=teller)
    assert isinstance(pending, Pending)
    decide_approval(request_id=pending.approval_request.pk, actor=manager, decision="APPROVED")
    assert cash_of(drawer) == D("5000.00")
    # then a further ₦10,000 cash withdrawal is refused, naming the till's cash and the way out
    with pytest.raises(TillShort) as refused:
        services.withdraw(account_id=account.pk, amount=D("10000.00"), actor=teller)
    assert str(refused.value) == (
        "Your till holds ₦5,000.00; ask the vault for a float (Move cash) before paying ₦10,000.00."
    )
    # and nothing is half-written
    assert cash_of(drawer) == D("5000.00")
    assert cash_of(account) == D("1480000.00")
    assert withdrawals() == 1
    # once the vault gives a float, the same withdrawal pays out
    fund_till(branch, teller, "5000.00")
    services.withdraw(account_id=account.pk, amount=D("10000.00"), actor=teller)
    assert cash_of(drawer) == D("0.00")
    assert not any(ledger_discrepancies().values())


def test_an_approved_withdrawal_the_till_cannot_pay_waits_and_another_teller_pays_it_once(
    client, teller, manager, make_staff, branch
):
    # given a ₦520,000 withdrawal asked by a teller whose till holds ₦100,000
    account = make_account(branch, balance="2000000.00")
    drawer = fund_till(branch, teller, "100000.00")
    pending = services.withdraw(
        account_id=account.pk, amount=D("520000.00"), actor=teller, description="Rent"
    )
    # when the manager approves it: the approval stands, nothing is paid, the amount stays held
    decided = decide_approval(request_id=pending.approval_request.pk, actor=manager, decision="APPROVED")
    assert decided.status == ApprovalRequest.Status.APPROVED
    posting = PostingRequest.objects.get()
    assert posting.status == PostingRequest.Status.APPROVED
    account.refresh_from_db()
    assert (account.balance, account.held_amount) == (D("2000000.00"), D("520000.00"))
    assert (cash_of(drawer), withdrawals()) == (D("100000.00"), 0)
    # a redelivered approval callback changes nothing
    approval_actions.on_posting_approved(decided, manager)
    assert withdrawals() == 0

    # then it is in the queue of any teller of the branch
    bayo = make_staff("TELLER", branch)
    client.force_login(bayo)
    page = client.get(reverse("admin:index")).content.decode()
    pay_url = reverse("admin:ledger_postingrequest_pay", args=[posting.pk])
    assert "Withdrawals ready to pay" in page
    assert pay_url in page
    assert "520,000.00" in page
    # an empty till cannot pay it: refused, still waiting
    refused = client.post(pay_url, follow=True).content.decode()
    assert "holds ₦0.00; ask the vault for a float (Move cash) before paying ₦520,000.00" in refused
    assert PostingRequest.objects.get().status == PostingRequest.Status.APPROVED
    # once the vault gives a float, one click pays it from Bayo's till; a second click posts nothing
    bayo_till = fund_till(branch, bayo, "600000.00")
    done = client.post(pay_url, follow=True).content.decode()
    assert "Paid out ₦520,000.00" in done
    client.post(pay_url)
    assert withdrawals() == 1
    posting.refresh_from_db()
    assert posting.status == PostingRequest.Status.POSTED
    assert posting.entry.posted_by == bayo
    assert ApprovalRequest.objects.get().transaction == posting.entry
    account.refresh_from_db()
    assert (account.balance, account.held_amount) == (D("1480000.00"), D("0.00"))
    assert cash_of(bayo_till) == D("80000.00")
    assert (
        "No approved withdrawal is waiting for cash." in client.get(reverse("admin:index")).content.decode()
    )
    assert not any(ledger_discrepancies().values())


def test_only_an_approved_waiting_withdrawal_can_be_paid_out(teller, branch):
    account = make_account(branch, balance="2000000.00")
    pending = services.withdraw(account_id=account.pk, amount=D("520000.00"), actor=teller)
    with pytest.raises(Conflict, match="pending approval, not approved and ready to pay"):
        services.pay_approved_withdrawal(posting_request_id=pending.posting_request.pk, actor=teller)


def test_the_vault_cannot_pay_out_more_than_it_holds(branch):
    # given ₦3,000 of the system's cash (imports, jobs) in the vault and ₦5,000 more paid in by bank
    account = make_account(branch, balance="3000.00")
    services.deposit(account_id=account.pk, amount=D("5000.00"), channel="bank")
    # when the system pays out in cash more than the vault holds, it is refused
    with pytest.raises(TillShort, match=r"^The vault holds ₦3,000.00; .* before paying ₦3,000.01\.$"):
        services.withdraw(account_id=account.pk, amount=D("3000.01"))
    assert cash_of(vault(branch)) == D("3000.00")
    assert cash_of(account) == D("8000.00")
    # the bank pays what the vault cannot
    services.withdraw(account_id=account.pk, amount=D("3000.01"), channel="bank")


def test_moving_more_cash_than_the_vault_holds_is_refused(manager, teller, branch):
    make_account(branch, balance="50000.00")
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    with pytest.raises(TillShort, match="holds only 50000.00"):
        services.move_till_cash(
            from_account_id=vault(branch).pk, to_account_id=drawer.pk, amount=D("50000.01"), actor=manager
        )
    assert (cash_of(vault(branch)), cash_of(drawer)) == (D("50000.00"), D("0.00"))


def test_reversing_a_deposit_whose_cash_was_paid_out_is_refused(teller, accountant, branch):
    saver, spender = make_account(branch), make_account(branch, balance="900.00")
    deposit = services.deposit(account_id=saver.pk, amount=D("500.00"), actor=teller)
    services.withdraw(account_id=spender.pk, amount=D("400.00"), actor=teller)  # paid from the till
    with pytest.raises(TillShort, match="holds ₦100.00"):
        post_reversal(entry_id=deposit.pk, reason="keyed twice", actor=accountant)
    assert not JournalEntry.objects.filter(kind=JournalEntry.Kind.REVERSAL).exists()


def test_a_till_already_below_zero_still_takes_cash_in(teller, branch):
    # old data: a till left negative before the rule; a deposit into it is never refused
    account = make_account(branch, balance="100.00")
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    Account.objects.filter(pk=drawer.pk).update(balance=D("-50.00"))
    services.deposit(account_id=account.pk, amount=D("20.00"), actor=teller)
    assert cash_of(drawer) == D("-30.00")
    with pytest.raises(TillShort, match="holds ₦0.00"):
        services.withdraw(account_id=account.pk, amount=D("1.00"), actor=teller)


# --- where a person meets the refusal ---------------------------------------------------------------


def test_the_api_answers_a_short_till_with_a_409_problem(api_as, teller, branch):
    account = make_account(branch, balance="5000.00")
    response = api_as(teller).post(
        f"/api/v1/accounts/{account.pk}/withdraw/",
        {"amount": "1200.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["title"] == "Not enough cash in the till"
    assert "Your till holds ₦0.00; ask the vault for a float (Move cash)" in problem["detail"]
    assert cash_of(account) == D("5000.00")


def test_the_admin_shows_a_short_till_on_the_form(client, teller, branch):
    account = make_account(branch, balance="5000.00")
    client.force_login(teller)
    url = reverse("admin:ledger_account_withdraw", args=[account.pk])
    confirm = client.post(url, {"amount": "1200", "channel": "cash"})
    token = re.search(r'name="confirmation_token" value="([^"]+)"', confirm.content.decode()).group(1)
    response = client.post(url, {"confirmation_token": token})
    assert response.status_code == 400
    assert "Your till holds ₦0.00; ask the vault for a float (Move cash) before paying ₦1,200.00." in (
        response.content.decode()
    )
    assert cash_of(account) == D("5000.00")


# --- PostgreSQL: two withdrawals from one till at once -----------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_withdrawals_from_one_till_at_once_cannot_together_overdraw_it(
    transactional_roles, make_staff, branch
):
    # given one teller's till holding ₦1,000 and two members each asking for ₦600 at once
    teller = make_staff("TELLER", branch)
    first, second = make_account(branch, balance="1000.00"), make_account(branch, balance="1000.00")
    drawer = fund_till(branch, teller, "1000.00")

    def pay(account):
        return lambda: services.withdraw(account_id=account.pk, amount=D("600.00"), actor=teller)

    # when both post together
    outcomes = run_threads([pay(first), pay(second)])
    # then exactly one posts and the other is refused by the till's cash
    assert sorted(type(o).__name__ for o in outcomes) == ["JournalEntry", "TillShort"]
    assert cash_of(drawer) == D("400.00")
    assert withdrawals() == 1
    assert not any(ledger_discrepancies().values())


def test_tills_of_the_day_flags_a_till_below_zero(client, manager, teller, branch):
    # old data: a till left negative before the rule
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    Account.objects.filter(pk=drawer.pk).update(balance=D("-235744.29"))
    client.force_login(manager)
    text = client.get(reverse("admin:ledger_account_tills")).content.decode()
    assert "below zero" in text


# --- the vault is called "Vault" ---------------------------------------------------------------------


def test_a_branchs_vault_is_named_vault_and_its_type_is_teller_cash(branch):
    account = vault(branch)
    assert (account.name, account.get_type_display()) == ("Vault", "Teller cash")


def test_the_migration_renames_existing_vaults_and_leaves_tills_alone(teller, branch):
    migration = importlib.import_module("ledger.migrations.0010_vault_name")
    old = vault(branch)
    Account.objects.filter(pk=old.pk).update(name="Teller cash")
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    migration.name_the_vaults(apps, None)
    assert Account.objects.get(pk=old.pk).name == "Vault"
    assert Account.objects.get(pk=drawer.pk).name == drawer.name
    migration.unname_the_vaults(apps, None)
    assert Account.objects.get(pk=old.pk).name == "Teller cash"
