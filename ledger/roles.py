"""What each role may do in the ledger (collected by `bootstrap_roles`)."""

ROLE_PERMISSIONS = {
    "TELLER": [
        "ledger.view_account",
        "ledger.add_account",
        "ledger.post_transaction",
        "ledger.transfer_funds",
        "ledger.view_transaction",
        "ledger.view_journalentry",
        "ledger.view_hold",
        "ledger.view_postingrequest",
        "ledger.export_statement",
    ],
    "LOAN_OFFICER": ["ledger.view_account", "ledger.view_transaction", "ledger.view_hold"],
    "MANAGER": [
        "ledger.view_account",
        "ledger.add_account",
        "ledger.view_transaction",
        "ledger.view_journalentry",
        "ledger.view_hold",
        "ledger.view_postingrequest",
        "ledger.freeze_account",
        "ledger.close_account",
        "ledger.manage_holds",
        "ledger.manage_tills",
        "ledger.export_statement",
    ],
    "ACCOUNTANT": [
        "ledger.view_account",
        "ledger.view_transaction",
        "ledger.view_journalentry",
        "ledger.view_hold",
        "ledger.view_postingrequest",
        "ledger.reverse_transaction",
        "ledger.export_statement",
    ],
    "PARTNER": ["ledger.view_account", "ledger.view_transaction"],
    # Deciding a loan means reading the applicant's and the guarantors' savings (read-only).
    "CREDIT_COMMITTEE": ["ledger.view_account", "ledger.view_transaction", "ledger.view_hold"],
    # Auditors read everything (every view_* comes automatically) and may take statements away.
    "AUDITOR": ["ledger.export_statement"],
}
