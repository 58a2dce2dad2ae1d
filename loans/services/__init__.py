"""Every change to a loan. One function per use case; keyword-only arguments; each runs in one
transaction, locks the loan row first (loans.lock_objects), checks permission (actor=None is the
system), branch and state, and records a LoanEvent on the loan's timeline."""

from .applications import (
    check_product_limits,
    create_application,
    processing_fee_for,
    submit_application,
    update_application,
    withdraw_application,
)
from .decisions import approve_loan, reject_loan
from .disbursement import disburse_loan
from .guarantors import add_guarantor, remove_guarantor
from .repayments import allocate, allocation_order, apply_repayment, record_repayment, reverse_repayment
from .writeoff import record_recovery, recover_from_guarantors, write_off_loan

__all__ = [
    "add_guarantor",
    "allocate",
    "allocation_order",
    "apply_repayment",
    "approve_loan",
    "check_product_limits",
    "create_application",
    "disburse_loan",
    "processing_fee_for",
    "record_recovery",
    "record_repayment",
    "recover_from_guarantors",
    "reject_loan",
    "remove_guarantor",
    "reverse_repayment",
    "submit_application",
    "update_application",
    "withdraw_application",
    "write_off_loan",
]
