"""Who may do what with approvals (collected by `bootstrap_roles`).

Deciding is not a permission: the policy's levels name the roles that decide, and the service checks
them (with the branch and the four-eyes rule). These permissions are about reading: deciders and
auditors see every request of their branches; requesters see their own (and any they may decide).
ADMIN holds everything (and edits the policies); AUDITOR gets every view permission.
"""

_REQUESTER = ["approvals.view_approvalrequest", "approvals.view_approval"]
_DECIDER = [*_REQUESTER, "approvals.view_branch_approvals", "approvals.view_approvalpolicy"]

ROLE_PERMISSIONS = {
    "MANAGER": _DECIDER,
    "CREDIT_COMMITTEE": _DECIDER,
    "LOAN_OFFICER": _REQUESTER,
    "TELLER": _REQUESTER,
    "ACCOUNTANT": _REQUESTER,
}
