"""The ledger in the admin, as tellers, accountants and auditors use it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from approvals.models import ApprovalRequest
from approvals.services import decide_approval
from cooperative.exceptions import ValidationFailed
from cooperative.models import AuditLog
from ledger import services
from ledger.exceptions import NotPermitted
from ledger.models import Account, AccountType, Hold, JournalEntry, Transaction
from tests.ledger.factories import make_account, make_member

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


def change_url(account) -> str:
    return reverse("admin:ledger_account_change", args=[account.pk])


def action_url(account, name: str) -> str:
    return reverse(f"admin:ledger_account_{name}", args=[account.pk])


def token_from(response) -> str:
    match = re.search(r'name="confirmation_token" value="([^"]+)"', response.content.decode())
    assert match, "the confirmation page carries a one-time token"
    return match.group(1)


# --- lists, filters, scoping ------------------------------------------------------------------------


@pytest.fixture
def books(branch, other_branch):
    ours = make_account(
        branch, member=make_member(branch, first_name="Bisi", last_name="Adewale"), balance="25000.00"
    )
    theirs = make_account(
        other_branch,
        member=make_member(other_branch, first_name="Garba", last_name="Shehu"),
        balance="900.00",
    )
    services.withdraw(account_id=ours.pk, amount=D("1500.00"), description="Market stock")
    services.place_hold(account_id=ours.pk, amount=D("2000.00"), reason="Guarantor pledge")
    return ours, theirs


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("account", ""),
        ("account", "?type__exact=SAVINGS&status__exact=ACTIVE"),
        ("account", "?q=Adewale"),
        ("journalentry", ""),
        ("journalentry", "?amount_range=10k-100k"),
        ("journalentry", "?kind__exact=DEPOSIT&value_date__gte=2000-01-01"),
        ("journalentry", "?legs__reconciliation_status__exact=UNRECONCILED"),
        ("journalentry", "?value_date__year=2026"),
        ("transaction", ""),
        ("transaction", "?amount_range=1k-10k"),
        ("transaction", "?amount_range=1m%2B"),
        ("transaction", "?reconciliation_status__exact=UNRECONCILED&type__exact=DEBIT"),
        ("transaction", "?entry__kind__exact=WITHDRAWAL&created_at__gte=2000-01-01+00%3A00%3A00%2B01%3A00"),
        ("hold", "?status__exact=ACTIVE"),
    ],
)
def test_changelists_render_with_filters(login, admin_user, books, model, query):
    response = login(admin_user).get(reverse(f"admin:ledger_{model}_changelist") + query)
    assert response.status_code == 200
    assert "?e=1" not in response.get("Location", "")


@pytest.mark.parametrize(
    ("model", "hint"),
    [
        ("account", "Account number or member number"),
        ("journalentry", "The full journal reference"),
        ("transaction", "The full reference"),
        ("hold", "The full 10-digit account number"),
    ],
)
def test_each_list_says_what_its_search_box_finds(login, teller, books, model, hint):
    # a teller sees, under the search box, what to type
    response = login(teller).get(reverse(f"admin:ledger_{model}_changelist"))
    assert hint in response.content.decode()


def test_holds_filter_by_branch(login, admin_user, books, branch, other_branch):
    # given a hold in each branch
    ours, theirs = books
    services.place_hold(account_id=theirs.pk, amount=D("100.00"), reason="Pledge")

    # when an admin filters holds by the main branch
    listing = login(admin_user).get(reverse("admin:ledger_hold_changelist"), {"branch": branch.pk})

    # then only that branch's hold is listed
    assert ours.account_number in listing.content.decode()
    assert theirs.account_number not in listing.content.decode()


def test_branch_filter_and_amount_range_narrow_the_list(login, admin_user, books, branch):
    ours, theirs = books
    client = login(admin_user)
    listing = client.get(reverse("admin:ledger_account_changelist") + f"?branch={branch.pk}")
    assert ours.account_number in listing.content.decode()
    assert theirs.account_number not in listing.content.decode()
    ours_ref = Transaction.objects.filter(account=ours).first().reference
    theirs_ref = Transaction.objects.filter(account=theirs).first().reference
    for model in ("transaction", "journalentry"):
        by_branch = client.get(reverse(f"admin:ledger_{model}_changelist") + f"?branch={branch.pk}")
        assert ours_ref in by_branch.content.decode()
        assert theirs_ref not in by_branch.content.decode()
    legs = client.get(
        reverse("admin:ledger_transaction_changelist") + "?amount_range=1k-10k"
    ).content.decode()
    assert "1,500.00" in legs or "1500.00" in legs
    assert "25000.00" not in legs
    assert "25,000.00" not in legs


def test_teller_sees_only_their_branch(login, teller, books):
    ours, theirs = books
    client = login(teller)
    listing = client.get(reverse("admin:ledger_account_changelist")).content.decode()
    assert "Main Branch" in listing
    assert "Abuja Branch" not in listing  # not even as a filter choice
    assert ours.account_number in listing
    assert theirs.account_number not in listing
    assert client.get(change_url(theirs)).status_code == 404
    assert client.get(action_url(theirs, "deposit")).status_code == 404
    assert client.post(action_url(theirs, "deposit"), {"amount": "10", "channel": "cash"}).status_code == 404
    assert client.get(action_url(theirs, "statement")).status_code == 404
    theirs_entry = Transaction.objects.filter(account=theirs).first().entry
    assert client.get(reverse("admin:ledger_journalentry_change", args=[theirs_entry.pk])).status_code == 404
    legs = client.get(reverse("admin:ledger_transaction_changelist")).content.decode()
    assert theirs.account_number not in legs


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("account", {"branch": "zz"}),
        ("transaction", {"created_at__gte": "0001-01-01"}),
        ("transaction", {"branch": "not-a-uuid"}),
        ("journalentry", {"posted_at__gte": "0001-01-01 00:00:00"}),
        ("journalentry", {"value_date__year": "99999999999"}),
    ],
)
def test_hand_edited_list_urls_are_answered_like_djangos_bad_lookups(login, accountant, books, model, params):
    # given an accountant who edits a list URL by hand
    client = login(accountant)

    # when the list is opened with a parameter the database may not be able to use
    response = client.get(reverse(f"admin:ledger_{model}_changelist"), params)

    # then it is a list (PostgreSQL copes with year 1) or Django's "bad filter" redirect (SQLite
    # overflows on it; a malformed id everywhere), never a 500 page
    if response.status_code == 302:
        assert response["Location"].endswith("?e=1")
    else:
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("changelist", "action"),
    [
        ("admin:ledger_journalentry_changelist", "reverse_selected"),
        ("admin:ledger_account_changelist", "close_selected"),
        ("admin:ledger_hold_changelist", "release_selected"),
        ("admin:members_member_changelist", "exit_selected"),
    ],
)
def test_a_tampered_action_post_is_refused_politely(login, admin_user, books, changelist, action):
    # given an admin whose action form was tampered with (ids that are not ids)
    client = login(admin_user)
    entries = JournalEntry.objects.count()

    # when it is posted
    response = client.post(
        reverse(changelist),
        {"action": action, "_selected_action": ["zz", ""], "apply": "yes", "post": "yes", "reason": "x"},
        follow=True,
    )

    # then Django's "select items" message comes back and nothing changed
    assert response.status_code == 200
    assert "Items must be selected" in response.content.decode()
    assert JournalEntry.objects.count() == entries


def test_account_page_shows_money_read_only_and_recent_movements(login, teller, books):
    ours, _ = books
    page = login(teller).get(change_url(ours)).content.decode()
    assert "Last 20 movements" in page
    assert "Market stock" in page
    assert 'name="balance"' not in page
    assert 'name="held_amount"' not in page
    assert "23,500.00" in page or "23500.00" in page
    for button in ("ledger-deposit", "ledger-withdraw", "ledger-transfer", "ledger-statement"):
        assert button in page


def test_editing_product_rules_never_writes_the_balance(login, manager, books):
    # given a manager allowed to change accounts, editing the minimum balance
    from django.contrib.auth.models import Permission

    ours, _ = books
    manager.user_permissions.add(Permission.objects.get(codename="change_account"))
    client = login(manager)
    services.deposit(account_id=ours.pk, amount=D("100.00"))  # posted after the page was loaded
    response = client.post(
        change_url(ours),
        {"name": ours.name, "minimum_balance": "500.00", "daily_withdrawal_limit": "", "balance": "1.00"},
    )
    assert response.status_code == 302
    ours.refresh_from_db()
    assert ours.minimum_balance == D("500.00")
    assert ours.balance == D("23600.00")
    # and the change went through the service: the history names who and what
    latest = ours.history.latest()
    assert latest.history_user == manager
    assert latest.history_change_reason == "Account settings changed: minimum_balance"


def test_account_settings_service_checks_permission_branch_and_fields(make_staff, books, other_branch):
    ours, _ = books
    teller = make_staff("TELLER", ours.branch)  # no change_account
    with pytest.raises(NotPermitted):
        services.update_account_settings(account_id=ours.pk, changes={"name": "X"}, actor=teller)
    elsewhere = make_staff("MANAGER", other_branch)
    elsewhere.user_permissions.add(Permission.objects.get(codename="change_account"))
    with pytest.raises(NotPermitted, match="branch you do not work in"):
        services.update_account_settings(account_id=ours.pk, changes={"name": "X"}, actor=elsewhere)
    with pytest.raises(ValidationFailed, match="not account settings: balance"):
        services.update_account_settings(account_id=ours.pk, changes={"balance": D("1")})
    with pytest.raises(ValidationFailed, match="below zero"):
        services.update_account_settings(account_id=ours.pk, changes={"minimum_balance": D("-1")})
    ours.refresh_from_db()
    assert ours.name != "X"


def test_auditor_sees_no_buttons_and_cannot_post(login, auditor, books):
    ours, _ = books
    client = login(auditor)
    page = client.get(change_url(ours)).content.decode()
    assert "ledger-deposit" not in page
    assert client.get(action_url(ours, "deposit")).status_code == 403
    assert client.post(action_url(ours, "withdraw"), {"amount": "1", "channel": "cash"}).status_code == 403
    assert client.get(action_url(ours, "transfer")).status_code == 403


# --- deposit / withdraw / transfer with confirmation ----------------------------------------------


def test_deposit_end_to_end_with_confirmation_and_no_double_posting(login, teller, branch):
    # given a member's savings account
    account = make_account(branch, member=make_member(branch, first_name="Ngozi", last_name="Eze"))
    client = login(teller)
    entries_before = JournalEntry.objects.count()

    # when the teller fills the form
    form = client.get(action_url(account, "deposit"))
    assert form.status_code == 200
    confirm = client.post(
        action_url(account, "deposit"), {"amount": "1,500.50", "channel": "cash", "description": "Savings"}
    )

    # then a confirmation shows member, account and amount in words; nothing is posted yet
    page = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Ngozi Eze" in page
    assert account.account_number in page
    assert "One thousand five hundred naira and fifty kobo" in page
    assert JournalEntry.objects.count() == entries_before

    # when the teller confirms
    token = token_from(confirm)
    done = client.post(action_url(account, "deposit"), {"confirmation_token": token}, follow=True)

    # then the balance moved, one entry was posted and the message names its reference
    account.refresh_from_db()
    entry = JournalEntry.objects.get(idempotency_key=f"admin:{token}")
    assert account.balance == D("1500.50")
    assert JournalEntry.objects.count() == entries_before + 1
    assert entry.reference in done.content.decode()
    assert entry.posted_by == teller

    # when the same confirmation is submitted again (double click, back button, refresh)
    again = client.post(action_url(account, "deposit"), {"confirmation_token": token}, follow=True)

    # then nothing more is posted
    account.refresh_from_db()
    assert account.balance == D("1500.50")
    assert JournalEntry.objects.count() == entries_before + 1
    assert "nothing was posted again" in again.content.decode()


def test_forged_token_posts_nothing(login, teller, branch):
    account = make_account(branch)
    response = login(teller).post(action_url(account, "deposit"), {"confirmation_token": "made-up"})
    assert response.status_code == 302
    assert not JournalEntry.objects.filter(legs__account=account).exists()


@pytest.mark.parametrize("typed", ["25,000.00", "25 000", "₦25,000", "NGN 25000"])
def test_amounts_typed_with_separators_or_a_naira_sign_read_as_one_figure(login, teller, branch, typed):
    account = make_account(branch)
    confirm = login(teller).post(action_url(account, "deposit"), {"amount": typed, "channel": "cash"})
    assert confirm.status_code == 200
    assert "Twenty-five thousand naira" in confirm.content.decode()
    assert token_from(confirm)


@pytest.mark.parametrize(
    "amount", ["0", "-5", "12.345", "abc", "1000000000000000", "", "25.000,00", "$25,000", "₦-5"]
)
def test_bad_amounts_are_form_errors(login, teller, branch, amount):
    account = make_account(branch)
    response = login(teller).post(action_url(account, "deposit"), {"amount": amount, "channel": "cash"})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert "confirmation_token" not in response.content.decode()


def test_overdraw_is_a_form_error_and_posts_nothing(login, teller, branch):
    account = make_account(branch, balance="1000.00")
    client = login(teller)
    entries = JournalEntry.objects.count()
    confirm = client.post(action_url(account, "withdraw"), {"amount": "1000.01", "channel": "cash"})
    response = client.post(action_url(account, "withdraw"), {"confirmation_token": token_from(confirm)})
    assert response.status_code == 400
    assert "only 1000.00 available" in response.content.decode()
    account.refresh_from_db()
    assert account.balance == D("1000.00")
    assert JournalEntry.objects.count() == entries


def test_frozen_account_refuses_the_posting_with_a_message(login, teller, manager, branch):
    account = make_account(branch, balance="100.00")
    client = login(teller)
    confirm = client.post(action_url(account, "deposit"), {"amount": "50", "channel": "cash"})
    services.freeze_account(account_id=account.pk, reason="Court order", actor=manager)
    response = client.post(action_url(account, "deposit"), {"confirmation_token": token_from(confirm)})
    assert response.status_code == 400
    assert "frozen" in response.content.decode()


def test_transfer_shows_both_parties_and_moves_the_money(login, teller, branch, other_branch):
    source = make_account(branch, balance="5000.00")
    target = make_account(
        other_branch, member=make_member(other_branch, first_name="Yusuf", last_name="Musa")
    )
    client = login(teller)
    confirm = client.post(
        action_url(source, "transfer"), {"to_account_number": target.account_number, "amount": "1200"}
    )
    page = confirm.content.decode()
    assert "Yusuf Musa" in page
    assert "One thousand two hundred naira" in page
    client.post(action_url(source, "transfer"), {"confirmation_token": token_from(confirm)})
    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.balance, target.balance) == (D("3800.00"), D("1200.00"))


def test_transfer_to_unknown_or_same_account_is_a_form_error(login, teller, branch):
    source = make_account(branch, balance="5000.00")
    client = login(teller)
    for number in ("0000000000", source.account_number, "12345abcde"):
        response = client.post(action_url(source, "transfer"), {"to_account_number": number, "amount": "10"})
        assert "errorlist" in response.content.decode()
    assert "confirmation_token" not in response.content.decode()


# --- open account, freeze, statement --------------------------------------------------------------


def test_open_account_through_the_add_page(login, teller, branch):
    member = make_member(branch, first_name="Kemi", last_name="Bello")
    client = login(teller)
    assert client.get(reverse("admin:ledger_account_add")).status_code == 200
    response = client.post(
        reverse("admin:ledger_account_add"), {"member": member.pk, "account_type": "SHARES"}
    )
    account = Account.objects.get(member=member, type="SHARES")
    assert response.status_code == 302
    assert response["Location"] == change_url(account)
    # a second shares account is refused with a form error, not a 500
    again = client.post(reverse("admin:ledger_account_add"), {"member": member.pk, "account_type": "SHARES"})
    assert again.status_code == 200
    assert "already has an open shares account" in again.content.decode()


def test_open_account_cannot_pick_another_branchs_member(login, teller, other_branch):
    stranger = make_member(other_branch)
    response = login(teller).post(
        reverse("admin:ledger_account_add"), {"member": stranger.pk, "account_type": "SAVINGS"}
    )
    assert response.status_code == 200
    assert not Account.objects.filter(member=stranger).exists()


@pytest.mark.parametrize("member", ["zz", "not-a-uuid", "1"])
def test_open_account_with_a_malformed_member_id_is_a_form_error(login, teller, member):
    # given a teller on the open-account page
    client = login(teller)

    # when a tampered or garbled member id comes back
    response = client.post(
        reverse("admin:ledger_account_add"),
        {"member": member, "account_type": "ZZ", "minimum_balance": "1e30", "daily_withdrawal_limit": "-1"},
    )

    # then the form is shown again with errors, not a server error, and nothing is opened
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Account.objects.filter(member__isnull=False).exists()


def test_freeze_and_unfreeze_actions_ask_for_a_reason(login, manager, branch):
    account = make_account(branch)
    client = login(manager)
    changelist = reverse("admin:ledger_account_changelist")
    ask = client.post(changelist, {"action": "freeze_selected", "_selected_action": [account.pk]})
    assert ask.status_code == 200
    assert "reason" in ask.content.decode()
    account.refresh_from_db()
    assert account.status == Account.Status.ACTIVE
    client.post(
        changelist,
        {
            "action": "freeze_selected",
            "_selected_action": [account.pk],
            "apply": "yes",
            "reason": "Suspected fraud",
        },
    )
    account.refresh_from_db()
    assert (account.status, account.status_reason) == (Account.Status.FROZEN, "Suspected fraud")
    client.post(
        changelist,
        {
            "action": "unfreeze_selected",
            "_selected_action": [account.pk],
            "apply": "yes",
            "reason": "Cleared",
        },
    )
    account.refresh_from_db()
    assert account.status == Account.Status.ACTIVE


def test_manager_closes_accounts_with_a_reason_and_sweeps_money_out(login, manager, make_staff, branch):
    # given an empty account, one with money, and the member's other account to receive it
    member = make_member(branch)
    empty = make_account(branch, member=member, account_type=AccountType.CASH)
    funded = make_account(branch, member=member, account_type=AccountType.SHARES, balance="1500.00")
    savings = make_account(branch, member=member, balance="100.00")
    client = login(manager)
    changelist = reverse("admin:ledger_account_changelist")

    # when the manager picks "Close" for both, the confirmation page asks for a reason and a sweep
    ask = client.post(changelist, {"action": "close_selected", "_selected_action": [empty.pk, funded.pk]})
    assert ask.status_code == 200
    assert "Sweep the balance to account" in ask.content.decode()
    # and confirms without a sweep account
    client.post(
        changelist,
        {
            "action": "close_selected",
            "_selected_action": [empty.pk, funded.pk],
            "apply": "yes",
            "reason": "Member request",
        },
    )

    # then the empty one is closed and the one with money is refused, naming what is missing
    empty.refresh_from_db()
    funded.refresh_from_db()
    assert (empty.status, empty.status_reason) == (Account.Status.CLOSED, "Member request")
    assert funded.status == Account.Status.ACTIVE

    # when it is confirmed again with the savings account to sweep to
    response = client.post(
        changelist,
        {
            "action": "close_selected",
            "_selected_action": [funded.pk],
            "apply": "yes",
            "reason": "Member request",
            "sweep_to_account_number": savings.account_number,
        },
        follow=True,
    )

    # then, as it still holds money, the closure waits for a second manager's approval
    assert "Closure of " + funded.account_number + " sent for approval" in response.content.decode()
    funded.refresh_from_db()
    assert (funded.status, funded.balance) == (Account.Status.ACTIVE, D("1500.00"))
    waiting = ApprovalRequest.objects.get(action_type="account_closure", object_id=str(funded.pk))

    # when another manager approves it
    decide_approval(
        request_id=waiting.pk, actor=make_staff("MANAGER", branch, email="m2@test.ng"), decision="APPROVED"
    )

    # then the money moved in one entry and the account is closed
    funded.refresh_from_db()
    savings.refresh_from_db()
    assert (funded.status, funded.balance) == (Account.Status.CLOSED, D("0.00"))
    assert savings.balance == D("1600.00")
    waiting.refresh_from_db()
    assert waiting.transaction.kind == JournalEntry.Kind.SWEEP


def test_close_action_form_errors_and_permission(login, manager, teller, branch):
    account = make_account(branch)
    changelist = reverse("admin:ledger_account_changelist")
    # a bad sweep account number is shown on the confirmation page, nothing is closed
    page = login(manager).post(
        changelist,
        {
            "action": "close_selected",
            "_selected_action": [account.pk],
            "apply": "yes",
            "reason": "x",
            "sweep_to_account_number": "12345abcde",
        },
    )
    assert page.status_code == 200
    assert "Account numbers are 10 digits." in page.content.decode()
    # a teller has no close action at all
    login(teller).post(
        changelist,
        {"action": "close_selected", "_selected_action": [account.pk], "apply": "yes", "reason": "x"},
    )
    account.refresh_from_db()
    assert account.status == Account.Status.ACTIVE


def test_teller_has_no_freeze_action(login, teller, branch):
    account = make_account(branch)
    login(teller).post(
        reverse("admin:ledger_account_changelist"),
        {"action": "freeze_selected", "_selected_action": [account.pk], "apply": "yes", "reason": "x"},
    )
    account.refresh_from_db()
    assert account.status == Account.Status.ACTIVE


def test_statement_download_from_the_account_page_is_audited(login, teller, branch):
    account = make_account(branch, balance="700.00")
    client = login(teller)
    assert client.get(action_url(account, "statement")).status_code == 200
    response = client.get(
        action_url(account, "statement") + "?date_from=2020-01-01&date_to=2100-01-01&format=csv"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert b"700.00" in b"".join(response.streaming_content)
    assert AuditLog.objects.filter(event=AuditLog.Event.EXPORT, user=teller).count() == 1
    bad = client.get(action_url(account, "statement") + "?date_from=2026-02-01&date_to=2026-01-01&format=pdf")
    assert bad.status_code == 200
    assert "before the start date" in bad.content.decode()


def test_statement_download_for_extreme_dates_is_the_whole_history(login, teller, branch):
    # given an account with money and a teller who types the widest dates the date picker allows
    account = make_account(branch, balance="700.00")

    # when the CSV is downloaded
    response = login(teller).get(
        action_url(account, "statement") + "?date_from=0001-01-01&date_to=9999-12-31&format=csv"
    )

    # then it is a file with the balance, not a server error
    assert response.status_code == 200
    assert b"700.00" in b"".join(response.streaming_content)


def test_statement_download_needs_the_export_permission(login, make_staff, branch):
    account = make_account(branch)
    officer = make_staff("LOAN_OFFICER", branch)
    assert login(officer).get(action_url(account, "statement")).status_code == 403


# --- immutability and reversal --------------------------------------------------------------------


@pytest.mark.parametrize("model", ["journalentry", "transaction"])
def test_postings_cannot_be_added_changed_or_deleted_even_by_a_superuser(login, admin_user, branch, model):
    account = make_account(branch, balance="100.00")
    leg = Transaction.objects.filter(account=account).first()
    obj = leg.entry if model == "journalentry" else leg
    client = login(admin_user)
    assert client.get(reverse(f"admin:ledger_{model}_add")).status_code == 403
    assert client.post(reverse(f"admin:ledger_{model}_add"), {}).status_code == 403
    page = client.get(reverse(f"admin:ledger_{model}_change", args=[obj.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert (
        client.post(reverse(f"admin:ledger_{model}_change", args=[obj.pk]), {"amount": "1"}).status_code
        == 403
    )
    assert (
        client.post(reverse(f"admin:ledger_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code
        == 403
    )
    account.refresh_from_db()
    assert account.balance == D("100.00")


def test_entry_page_shows_its_legs(login, accountant, branch):
    account = make_account(branch, balance="100.00")
    entry = Transaction.objects.get(account=account).entry
    page = (
        login(accountant).get(reverse("admin:ledger_journalentry_change", args=[entry.pk])).content.decode()
    )
    assert account.account_number in page
    assert "Vault" in page  # the system's cash went into the branch's vault
    assert "ledger-reverse" in page


def test_entry_page_keeps_another_branchs_balance_private(login, teller, admin_user, branch, other_branch):
    # given a transfer from a member here to a member of another branch
    ours = make_account(branch, balance="5000.00")
    theirs = make_account(other_branch, balance="777.00")
    entry = services.transfer(
        from_account_id=ours.pk, to_account_id=theirs.pk, amount=D("1000.00"), description="Rent"
    )
    url = reverse("admin:ledger_journalentry_change", args=[entry.pk])

    # when the teller opens the entry, then both legs are listed but only our balance is shown
    page = login(teller).get(url).content.decode()
    assert ours.account_number in page
    assert theirs.account_number in page
    assert "4,000.00" in page or "4000.00" in page
    assert "1,777.00" not in page
    assert "1777.00" not in page

    # and an admin who sees every branch sees both balances
    page = login(admin_user).get(url).content.decode()
    assert "1,777.00" in page or "1777.00" in page


def _approve(action_type: str, subject, approver) -> ApprovalRequest:
    waiting = ApprovalRequest.objects.get(
        action_type=action_type, object_id=str(subject.pk), status="PENDING"
    )
    return decide_approval(request_id=waiting.pk, actor=approver, decision="APPROVED")


def test_reverse_from_the_entry_page(login, accountant, manager, branch):
    account = make_account(branch, balance="2500.00")
    entry = Transaction.objects.get(account=account).entry
    client = login(accountant)
    url = reverse("admin:ledger_journalentry_reverse", args=[entry.pk])
    assert client.get(url).status_code == 200
    missing_reason = client.post(url, {"reason": "  "})
    assert missing_reason.status_code == 200
    assert not JournalEntry.objects.filter(reverses=entry).exists()
    # every reversal waits for a manager's approval: nothing is posted yet
    sent = client.post(url, {"reason": "Wrong member"}, follow=True)
    assert f"Reversal of {entry.reference} sent for approval" in sent.content.decode()
    assert not JournalEntry.objects.filter(reverses=entry).exists()
    # the entry page offers no second Reverse, only the waiting request
    page = client.get(reverse("admin:ledger_journalentry_change", args=[entry.pk])).content.decode()
    assert "ledger-reversal-waiting" in page
    assert 'class="ledger-reverse"' not in page
    # a second request while the first waits is refused as a form error
    twice = client.post(url, {"reason": "Again"})
    assert twice.status_code == 200
    assert "waiting for approval" in twice.content.decode()
    # once a manager approves, the mirror is posted with the requester's reason
    _approve("reversal", entry, manager)
    mirror = JournalEntry.objects.get(reverses=entry)
    assert (mirror.reversal_reason, mirror.posted_by) == ("Wrong member", accountant)
    account.refresh_from_db()
    assert account.balance == D("0.00")
    # a second reversal is refused as a form error
    again = client.post(url, {"reason": "Again"})
    assert again.status_code == 200
    assert "already been reversed" in again.content.decode()


def test_reverse_action_on_the_entry_list(login, accountant, manager, branch):
    account = make_account(branch, balance="800.00")
    entry = Transaction.objects.get(account=account).entry
    client = login(accountant)
    changelist = reverse("admin:ledger_journalentry_changelist")
    confirm = client.post(changelist, {"action": "reverse_selected", "_selected_action": [entry.pk]})
    assert confirm.status_code == 200
    assert entry.reference in confirm.content.decode()
    assert not JournalEntry.objects.filter(reverses=entry).exists()
    sent = client.post(
        changelist,
        {"action": "reverse_selected", "_selected_action": [entry.pk], "apply": "yes", "reason": "Duplicate"},
        follow=True,
    )
    assert f"Reversal of {entry.reference} sent for approval" in sent.content.decode()
    assert not JournalEntry.objects.filter(reverses=entry).exists()
    _approve("reversal", entry, manager)
    assert JournalEntry.objects.filter(reverses=entry, reversal_reason="Duplicate").exists()


def test_reverse_needs_the_permission(login, teller, branch):
    account = make_account(branch, balance="800.00")
    entry = Transaction.objects.get(account=account).entry
    client = login(teller)
    assert client.get(reverse("admin:ledger_journalentry_reverse", args=[entry.pk])).status_code == 403
    client.post(
        reverse("admin:ledger_journalentry_changelist"),
        {"action": "reverse_selected", "_selected_action": [entry.pk], "apply": "yes", "reason": "x"},
    )
    assert not JournalEntry.objects.filter(reverses=entry).exists()
    assert not ApprovalRequest.objects.filter(action_type="reversal").exists()


def test_reverse_action_from_the_leg_list(login, accountant, manager, branch):
    account = make_account(branch, balance="300.00")
    leg = Transaction.objects.get(account=account)
    login(accountant).post(
        reverse("admin:ledger_transaction_changelist"),
        {
            "action": "reverse_selected",
            "_selected_action": [leg.pk],
            "apply": "yes",
            "reason": "Test posting",
        },
    )
    account.refresh_from_db()
    assert account.balance == D("300.00")  # waiting for approval
    _approve("reversal", leg.entry, manager)
    account.refresh_from_db()
    assert account.balance == D("0.00")


def test_release_hold_action(login, manager, teller, branch):
    account = make_account(branch, balance="1000.00")
    hold = services.place_hold(account_id=account.pk, amount=D("400.00"), reason="Pledge")
    changelist = reverse("admin:ledger_hold_changelist")
    login(teller).post(changelist, {"action": "release_selected", "_selected_action": [hold.pk]})
    hold.refresh_from_db()
    assert hold.status == Hold.Status.ACTIVE
    login(manager).post(changelist, {"action": "release_selected", "_selected_action": [hold.pk]})
    hold.refresh_from_db()
    account.refresh_from_db()
    assert hold.status == Hold.Status.RELEASED
    assert account.held_amount == D("0.00")


# --- dashboard ------------------------------------------------------------------------------------


def test_teller_dashboard_shows_today_at_their_branch(login, teller, branch, other_branch):
    ours = make_account(branch, balance="1000.00")
    services.withdraw(account_id=ours.pk, amount=D("250.00"))
    make_account(other_branch, balance="999999.00")  # another branch's deposit does not count
    page = login(teller).get(reverse("admin:index")).content.decode()
    assert "Today at your branch" in page
    widget = page[page.index("Today at your branch") :]
    assert "1,000.00" in widget
    assert "250.00" in widget
    assert "999,999.00" not in widget
