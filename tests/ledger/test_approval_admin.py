"""The ledger's approval routing in the admin: the Withdraw / Transfer forms above the policy band,
the decision pages' summaries, approving in the browser, branch scoping; the nightly verification."""

from __future__ import annotations

import importlib
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from approvals.models import ApprovalRequest
from cooperative.models import AuditLog
from ledger import services
from ledger.models import Account, AccountType, JournalEntry, PostingRequest, Transaction
from ledger.tasks import verify_ledger_task
from tests.ledger.factories import fund_till, make_account, make_member

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


def token_from(response) -> str:
    match = re.search(r'name="confirmation_token" value="([^"]+)"', response.content.decode())
    assert match, "the confirmation page carries a one-time token"
    return match.group(1)


def decide_url(approval) -> str:
    return reverse("admin:approvals_approvalrequest_decide", args=[approval.pk])


@pytest.fixture
def rich(branch, teller):
    member = make_member(branch, first_name="Bisi", last_name="Adewale")
    account = make_account(branch, member=member, balance="2000000.00")
    fund_till(branch, teller, "2000000.00")  # the teller's till can pay it all out
    return account


def test_a_large_withdrawal_from_the_admin_is_sent_for_approval(login, teller, rich):
    client = login(teller)
    url = reverse("admin:ledger_account_withdraw", args=[rich.pk])

    # the confirmation page says it needs approval
    confirm = client.post(url, {"amount": "750,000", "channel": "cash", "description": "Rent"})
    page = confirm.content.decode()
    assert "needs a manager&#x27;s approval" in page or "needs a manager's approval" in page
    assert "Yes, send this withdrawal for approval" in page
    token = token_from(confirm)

    # confirming sends it for approval, with a link to the request
    done = client.post(url, {"confirmation_token": token}, follow=True)
    body = done.content.decode()
    approval = ApprovalRequest.objects.get(action_type="withdrawal")
    assert "sent for approval" in body
    assert decide_url(approval) in body
    rich.refresh_from_db()
    assert (rich.balance, rich.held_amount) == (D("2000000.00"), D("750000.00"))
    assert not JournalEntry.objects.filter(kind=JournalEntry.Kind.WITHDRAWAL).exists()

    # a resubmitted confirmation sends nothing again
    again = client.post(url, {"confirmation_token": token}, follow=True)
    assert "Already sent for approval; nothing was sent again." in again.content.decode()
    assert PostingRequest.objects.count() == 1


def test_a_small_withdrawal_from_the_admin_still_posts_at_once(login, teller, rich):
    client = login(teller)
    url = reverse("admin:ledger_account_withdraw", args=[rich.pk])
    confirm = client.post(url, {"amount": "500000", "channel": "cash"})
    assert "Yes, post this withdrawal" in confirm.content.decode()
    done = client.post(url, {"confirmation_token": token_from(confirm)}, follow=True)
    assert "posted" in done.content.decode()
    assert not PostingRequest.objects.exists()
    rich.refresh_from_db()
    assert rich.balance == D("1500000.00")


def test_a_refused_request_shows_on_the_form(login, teller, branch):
    account = make_account(branch, balance="600000.00")
    client = login(teller)
    url = reverse("admin:ledger_account_withdraw", args=[account.pk])
    confirm = client.post(url, {"amount": "550000", "channel": "cash"})
    # meanwhile a pledge takes part of the balance: the amount can no longer be reserved
    services.place_hold(account_id=account.pk, amount=D("100000.00"), reason="Pledge")
    refused = client.post(url, {"confirmation_token": token_from(confirm)})
    assert refused.status_code == 400
    assert "has only 500000.00 free" in refused.content.decode()
    assert not PostingRequest.objects.exists()


def test_a_large_transfer_from_the_admin_is_sent_for_approval(login, teller, rich, branch):
    target = make_account(branch, member=rich.member, account_type=AccountType.SHARES)
    client = login(teller)
    url = reverse("admin:ledger_account_transfer", args=[rich.pk])
    confirm = client.post(url, {"to_account_number": target.account_number, "amount": "1500000"})
    assert "Yes, send this transfer for approval" in confirm.content.decode()
    done = client.post(url, {"confirmation_token": token_from(confirm)}, follow=True)
    assert "sent for approval" in done.content.decode()
    posting = PostingRequest.objects.get()
    assert (posting.kind, posting.to_account) == (PostingRequest.Kind.TRANSFER, target)


def test_the_manager_decides_a_withdrawal_on_its_decision_page(login, teller, manager, rich):
    pending = services.withdraw(account_id=rich.pk, amount=D("750000.00"), actor=teller, description="Rent")
    url = decide_url(pending.approval_request)

    # the page shows what the manager needs to judge it
    page = login(manager).get(url).content.decode()
    for text in (
        "Bisi Adewale",
        rich.account_number,
        "Available balance",
        "₦1,250,000.00",  # available: the amount is reserved
        "Held",
        "Withdrawn today",
        "Seven hundred and fifty thousand naira",
        "Recent movements",
        "Opening deposit",
    ):
        assert text in page, text
    assert 'id="appr-approve"' in page

    # approving in the browser posts it once
    response = login(manager).post(url, {"decision": "APPROVED", "comment": ""}, follow=True)
    assert "The action has been carried out" in response.content.decode()
    rich.refresh_from_db()
    assert (rich.balance, rich.held_amount) == (D("1250000.00"), D("0.00"))
    assert PostingRequest.objects.get().status == PostingRequest.Status.POSTED


