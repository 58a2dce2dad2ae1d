"""seed_demo: roles, Main Branch MB001 (Lagos), demo staff; idempotent; never a default password."""

import io

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from cooperative.models import Branch, User

pytestmark = pytest.mark.django_db

PASSWORD = "demo-password-for-tests-7"


def seed(**kwargs):
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **kwargs)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    """Rows in every table the project owns (cooperative and the domain apps' seeders)."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in {"cooperative", "members", "ledger", "auth"}
        and model._meta.model_name not in {"auditlog"}
    }


def test_refuses_without_a_password(settings):
    settings.DEMO_PASSWORD = ""
    with pytest.raises(CommandError, match="No demo password"):
        seed()
    assert not User.objects.exists()


def test_creates_main_branch_and_the_demo_staff_with_roles():
    output = seed(password=PASSWORD)
    assert "Demo data is ready." in output
    main = Branch.objects.get(code="MB001")
    assert (main.name, main.city) == ("Main Branch", "Lagos")
    roles = {
        u.email: [g.name for g in u.groups.all()]
        for u in User.objects.filter(email__endswith="@coopdesk.local")
    }
    assert roles["admin@coopdesk.local"] == ["ADMIN"]
    assert roles["manager@coopdesk.local"] == ["MANAGER"]
    assert roles["officer@coopdesk.local"] == ["LOAN_OFFICER"]
    assert roles["teller@coopdesk.local"] == ["TELLER"]
    # approvals need more than one person in a role: a second manager and a credit committee of two
    assert roles["manager2@coopdesk.local"] == ["MANAGER"]
    assert roles["committee1@coopdesk.local"] == ["CREDIT_COMMITTEE"]
    assert roles["committee2@coopdesk.local"] == ["CREDIT_COMMITTEE"]
    assert User.objects.get(email="committee2@coopdesk.local").check_password(PASSWORD)
    teller = User.objects.get(email="teller@coopdesk.local")
    assert teller.check_password(PASSWORD)
    assert teller.is_staff
    assert not teller.is_superuser
    assert list(teller.branches.values_list("code", flat=True)) == ["MB001"]
    assert User.objects.get(email="admin@coopdesk.local").is_superuser


def test_uses_the_configured_password(settings):
    settings.DEMO_PASSWORD = "from-the-environment-9"
    seed()
    assert User.objects.get(email="manager@coopdesk.local").check_password("from-the-environment-9")


def test_running_twice_creates_no_duplicates():
    # given
    seed(password=PASSWORD)
    first = row_counts()
    # when
    seed(password=PASSWORD)
    # then
    assert row_counts() == first


def test_a_second_run_does_not_reset_changed_passwords():
    seed(password=PASSWORD)
    teller = User.objects.get(email="teller@coopdesk.local")
    teller.set_password("changed-by-the-teller-1")
    teller.save()
    seed(password="another-password-2")
    teller.refresh_from_db()
    assert teller.check_password("changed-by-the-teller-1")


def test_demo_teller_can_log_into_the_admin(client):
    seed(password=PASSWORD)
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "teller@coopdesk.local", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "Main Branch (MB001)" in client.get("/admin/").content.decode()
