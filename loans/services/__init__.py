"""Every change to a loan. One function per use case; keyword-only arguments; each runs in one
transaction, locks the loan row first (loans.lock_objects), checks permission (actor=None is the
system), branch and state, and records a LoanEvent on the loan's timeline.

The money use cases and their one front door each (the safe one: permission, state, limits, the
approval policy where one applies):
- disburse: `disburse_loan` (a `loan_disbursement` band makes it ask for approval; the final
  approver's callback `disbursement.on_disbursement_approved` posts it);
- repay: `record_repayment` (and `reverse_repayment` to undo one); the allocation-and-posting step
  underneath, `repayments._apply_repayment`, is private to this package;
- write off: `write_off_loan` (asks for the `write_off` approval; `writeoff.on_write_off_approved`
  posts it);
- recover: `record_recovery` (money received after a write-off) and `recover_from_guarantors`
  (collect a defaulted loan from its guarantors' savings).
`allocate` and `allocation_order` only compute; they move no money."""

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
from .repayments import allocate, allocation_order, record_repayment, reverse_repayment
from .writeoff import record_recovery, recover_from_guarantors, write_off_loan

__all__ = [
    "add_guarantor",
    "allocate",
    "allocation_order",
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
