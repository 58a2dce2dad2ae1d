"""Role registry. Each app declares what its roles may do in `<app>/roles.py`:

    ROLE_PERMISSIONS = {"TELLER": ["members.view_member", ...], ...}

`bootstrap_roles` collects every app's declarations (autodiscovery), so a new app extends the matrix
without editing a central list. AUDITOR gets every view permission; ADMIN gets every permission.
"""

from __future__ import annotations

import importlib
from collections import defaultdict

from django.apps import apps
from django.utils.module_loading import autodiscover_modules

ADMIN = "ADMIN"
MANAGER = "MANAGER"
LOAN_OFFICER = "LOAN_OFFICER"
TELLER = "TELLER"
ACCOUNTANT = "ACCOUNTANT"
AUDITOR = "AUDITOR"
PARTNER = "PARTNER"
CREDIT_COMMITTEE = "CREDIT_COMMITTEE"
ROLES = (ADMIN, MANAGER, CREDIT_COMMITTEE, LOAN_OFFICER, TELLER, ACCOUNTANT, AUDITOR, PARTNER)

ROLE_DESCRIPTIONS = {
    ADMIN: "Runs the system: users, roles, branches, products, every permission.",
    MANAGER: "Branch or credit manager: approves loans, large withdrawals, closures.",
    CREDIT_COMMITTEE: "Credit committee member: the second approval level of large loans.",
    LOAN_OFFICER: "Takes loan applications, adds guarantors, follows up arrears.",
    TELLER: "Registers members, opens accounts, posts deposits and withdrawals, takes loan applications.",
    ACCOUNTANT: "Reverses postings, reconciles, reads the ledger.",
    AUDITOR: "Reads everything, including the audit log; changes nothing.",
    PARTNER: "A partner system on the API: reads what it is granted.",
}


def declared_role_permissions() -> dict[str, set[str]]:
    """Union of every app's ROLE_PERMISSIONS, keyed by role."""

    autodiscover_modules("roles")
    matrix: dict[str, set[str]] = defaultdict(set)
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.roles")
        except ModuleNotFoundError:
            continue
        for role, perms in getattr(module, "ROLE_PERMISSIONS", {}).items():
            if role not in ROLES:
                raise ValueError(f"{config.name}.roles names unknown role {role!r}")
            matrix[role].update(perms)
    return matrix


# The cooperative app's own declarations (users, branches, audit log).
ROLE_PERMISSIONS = {
    MANAGER: [
        "cooperative.view_branch",
        "cooperative.view_user",
        "cooperative.view_auditlog",
        "cooperative.view_audit_log",
    ],
    CREDIT_COMMITTEE: ["cooperative.view_branch"],
    LOAN_OFFICER: ["cooperative.view_branch"],
    TELLER: ["cooperative.view_branch"],
    ACCOUNTANT: ["cooperative.view_branch", "cooperative.view_user"],
    AUDITOR: ["cooperative.view_all_branches", "cooperative.view_audit_log"],
    PARTNER: ["cooperative.view_branch"],
}
