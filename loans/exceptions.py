"""Loan rule violations. Each is a DomainError: a 4xx problem in the API, a form error in the admin."""

from cooperative.exceptions import Conflict, NotAllowed, NotFoundError, ValidationFailed
from cooperative.workflow import InvalidTransition as WorkflowInvalidTransition


class LoanNotFound(NotFoundError):
    title = "Loan not found"


class InvalidTransition(WorkflowInvalidTransition):
    """The loan is not in a state that allows this step (e.g. disbursing a rejected loan): raised by
    the loan's state machine (loans/workflow.py), a Conflict (409)."""

    title = "Not possible in the loan's current state"


class FourEyesViolation(NotAllowed):
    title = "Four-eyes rule"


class SeparationOfDuties(NotAllowed):
    title = "Separation of duties"


class LoanNotPermitted(NotAllowed):
    title = "Not permitted"


class NotEligible(ValidationFailed):
    title = "Member not eligible"


class GuarantorRefused(ValidationFailed):
    title = "Guarantor refused"


class GuarantorOverCommitted(Conflict):
    title = "Guarantor over-committed"


class RepaymentRefused(ValidationFailed):
    title = "Repayment refused"


class LoanClosed(Conflict):
    title = "Loan closed"
