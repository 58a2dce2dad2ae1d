"""Production settings (`check --deploy`), CSP for the admin and Swagger UI, and the OpenAPI schema."""

import os
import re
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command

pytestmark = pytest.mark.django_db

BASE_DIR = Path(settings.BASE_DIR)


def run_manage(*args, **env_overrides):
    """manage.py in a fresh process: settings are read from the environment at import."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", tempfile.gettempdir()),
        "DJANGO_SETTINGS_MODULE": "cooperative.settings.base",
        "DJANGO_READ_DOT_ENV": "false",  # a developer's .env must not change what is checked
        "DATABASE_URL": f"sqlite:///{Path(tempfile.gettempdir()) / 'coopdesk-deploy-check.sqlite3'}",
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_env(**extra):
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "coop.example.ng",
        **extra,
    }


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_is_clean_behind_a_trusted_proxy():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **production_env(TRUSTED_PROXY_HEADER="X-Forwarded-For"),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_debug_the_secret_key_has_no_default():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_security_values_are_read_from_the_environment():
    code = (
        "from django.conf import settings as s; "
        "print(s.AXES_COOLOFF_TIME.total_seconds(), s.AXES_FAILURE_LIMIT, s.REQUIRE_STAFF_MFA, "
        "s.STAFF_SESSION_IDLE_TIMEOUT, s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE)"
    )
    result = run_manage(
        "shell",
        "-c",
        code,
        **production_env(AXES_COOLOFF_MINUTES="7", TRUSTED_PROXY_HEADER="X-Forwarded-For"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [
        "420.0",
        "5",
        "True",
        "900",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "True",
    ]


# --- CSP ---------------------------------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
ASSET_URL = re.compile(r'(?:src|href)="([^"]+)"')


def csp_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_csp_allows_only_our_own_scripts(client):
    policy = csp_of(client.get("/admin/login/"))
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]


def test_swagger_ui_needs_no_inline_script_and_no_third_party_origin(client):
    # when
    response = client.get("/api/docs/")
    # then the page loads, under the CSP, with no inline <script>
    assert response.status_code == 200
    assert "Content-Security-Policy" in response
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html)
    # every asset is ours: same-origin paths, sidecar files that exist in static
    assets = ASSET_URL.findall(html)
    assert assets
    for url in assets:
        assert url.startswith("/"), url
        if url.startswith(settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/static/"):
            assert finders.find(url.split("/static/", 1)[1]), url
    # and the init script comes from our own URL as JavaScript
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


def test_schema_is_served_to_anonymous_callers(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/auth/token/" in response.content


@pytest.mark.parametrize(
    "url",
    [
        "/admin/login/",
        "/admin/",
        "/admin/cooperative/branch/",
        "/admin/cooperative/branch/add/",
        "/admin/cooperative/user/",
        "/admin/cooperative/auditlog/",
    ],
)
def test_admin_pages_have_no_inline_scripts(client, admin_user, url):
    if url != "/admin/login/":
        client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 200
    assert not INLINE_SCRIPT.search(response.content.decode()), url


def test_security_headers_on_admin_pages(client):
    response = client.get("/admin/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


# --- OpenAPI -----------------------------------------------------------------------------------


def test_openapi_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    for path in ("/api/v1/auth/token/", "/api/v1/me/", "/api/v1/branches/", "/api/v1/audit-logs/"):
        assert path in schema
    assert "cookieAuth" in schema
    assert "jwtAuth" in schema
