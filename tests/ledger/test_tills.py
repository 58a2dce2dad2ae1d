"""Tellers' tills: cash at the counter goes through the posting teller's own teller-cash account
(their till) in the member's branch; the branch's vault takes the system's cash; managers move
cash between the vault and the tills. Vault + tills = the branch's teller cash."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from cooperative.exceptions import ValidationFailed
from ledger import services
from ledger.exceptions import InsufficientFunds, NotPermitted
from ledger.models import Account, AccountType, JournalEntry, Side
from ledger.selectors import ledger_discrepancies, till_day_summary
from ledger.services._direct import post_reversal
from tests.factories import BranchFactory
from tests.ledger.factories import make_account, make_member

pytestmark = pytest.mark.django_db
D = Decimal


def vault(branch) -> Account:
    return services.ensure_gl_account(branch_id=branch.pk, gl_code="TELLER_CASH")


def till(branch, teller) -> Account | None:
    return Account.objects.filter(branch=branch, till_teller=teller).first()


def teller_cash_total(branch) -> Decimal:
    return sum(
        (a.balance for a in Account.objects.filter(branch=branch, type=AccountType.TELLER_CASH)), D("0.00")
    )


def counter_leg(entry: JournalEntry):
    return next(leg for leg in entry.legs.all() if leg.account.member_id is None)


def test_a_tellers_first_cash_deposit_opens_their_till_in_the_members_branch(teller, branch):
    account = make_account(branch)
    entry = services.deposit(account_id=account.pk, amount=D("2500.00"), actor=teller)
    drawer = till(branch, teller)
    assert drawer is not None
    assert drawer.type == AccountType.TELLER_CASH
    assert drawer.gl_code == "TELLER_CASH"
    assert drawer.name == f"Till – {teller.get_full_name()}"
    assert drawer.balance == D("2500.00")
    assert counter_leg(entry).account_id == drawer.pk
    assert counter_leg(entry).type == Side.DEBIT
    assert vault(branch).balance == D("0.00")


def test_each_teller_has_their_own_till_and_together_they_are_the_branchs_teller_cash(make_staff, branch):
    ada, bayo = make_staff("TELLER", branch), make_staff("TELLER", branch)
    first, second = make_account(branch), make_account(branch, balance="1000.00")  # via the vault
    services.deposit(account_id=first.pk, amount=D("300.00"), actor=ada)
    services.deposit(account_id=second.pk, amount=D("700.00"), actor=bayo)
    services.withdraw(account_id=second.pk, amount=D("200.00"), actor=bayo)
    assert till(branch, ada).balance == D("300.00")
    assert till(branch, bayo).balance == D("500.00")
    assert vault(branch).balance == D("1000.00")
    assert teller_cash_total(branch) == D("1800.00")
    assert Account.objects.get(pk=first.pk).balance + Account.objects.get(pk=second.pk).balance == D(
        "1800.00"
    )
    assert not any(ledger_discrepancies().values())


def test_a_teller_working_in_two_branches_has_a_till_in_each(make_staff, branch, other_branch):
    teller = make_staff("TELLER", branch)
    teller.branches.add(other_branch)
    services.deposit(account_id=make_account(branch).pk, amount=D("10.00"), actor=teller)
    services.deposit(account_id=make_account(other_branch).pk, amount=D("20.00"), actor=teller)
    assert till(branch, teller).balance == D("10.00")
    assert till(other_branch, teller).balance == D("20.00")


def test_bank_deposits_and_the_systems_cash_do_not_touch_a_till(teller, branch):
    account = make_account(branch)
    services.deposit(account_id=account.pk, amount=D("40.00"), actor=teller, channel="bank")
    services.deposit(account_id=account.pk, amount=D("60.00"))  # a job or import: no teller
    assert till(branch, teller) is None
    assert services.ensure_gl_account(branch_id=branch.pk, gl_code="BANK").balance == D("40.00")
    assert vault(branch).balance == D("60.00")


def test_a_partner_systems_deposit_goes_to_the_vault(make_staff, branch):
    partner = make_staff("PARTNER", branch)
    partner.user_permissions.add(Permission.objects.get(codename="post_transaction"))
    account = make_account(branch)
    services.deposit(account_id=account.pk, amount=D("75.00"), actor=partner)
    assert till(branch, partner) is None
    assert vault(branch).balance == D("75.00")


def test_a_reversal_takes_the_cash_back_out_of_the_same_till(teller, accountant, branch):
    entry = services.deposit(account_id=make_account(branch).pk, amount=D("900.00"), actor=teller)
    post_reversal(entry_id=entry.pk, reason="Counted twice", actor=accountant)
    assert till(branch, teller).balance == D("0.00")
    assert till(branch, accountant) is None


def test_a_loan_repayment_in_cash_lands_in_the_tellers_till(teller, branch):
    assert services.counter_account_id(branch_id=branch.pk, gl_code="TELLER_CASH", actor=teller) == (
        services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk).pk
    )
    assert services.counter_account_id(branch_id=branch.pk, gl_code="TELLER_CASH") == vault(branch).pk
    assert services.counter_account_id(branch_id=branch.pk, gl_code="BANK", actor=teller) == (
        services.ensure_gl_account(branch_id=branch.pk, gl_code="BANK").pk
    )


# --- Moving cash between the vault and the tills -------------------------------------------------


@pytest.fixture
def funded_vault(branch):
    make_account(branch, balance="50000.00")  # the system's deposit fills the vault
    return vault(branch)


def test_a_manager_issues_a_float_and_takes_the_cash_back_at_close(manager, teller, branch, funded_vault):
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    issued = services.move_till_cash(
        from_account_id=funded_vault.pk, to_account_id=drawer.pk, amount=D("20000.00"), actor=manager
    )
    assert issued.kind == JournalEntry.Kind.TILL_TRANSFER
    assert till(branch, teller).balance == D("20000.00")
    assert vault(branch).balance == D("30000.00")
    services.move_till_cash(
        from_account_id=drawer.pk,
        to_account_id=funded_vault.pk,
        amount=D("20000.00"),
        actor=manager,
        description="End of day",
    )
    assert till(branch, teller).balance == D("0.00")
    assert vault(branch).balance == D("50000.00")
    assert not any(ledger_discrepancies().values())


def test_cash_that_is_not_in_the_drawer_cannot_leave_it(manager, teller, branch, funded_vault):
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    with pytest.raises(InsufficientFunds, match="holds only 0.00"):
        services.move_till_cash(
            from_account_id=drawer.pk, to_account_id=funded_vault.pk, amount=D("1.00"), actor=manager
        )
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.TILL_TRANSFER).count() == 0


def test_a_teller_cannot_fill_their_own_till(teller, branch, funded_vault):
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    with pytest.raises(NotPermitted):
        services.move_till_cash(
            from_account_id=funded_vault.pk, to_account_id=drawer.pk, amount=D("10.00"), actor=teller
        )
    assert till(branch, teller).balance == D("0.00")


def test_cash_moves_only_between_teller_cash_of_one_branch(
    manager, teller, branch, other_branch, funded_vault
):
    other_vault = vault(other_branch)
    with pytest.raises(ValidationFailed, match="one branch"):
        services.move_till_cash(
            from_account_id=funded_vault.pk, to_account_id=other_vault.pk, amount=D("10.00"), actor=manager
        )
    savings = make_account(branch)
    with pytest.raises(ValidationFailed, match="not a vault or till"):
        services.move_till_cash(
            from_account_id=funded_vault.pk, to_account_id=savings.pk, amount=D("10.00"), actor=manager
        )
    with pytest.raises(ValidationFailed):
        services.move_till_cash(
            from_account_id=funded_vault.pk, to_account_id=funded_vault.pk, amount=D("10.00"), actor=manager
        )
    assert vault(branch).balance == D("50000.00")


def test_moving_cash_twice_with_one_key_moves_it_once(manager, teller, branch, funded_vault):
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    for _ in range(2):
        services.move_till_cash(
            from_account_id=funded_vault.pk,
            to_account_id=drawer.pk,
            amount=D("500.00"),
            actor=manager,
            idempotency_key="float-1",
        )
    assert till(branch, teller).balance == D("500.00")


# --- The database's own rules ---------------------------------------------------------------------


def test_a_teller_has_one_till_per_branch(teller, branch):
    services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    assert services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk) == till(branch, teller)
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_till(teller, branch, type=AccountType.TELLER_CASH, gl_code="TELLER_CASH")


def test_only_teller_cash_can_be_a_till(teller, branch):
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_till(teller, branch, type=AccountType.BANK, gl_code="BANK")


def _raw_till(teller, branch, **fields) -> Account:
    """An account row written past the services, to reach the database's constraints."""
    return Account.objects.create(
        account_number="9999999991",
        name="Drawer",
        normal_balance=Side.DEBIT,
        till_teller=teller,
        branch=branch,
        **fields,
    )


