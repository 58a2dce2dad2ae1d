"""Browser test harness: Playwright (Python) drives Debian's Chromium against pytest-django's live server.

Fixtures for every browser flow (later issues add their tests beside test_admin_login.py):

- ``browser``: one headless Chromium per test module (``/usr/bin/chromium``, or ``CHROMIUM_PATH``).
  Without Chromium the tests are skipped on a developer machine and FAIL when ``CI=true``.
- ``page``: a fresh browser context and page per test, on the live server, with the transactional
  test database; a screenshot lands in ``test-results/e2e/`` when a test fails.
- ``demo_staff``: runs ``seed_demo`` (the same data as ``make run``) and returns ``{role: email}``;
  every demo user has the password ``E2E_PASSWORD``.
- ``admin_login(email, password=E2E_PASSWORD)``: signs in through ``/admin/login/`` and returns the
  page on the dashboard.
- ``screenshot(name)``: saves the current page to ``test-results/e2e/<name>.png`` and returns the path.

Playwright's sync API keeps an asyncio loop running in the test thread, and Django refuses ORM calls
from a thread with a running loop; ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set only while a browser is open.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
E2E_PASSWORD = "e2e-demo-password-2026"
RESULTS_DIR = Path(__file__).resolve().parent.parent.parent / "test-results" / "e2e"
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(config, items):
    """Everything under tests/e2e/ carries the `e2e` marker, so `-m "not e2e"` leaves the browser out."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


_failed_key = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_failed_key] = report.failed
    return report


def _require_chromium() -> None:
    if Path(CHROMIUM_PATH).is_file() and os.access(CHROMIUM_PATH, os.X_OK):
        return
    message = f"Chromium not found at {CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message}; CI must run the browser tests.", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(request, browser, live_server, transactional_db):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}, locale="en-GB"
    )
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        if request.node.stash.get(_failed_key, False):
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(RESULTS_DIR / f"{request.node.name}-failure.png"), full_page=True)
        context.close()


@pytest.fixture
def demo_staff(transactional_db) -> dict[str, str]:
    """The `make run` demo data (branches, role groups, staff, each app's seeders); {role: email}."""
    from cooperative.management.commands.seed_demo import DEMO_STAFF

    call_command("seed_demo", password=E2E_PASSWORD, stdout=io.StringIO())
    return {role: email for email, _first, _last, role, _superuser in DEMO_STAFF}


@pytest.fixture
def admin_login(page):
    """admin_login(email) signs in on /admin/login/ and returns the page showing the dashboard."""

    def login(email: str, password: str = E2E_PASSWORD):
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", email)
        page.fill("#id_password", password)
        page.click("#login-form [type=submit]")
        page.wait_for_selector("#coopdesk-dashboard")
        return page

    return login


@pytest.fixture
def screenshot(page):
    def take(name: str) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="module", autouse=True)
def _roles_survive_flush():
    """A transactional test ends with a flush that empties every table, role groups included, and
    re-creates only content types and permissions (post_migrate). Put the roles back at the same
    moment, so the tests that run after the browser tests on this worker still find them."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    last_app = list(apps.get_app_configs())[-1]

    def restore(sender, **kwargs):
        if sender is last_app:
            call_command("bootstrap_roles", verbosity=0, stdout=io.StringIO())

    post_migrate.connect(restore, weak=False, dispatch_uid="e2e-restore-roles")
    yield
    post_migrate.disconnect(dispatch_uid="e2e-restore-roles")
