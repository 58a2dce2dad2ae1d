"""The admin in a real browser: the demo teller signs in and lands on their branch dashboard."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import expect

DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent.parent / "docs" / "img" / "admin-dashboard.png"


def test_demo_teller_signs_in_and_sees_their_branch_dashboard(page, demo_staff, admin_login, screenshot):
    # Given the `make run` demo data and the admin login page
    page.goto("/admin/")
    expect(page).to_have_title("Log in | Coopdesk")
    expect(page.locator("#site-name")).to_have_text("Coopdesk")
    # (the test settings switch MFA off, as the demo does, and the login page says so)
    expect(page.locator("#demo-notice")).to_contain_text("Two-factor authentication is switched off")

    # When the teller signs in with email and password
    admin_login(demo_staff["TELLER"])

    # Then the dashboard greets them with their branch and role
    dashboard = page.locator("#coopdesk-dashboard")
    expect(dashboard).to_be_visible()
    expect(dashboard).to_contain_text("Welcome, Tunde")
    expect(page.locator("#dashboard-branches")).to_contain_text("Main Branch (MB001)")
    expect(dashboard).to_contain_text("TELLER")
    expect(page.locator("#dashboard-branches")).not_to_contain_text("Abuja")
    path = screenshot("admin-dashboard")
    if os.environ.get("E2E_UPDATE_DOCS") == "1":  # refreshes the README screenshot
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOT)


def test_wrong_password_keeps_the_teller_on_the_login_page_with_an_error(page, demo_staff):
    # Given the demo teller on the login page
    page.goto("/admin/login/?next=/admin/")

    # When they type a wrong password
    page.fill("#id_username", demo_staff["TELLER"])
    page.fill("#id_password", "not-the-password")
    page.click("#login-form [type=submit]")

    # Then they stay on the login page, see an error, and no dashboard
    expect(page.locator(".errornote").first).to_be_visible()
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#coopdesk-dashboard")).to_have_count(0)
