"""The PostgreSQL concurrency tests' harness, in one place: reference rows a transactional test's flush
empties, the fixtures that put them back, and thread runners that behave like separate requests.

- A `transaction=True` test ends with a flush of every table, which also empties what
  `bootstrap_roles` and the data migrations seeded (role groups, default approval policies, arrears
  buckets, the beat schedules). `restore_reference_data()` puts all of it back (idempotent); the
  fixtures below call it before a test and once after the module, so later modules find the
  session's rows again. Use them with `pytest.mark.usefixtures("transactional_roles")` (roles before
  each test) or `"transactional_reference_data"` (everything before each test).
- Every thread here has its own database connection, closed when its work ends (Django opens one per
  thread; an unclosed one keeps the test database busy and the flush waits on it). An exception a
  thread did not expect is re-raised in the main thread, so a test never passes on a swallowed error.

tests/conftest.py imports the fixtures, so test modules need not.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from approvals.models import ApprovalPolicy
from approvals.selectors import policies_changed
from cooperative.exceptions import DomainError

# (migration module, function) that seed rows a flush removes; each is idempotent.
BEAT_SCHEDULES = (
    ("approvals.migrations.0003_beat_schedule_deadlines", "create_schedule"),
    ("ledger.migrations.0005_beat_schedule_verify_ledger", "create_schedule"),
    ("loans.migrations.0010_beat_schedule_end_of_day", "create_schedule"),
)


def _seed(module: str, function: str) -> None:
    getattr(importlib.import_module(module), function)(apps, None)


def restore_default_policies() -> None:
    """The default approval policies (approvals 0002, 0004); one query when they are there."""
    if not ApprovalPolicy.objects.filter(action_type="reversal").exists():
        _seed("approvals.migrations.0002_default_policies", "create_policies")
        _seed("approvals.migrations.0004_default_deposit_policy", "create_policies")
        policies_changed()


def restore_beat_schedule(module: str) -> None:
    _seed(module, "create_schedule")


def restore_arrears_buckets() -> None:
    _seed("loans.migrations.0002_default_arrears_buckets", "create_buckets")


def restore_reference_data() -> None:
    """Roles, default policies, arrears buckets and every beat schedule, as after `migrate`."""
    call_command("bootstrap_roles", verbosity=0)
    restore_default_policies()
    restore_arrears_buckets()
    for module, _ in BEAT_SCHEDULES:
        restore_beat_schedule(module)


@pytest.fixture(scope="module")
def reference_data_after_module(django_db_blocker):
    """After the module's last (transactional) test: the seeded rows back for the modules after it."""
    yield
    with django_db_blocker.unblock():
        restore_reference_data()


@pytest.fixture
def transactional_roles(transactional_db, reference_data_after_module):
    """A transactional test with the role groups in place (the previous test's flush removed them)."""
    call_command("bootstrap_roles", verbosity=0)


@pytest.fixture
def transactional_reference_data(transactional_db, reference_data_after_module):
    """A transactional test with every seeded row in place (roles, policies, buckets, schedules)."""
    restore_reference_data()


# --- threads ----------------------------------------------------------------------------------------
def closing_connection(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap work run on another thread (a ThreadPoolExecutor's, say): close that thread's database
    connection when the work returns or raises."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return run


def _start_and_join(workers: Sequence[Callable[[], None]]) -> None:
    """Run each worker on its own thread (its connection closed at the end); re-raise the first
    exception any of them raised."""
    failures: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # any failure: re-raised in the main thread below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=guarded, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def run_threads(tasks: Sequence[Callable[[], Any]]) -> list:
    """Start every task at the same moment (a barrier) on its own thread and connection; return what
    each did: its result, or the DomainError it raised. Any other exception is re-raised."""
    barrier = threading.Barrier(len(tasks))
    results: list = [None] * len(tasks)

    def worker(index: int, task: Callable[[], Any]) -> Callable[[], None]:
        def work() -> None:
            barrier.wait()
            try:
                results[index] = task()
            except DomainError as exc:
                results[index] = exc

        return work

    _start_and_join([worker(i, task) for i, task in enumerate(tasks)])
    return results


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def run_concurrently(user, task: Callable[[APIClient, Any], Any], items: Iterable, *, workers: int) -> list:
    """Run `task(client, item)` for every item on `workers` threads, as separate web requests would
    be served: each thread has its own APIClient (authenticated as `user`) and database connection.
    Thread k takes items k, k + workers, ...; results come back in the items' order."""
    items = list(items)
    results: list = [None] * len(items)

    def worker(offset: int) -> Callable[[], None]:
        def work() -> None:
            client = _client_for(user)
            for index in range(offset, len(items), workers):
                results[index] = task(client, items[index])

        return work

    _start_and_join([worker(k) for k in range(workers)])
    return results


def run_as_users(users: Sequence, task: Callable[[APIClient, int], Any]) -> list:
    """Run `task(client, index)` once per user, all at once, each on its own thread with that user's
    own APIClient and connection (two people in two browsers); results in the users' order."""
    results: list = [None] * len(users)

    def worker(index: int) -> Callable[[], None]:
        def work() -> None:
            results[index] = task(_client_for(users[index]), index)

        return work

    _start_and_join([worker(i) for i in range(len(users))])
    return results
