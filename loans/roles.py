"""What each role may do with loans (collected by `bootstrap_roles`).

Four-eyes: the loan officer takes and submits applications; the manager approves and disburses and
may never approve a loan they created or submitted (enforced in loans.services, whatever the role).
"""

_VIEW = [
    "loans.view_loan",
    "loans.view_loanproduct",
    "loans.view_loanschedule",
    "loans.view_loanpayment",
    "loans.view_guarantor",
    "loans.view_loanevent",
    "loans.view_arrearsbucket",
]

ROLE_PERMISSIONS = {
    "LOAN_OFFICER": [
        *_VIEW,
        "loans.add_loan",
        "loans.change_loan",
        "loans.submit_loan",
        "loans.add_guarantor",
        "loans.change_guarantor",
        "loans.delete_guarantor",
    ],
    "MANAGER": [
        *_VIEW,
        "loans.view_portfoliosnapshot",
        "loans.view_endofdayrun",
        "loans.approve_loan",
        "loans.disburse_loan",
        "loans.write_off_loan",
        "loans.recover_from_guarantors",
        "loans.view_loan_reports",
    ],
    "TELLER": [
        "loans.view_loan",
        "loans.view_loanproduct",
        "loans.view_loanschedule",
        "loans.view_loanpayment",
        "loans.record_repayment",
    ],
    "ACCOUNTANT": [
        *_VIEW,
        "loans.view_portfoliosnapshot",
        "loans.view_endofdayrun",
        "loans.reverse_repayment",
        "loans.view_loan_reports",
    ],
    "PARTNER": ["loans.view_loan", "loans.view_loanproduct", "loans.view_loanschedule"],
}