def test_the_requester_sees_no_buttons_and_a_forged_approval_is_refused(login, teller, rich):
    pending = services.withdraw(account_id=rich.pk, amount=D("750000.00"), actor=teller)
    url = decide_url(pending.approval_request)
    page = login(teller).get(url).content.decode()
    assert 'id="appr-approve"' not in page
    forged = login(teller).post(url, {"decision": "APPROVED"})
    assert forged.status_code == 403
    rich.refresh_from_db()
    assert rich.balance == D("2000000.00")


def test_another_branchs_manager_cannot_see_or_decide(login, teller, rich, make_staff, other_branch):
    pending = services.withdraw(account_id=rich.pk, amount=D("750000.00"), actor=teller)
    outsider = make_staff("MANAGER", other_branch, email="abuja.manager@test.ng")
    url = decide_url(pending.approval_request)
    assert login(outsider).get(url).status_code == 404
    assert login(outsider).post(url, {"decision": "APPROVED"}).status_code == 404
    assert PostingRequest.objects.get().status == PostingRequest.Status.PENDING


def test_the_reversal_and_closure_decision_pages_show_their_subject(
    login, accountant, manager, manager2, branch
):
    member = make_member(branch, first_name="Chidi", last_name="Okeke")
    funded = make_account(branch, member=member, account_type=AccountType.SHARES, balance="1500.00")
    savings = make_account(branch, member=member)
    entry = Transaction.objects.get(account=funded).entry

    reversal = services.reverse_entry(entry_id=entry.pk, reason="Keyed twice", actor=accountant)
    page = login(manager).get(decide_url(reversal.approval_request)).content.decode()
    for text in (entry.reference, "Keyed twice", "ledger-approval-legs", funded.account_number, "Posted at"):
        assert text in page, text

    closure = services.close_account(
        account_id=funded.pk, reason="Leaving", actor=manager2, sweep_to_account_id=savings.pk
    )
    page = login(manager).get(decide_url(closure.approval_request)).content.decode()
    for text in ("Sweep to", savings.account_number, "Chidi Okeke", "₦1,500.00", "Leaving"):
        assert text in page, text


def test_the_entry_page_links_a_waiting_reversal(login, accountant, branch):
    account = make_account(branch, balance="100.00")
    entry = Transaction.objects.get(account=account).entry
    pending = services.reverse_entry(entry_id=entry.pk, reason="Wrong", actor=accountant)
    page = (
        login(accountant).get(reverse("admin:ledger_journalentry_change", args=[entry.pk])).content.decode()
    )
    assert decide_url(pending.approval_request) in page


def test_the_posting_requests_list_is_read_only_and_branch_scoped(
    login, teller, rich, make_staff, other_branch
):
    services.withdraw(account_id=rich.pk, amount=D("750000.00"), actor=teller)
    changelist = reverse("admin:ledger_postingrequest_changelist")
    admin_user = make_staff("ADMIN", rich.branch, email="boss@test.ng", is_superuser=True)
    assert rich.account_number in login(admin_user).get(changelist).content.decode()
    ours = make_staff("MANAGER", rich.branch, email="ours@test.ng")
    assert rich.account_number in login(ours).get(changelist).content.decode()
    outsider = make_staff("MANAGER", other_branch, email="outsider@test.ng")
    page = login(outsider).get(changelist)
    assert page.status_code == 200
    assert rich.account_number not in page.content.decode()


# --- the nightly verification -----------------------------------------------------------------------


def test_the_nightly_verification_is_a_beat_entry_editable_in_the_admin():
    task = PeriodicTask.objects.get(name="Ledger: nightly verification")
    assert task.task == "ledger.tasks.verify_ledger_task"
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("2", "30", "Africa/Lagos")
    # re-running the migration leaves an edited schedule alone
    task.enabled = False
    task.save()
    importlib.import_module("ledger.migrations.0005_beat_schedule_verify_ledger").create_schedule(apps, None)
    assert PeriodicTask.objects.filter(name="Ledger: nightly verification").count() == 1
    assert not PeriodicTask.objects.get(name="Ledger: nightly verification").enabled


def test_the_task_runs_the_verify_ledger_checks_and_audits_offenders(branch):
    account = make_account(branch, balance="100.00")
    assert verify_ledger_task() == {
        "ok": True,
        "balances": 0,
        "unbalanced_entries": 0,
        "entries_without_legs": 0,
        "system_total": 0,
    }
    assert not AuditLog.objects.filter(detail__check="verify_ledger").exists()

    # a cached balance that no longer matches its legs is reported and audited
    Account.objects.filter(pk=account.pk).update(balance=D("999.00"))
    result = verify_ledger_task()
    assert (result["ok"], result["balances"]) == (False, 1)
    log = AuditLog.objects.get(detail__check="verify_ledger")
    assert log.event == AuditLog.Event.OTHER
    assert log.detail["offenders"]["balances"][0]["account"] == account.account_number