# --- Why: two tellers' postings no longer wait for one row (PostgreSQL) -------------------------


def _deposit_and_hold(teller, account, started: threading.Event, release: threading.Event):
    try:
        with transaction.atomic():
            services.deposit(account_id=account.pk, amount=D("10.00"), actor=teller)
            started.set()
            release.wait(10)
    finally:
        started.set()
        connection.close()


def _deposit_within(teller, account, seconds: float) -> str:
    """Deposit, giving up when a row lock is not granted within `seconds`."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")
            services.deposit(account_id=account.pk, amount=D("10.00"), actor=teller)
        return "posted"
    except Exception as exc:  # the lock timeout's error is what we look for
        return "timed out" if "lock timeout" in str(exc) else repr(exc)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("same_teller", "expected"), [(False, "posted"), (True, "timed out")])
def test_a_deposit_does_not_wait_for_another_tellers_uncommitted_deposit(
    make_staff, branch, same_teller, expected
):
    # given two tellers of one branch, each with a till, and teller A's deposit not yet committed
    ada, bayo = make_staff("TELLER", branch), make_staff("TELLER", branch)
    first, second = make_account(branch), make_account(branch)
    for teller in (ada, bayo):
        services.deposit(account_id=first.pk, amount=D("1.00"), actor=teller)  # opens the tills
    started, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_deposit_and_hold, args=(ada, first, started, release))
    holder.start()
    try:
        assert started.wait(10)
        # when teller B (or A again, at another counter) deposits into another member's account
        outcome = _deposit_within(ada if same_teller else bayo, second, 1.0)
    finally:
        release.set()
        holder.join(10)
    # then B posts at once; only the same till still waits
    assert outcome == expected
    connection.close()


def test_the_first_deposit_by_the_system_in_a_new_branch_creates_its_vault(branch):
    account = services.open_account(member=make_member(branch), account_type="SAVINGS")
    assert not Account.objects.filter(branch=branch, gl_code="TELLER_CASH").exists()
    services.deposit(account_id=account.pk, amount=D("40.00"))
    assert vault(branch).balance == D("40.00")
    assert vault(branch).till_teller_id is None


# --- The admin: a manager moves cash from the till's page -----------------------------------------


def _admin_url(account, name: str) -> str:
    return reverse(f"admin:ledger_account_{name}", args=[account.pk])


def _token(response) -> str:
    import re

    match = re.search(r'name="confirmation_token" value="([^"]+)"', response.content.decode())
    assert match, "the confirmation page carries a one-time token"
    return match.group(1)


def test_a_manager_moves_cash_from_the_vault_to_a_till_with_a_confirmation_step(
    client, manager, teller, branch, funded_vault
):
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    client.force_login(manager)
    page = client.get(_admin_url(funded_vault, "change")).content.decode()
    assert _admin_url(funded_vault, "till") in page  # the "Move cash" button
    form = client.get(_admin_url(funded_vault, "till")).content.decode()
    assert drawer.account_number in form
    confirm = client.post(
        _admin_url(funded_vault, "till"),
        {"to_account": drawer.pk, "amount": "15,000", "description": "Morning float"},
    )
    text = confirm.content.decode()
    assert "Fifteen thousand naira" in text
    assert drawer.name in text
    assert till(branch, teller).balance == D("0.00")  # nothing moves before confirming
    done = client.post(_admin_url(funded_vault, "till"), {"confirmation_token": _token(confirm)})
    assert done.status_code == 302
    assert till(branch, teller).balance == D("15000.00")
    assert vault(branch).balance == D("35000.00")
    # a second click of the same confirmation moves nothing more
    client.post(_admin_url(funded_vault, "till"), {"confirmation_token": _token(confirm)})
    assert till(branch, teller).balance == D("15000.00")


def test_moving_more_than_the_till_holds_is_a_form_error(client, manager, teller, branch, funded_vault):
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=teller.pk)
    client.force_login(manager)
    confirm = client.post(_admin_url(drawer, "till"), {"to_account": funded_vault.pk, "amount": "10"})
    response = client.post(_admin_url(drawer, "till"), {"confirmation_token": _token(confirm)})
    assert response.status_code == 400
    assert "holds only 0.00" in response.content.decode()
    assert vault(branch).balance == D("50000.00")


def test_tellers_see_their_till_but_cannot_move_cash(client, teller, branch, funded_vault):
    services.deposit(account_id=make_account(branch).pk, amount=D("10.00"), actor=teller)
    drawer = till(branch, teller)
    client.force_login(teller)
    page = client.get(_admin_url(drawer, "change")).content.decode()
    assert "10.00" in page
    assert _admin_url(drawer, "till") not in page
    assert client.get(_admin_url(drawer, "till")).status_code == 403
    # and a till of another branch is not found at all
    outsider = services.ensure_till_account(
        branch_id=BranchFactory(code="KN003", name="Kano").pk, teller_id=teller.pk
    )
    assert client.get(_admin_url(outsider, "change")).status_code in (302, 404)


def test_a_member_account_has_no_move_cash_screen(client, manager, branch):
    savings = make_account(branch)
    client.force_login(manager)
    response = client.get(_admin_url(savings, "till"))
    assert response.status_code == 302


# --- The tills of the day --------------------------------------------------------------------------


def test_the_days_summary_shows_what_each_drawer_should_hold(make_staff, manager, branch, funded_vault):
    # given a vault with 50,000 since before today and a teller who gets a float and serves members
    ada = make_staff("TELLER", branch, first_name="Ada", last_name="Obi")
    drawer = services.ensure_till_account(branch_id=branch.pk, teller_id=ada.pk)
    services.move_till_cash(
        from_account_id=funded_vault.pk, to_account_id=drawer.pk, amount=D("10000.00"), actor=manager
    )
    member = make_account(branch)
    services.deposit(account_id=member.pk, amount=D("2500.00"), actor=ada)
    services.withdraw(account_id=member.pk, amount=D("700.00"), actor=ada)
    # when the manager looks at today
    rows = {row["account"].pk: row for row in till_day_summary(branch_id=branch.pk, day=timezone.localdate())}
    # then the till opened at 0, took in the float and the deposit, paid out the withdrawal
    till_row = rows[drawer.pk]
    assert (till_row["opening"], till_row["cash_in"], till_row["cash_out"], till_row["closing"]) == (
        D("0.00"),
        D("12500.00"),
        D("700.00"),
        D("11800.00"),
    )
    assert till_row["movements"] == 3
    assert till_row["teller"] == ada
    assert rows[funded_vault.pk]["closing"] == D("40000.00")
    # and yesterday nothing had moved yet
    yesterday = {
        row["account"].pk: row
        for row in till_day_summary(branch_id=branch.pk, day=timezone.localdate() - timedelta(days=1))
    }
    assert yesterday[drawer.pk]["closing"] == D("0.00")
    assert yesterday[funded_vault.pk]["closing"] == D("0.00")


def test_the_tills_page_lists_the_branchs_vault_and_tills(client, manager, teller, branch, other_branch):
    services.deposit(account_id=make_account(branch).pk, amount=D("1234.00"), actor=teller)
    services.deposit(account_id=make_account(other_branch).pk, amount=D("999.00"))  # elsewhere
    client.force_login(manager)
    page = client.get(reverse("admin:ledger_account_tills"))
    assert page.status_code == 200
    text = page.content.decode()
    assert till(branch, teller).account_number in text
    assert "1,234.00" in text
    assert vault(other_branch).account_number not in text
    # another branch's id in the address is refused like any other bad choice
    forged = client.get(reverse("admin:ledger_account_tills"), {"branch": other_branch.pk})
    assert vault(other_branch).account_number not in forged.content.decode()
    assert "errornote" in forged.content.decode()
    future = client.get(reverse("admin:ledger_account_tills"), {"branch": branch.pk, "day": "2999-01-01"})
    assert "Choose today or an earlier day." in future.content.decode()
    bad_addresses = (
        {"branch": "not-a-uuid"},
        {"branch": branch.pk, "day": "yesterday"},
        {"day": "2026-13-45"},
    )
    for garbage in bad_addresses:
        response = client.get(reverse("admin:ledger_account_tills"), garbage)
        assert response.status_code == 200
        assert "errornote" in response.content.decode()
        assert till(branch, teller).account_number not in response.content.decode()


def test_the_tills_page_needs_a_view_permission(client, branch, make_staff):
    nobody = make_staff("LOAN_OFFICER", branch)
    nobody.user_permissions.clear()
    nobody.groups.clear()
    client.force_login(nobody)
    assert client.get(reverse("admin:ledger_account_tills")).status_code in (302, 403)
