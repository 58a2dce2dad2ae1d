"""What loans asks the approvals app for, registered in LoansConfig.ready() (which imports this
module once the models are loaded).

- loan_approval: every application (always required; with no policy band, one holder of
  loans.approve_loan decides). Final approval approves the loan, a rejection rejects it, a
  cancellation or expiry returns it to DRAFT.
- loan_disbursement: no default policy, so disbursing needs no approval until an administrator adds
  a band; then the disbursement waits for it and the final approver disburses.
- write_off: a manager asks, another approves (default band: one MANAGER, any amount).
The decision page shows loans.decision_summary for all three.
"""

from __future__ import annotations

from approvals.registry import ActionType, register

from .decision_summary import loan_decision_summary
from .models import LoanProduct
from .services.decisions import (
    LOAN_APPROVAL,
    LOAN_DISBURSEMENT,
    WRITE_OFF,
    on_loan_approved,
    on_loan_rejected,
    on_loan_request_cancelled,
    on_side_request_closed,
)
from .services.disbursement import on_disbursement_approved
from .services.writeoff import on_write_off_approved


def product_choices() -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in LoanProduct.objects.order_by("name").values_list("pk", "name")]


def summary(request, user) -> dict:
    return loan_decision_summary(request=request, user=user)


def register_action_types() -> None:
    register(
        ActionType(
            code=LOAN_APPROVAL,
            label="Loan approval",
            on_approved=on_loan_approved,
            on_rejected=on_loan_rejected,
            on_cancelled=on_loan_request_cancelled,
            summary=summary,
            always_required=True,
            fallback_permission="loans.approve_loan",
            product_choices=product_choices,
        )
    )
    register(
        ActionType(
            code=LOAN_DISBURSEMENT,
            label="Loan disbursement",
            on_approved=on_disbursement_approved,
            on_rejected=on_side_request_closed,
            on_cancelled=on_side_request_closed,
            summary=summary,
            product_choices=product_choices,
        )
    )
    register(
        ActionType(
            code=WRITE_OFF,
            label="Loan write-off",
            on_approved=on_write_off_approved,
            on_rejected=on_side_request_closed,
            on_cancelled=on_side_request_closed,
            summary=summary,
            product_choices=product_choices,
        )
    )
