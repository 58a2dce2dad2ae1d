"""What each role may do with loans (collected by `bootstrap_roles`).

Four-eyes: the loan officer, and the teller at the counter (DESIGN §1: branch staff take loan
applications), take and submit applications; the approval policy's levels decide them (a manager, then
the credit committee for large loans), and nobody decides a loan they created or submitted (enforced in
approvals and again in loans.services, whatever the role). The credit committee reads loans and holds
approve_loan so that it may decide the loans it is a level of.
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

_APPLY = [
    "loans.add_loan",
    "loans.change_loan",
    "loans.submit_loan",
    "loans.add_guarantor",
    "loans.change_guarantor",
    "loans.delete_guarantor",
]

ROLE_PERMISSIONS = {
    "LOAN_OFFICER": [*_VIEW, *_APPLY],
    "CREDIT_COMMITTEE": [*_VIEW, "loans.approve_loan", "loans.view_loan_reports"],
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
        "loans.view_guarantor",
        "loans.view_loanevent",
        "loans.record_repayment",
        *_APPLY,
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
