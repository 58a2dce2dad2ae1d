"""What each role may do with members (collected by `bootstrap_roles`).

PARTNER holds view_member but, having no branch, sees only rows granted to it (branch or guardian
object grant); the scoping lives in `cooperative.permissions`.
"""

ROLE_PERMISSIONS = {
    "TELLER": ["members.view_member", "members.add_member", "members.change_member"],
    "LOAN_OFFICER": ["members.view_member", "members.change_member"],
    "MANAGER": [
        "members.view_member",
        "members.change_member",
        "members.verify_kyc",
        "members.exit_member",
    ],
    "ACCOUNTANT": ["members.view_member"],
    # The credit committee decides loans: it reads the applicant's member record (no changes).
    "CREDIT_COMMITTEE": ["members.view_member"],
    "PARTNER": ["members.view_member"],
}
