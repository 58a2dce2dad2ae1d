"""The cheap approval_required check (cached policy table) and the hourly deadlines job."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from approvals.models import Approval, ApprovalPolicy, ApprovalRequest, Notice
from approvals.selectors import approval_required, requests_awaiting
from approvals.services import decide_approval, handle_timeouts, send_due_reminders
from approvals.tasks import process_approval_deadlines_task
from tests.approvals.factories import TEST_ACTION, calls, make_policy

pytestmark = pytest.mark.django_db
D = Decimal
Status = ApprovalRequest.Status


def required(amount, branch, product=""):
    return approval_required(
        action_type=TEST_ACTION, amount=D(amount), branch_id=branch.pk, product_ref=product
    )


def test_approval_required_follows_policy_changes_once_they_commit(
    branch, django_capture_on_commit_callbacks
):
    # given no band
    assert required("1000000", branch) is False
    # when a band is added (and its transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        policy = make_policy([(["MANAGER"], 1)], low="1000")
    # then
    assert required("1000.00", branch) is False
    assert required("1000.01", branch) is True
    # when the threshold moves
    with django_capture_on_commit_callbacks(execute=True):
        policy.min_amount = D("5000")
        policy.save()
    assert required("4000", branch) is False
    # a branch's own band wins over the global one
    with django_capture_on_commit_callbacks(execute=True):
        make_policy([(["MANAGER"], 1)], low="100", branch=branch)
    assert required("150", branch) is True
    # switched off, the global band applies again
    with django_capture_on_commit_callbacks(execute=True):
        own = ApprovalPolicy.objects.get(branch=branch)
        own.active = False
        own.save()
    assert required("150", branch) is False


def test_approval_required_is_one_cache_round_trip_when_warm(branch, django_assert_num_queries):
    make_policy([(["MANAGER"], 1)], low="1000")
    required("1", branch)  # warm the table
    # No policy query when warm: on Django's database cache (SQLite runs) its get is the one query;
    # on Redis (CI, production) the look-up is no SQL at all.
    from django.conf import settings

    cache_queries = 1 if settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache") else 0
    with django_assert_num_queries(cache_queries):
        assert required("5000", branch) is True


def test_a_table_built_from_old_rows_is_not_taken_as_current(branch, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from approvals import selectors

    make_policy([(["MANAGER"], 1)], low="1000")
    required("1", branch)
    # given a stale table stored under an older version (a rebuild that raced a policy change)
    stale = cache.get(selectors.POLICY_TABLE_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        ApprovalPolicy.objects.update(min_amount=D("9000"))  # no signal...
        selectors.policies_changed()  # ...so bump by hand, as the admin/signals do
    cache.set(selectors.POLICY_TABLE_KEY, stale)
    # then the version check rebuilds it
    assert required("5000", branch) is False


def test_reminders_go_out_once(ask, manager, teller):
    make_policy([(["MANAGER"], 1)], remind_after_hours=4, timeout_after_hours=0)
    request = ask("100.00")
    before = Notice.objects.filter(recipient=manager).count()
    # not yet due
    assert send_due_reminders(now=timezone.now() + timedelta(hours=3)) == 0
    # due: once, however often the job runs
    later = timezone.now() + timedelta(hours=5)
    assert send_due_reminders(now=later) == 1
    assert send_due_reminders(now=later) == 0
    assert Notice.objects.filter(recipient=manager).count() == before + 1
    request.refresh_from_db()
    assert request.reminded_at is not None
    assert handle_timeouts(now=later + timedelta(days=30)) == {"escalated": 0, "expired": 0, "failed": 0}


def test_a_timeout_escalates_once_and_the_escalation_roles_may_then_decide(
    ask, admin_user, make_staff, branch
):
    # given a level only a CREDIT_COMMITTEE member decides, escalating to ACCOUNTANT after 8 hours
    make_policy(
        [(["CREDIT_COMMITTEE"], 1)],
        timeout_after_hours=8,
        on_timeout="ESCALATE",
        escalation_roles=["ACCOUNTANT"],
    )
    chief = make_staff("ACCOUNTANT", branch, email="chief@test.ng")
    request = ask("100.00")
    assert list(requests_awaiting(chief)) == []
    # when the job runs after the timeout, twice
    later = timezone.now() + timedelta(hours=9)
    assert handle_timeouts(now=later) == {"escalated": 1, "expired": 0, "failed": 0}
    assert handle_timeouts(now=later) == {"escalated": 0, "expired": 0, "failed": 0}
    # then the escalation role was told and may decide the current level
    request.refresh_from_db()
    assert request.escalated_at is not None
    assert request.status == Status.PENDING
    assert Notice.objects.filter(recipient=chief, title__startswith="Escalated to you").count() == 1
    assert list(requests_awaiting(chief)) == [request]
    decide_approval(request_id=request.pk, actor=chief, decision="APPROVED")
    assert Approval.objects.get().via_escalation is True
    request.refresh_from_db()
    assert request.status == Status.APPROVED


def test_a_timeout_expires_when_the_policy_says_so(ask, manager, teller):
    make_policy([(["MANAGER"], 1)], timeout_after_hours=48, on_timeout="EXPIRE")
    request = ask("100.00")
    assert handle_timeouts(now=timezone.now() + timedelta(hours=47)) == {
        "escalated": 0,
        "expired": 0,
        "failed": 0,
    }
    counts = handle_timeouts(now=timezone.now() + timedelta(hours=49))
    assert counts == {"escalated": 0, "expired": 1, "failed": 0}
    request.refresh_from_db()
    assert request.status == Status.EXPIRED
    assert request.completed_at is not None
    assert calls == [("cancelled", str(request.pk), None, "nobody decided within 48 hours")]
    assert Notice.objects.filter(recipient=teller, title__startswith="Expired").exists()
    # an expired request cannot be decided
    from approvals.exceptions import AlreadyDecided

    with pytest.raises(AlreadyDecided) as caught:
        decide_approval(request_id=request.pk, actor=manager, decision="APPROVED")
    assert "expired" in str(caught.value)


def test_the_next_level_restarts_the_clock(ask, manager, committee):
    make_policy([(["MANAGER"], 1), (["CREDIT_COMMITTEE"], 1)], remind_after_hours=1, timeout_after_hours=2)
    request = ask("100.00")
    send_due_reminders(now=timezone.now() + timedelta(hours=1, minutes=30))
    request = decide_approval(request_id=request.pk, actor=manager, decision="APPROVED")
    assert request.approval_level == 2
    assert request.reminded_at is None
    assert request.escalated_at is None
    assert request.remind_at > timezone.now() + timedelta(minutes=55)


def test_the_task_runs_the_service_and_is_scheduled_hourly(ask):
    make_policy([(["MANAGER"], 1)], remind_after_hours=0, timeout_after_hours=0)
    ask("100.00")
    assert process_approval_deadlines_task.delay().get() == {
        "reminded": 0,
        "escalated": 0,
        "expired": 0,
        "failed": 0,
    }
    task = PeriodicTask.objects.get(task="approvals.tasks.process_approval_deadlines_task")
    assert task.enabled
    assert task.crontab.hour == "*"
    assert task.crontab.minute == "5"


def test_the_header_badge_is_one_count_query_once_the_users_roles_are_known(
    ask, manager, django_assert_num_queries
):
    from approvals.selectors import awaiting_count, user_roles
    from cooperative.permissions import user_branch_ids

    make_policy([(["MANAGER"], 1)])
    ask("100.00")
    # given what every admin page has loaded already (roles, permissions, branches)
    user_roles(manager)
    manager.get_all_permissions()
    user_branch_ids(manager)
    # then the badge is a single COUNT
    with django_assert_num_queries(1):
        assert awaiting_count(manager) == 1


def test_a_change_is_seen_at_once_inside_its_own_transaction(branch):
    # given a warm table (no band)
    assert required("2000", branch) is False
    # when a band is added and nothing has committed yet
    make_policy([(["MANAGER"], 1)], low="1000")
    # then this transaction already sees it
    assert required("2000", branch) is True
