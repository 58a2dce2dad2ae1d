"""Approval rule violations. Each becomes a 4xx problem in the API and a message in the admin."""

from cooperative.exceptions import Conflict, NotAllowed, NotFoundError, ValidationFailed


class UnknownActionType(ValidationFailed, LookupError):
    title = "Unknown approval type"


class InvalidDecision(ValidationFailed):
    title = "Invalid decision"


class CommentRequired(ValidationFailed):
    title = "Comment required"


class ApprovalRequestNotFound(NotFoundError):
    title = "Approval request not found"


class AlreadyDecided(Conflict):
    """The request is no longer pending (approved, rejected, cancelled or expired)."""

    title = "Already decided"


class DuplicatePendingRequest(Conflict):
    title = "Approval already pending"


class SubjectPendingApproval(Conflict):
    """The subject cannot change while its approval request is pending."""

    title = "Pending approval"


class NotPermitted(NotAllowed):
    """The person may not decide (requester, excluded, wrong role, wrong branch, already voted)."""

    title = "Not permitted"


class SelfApprovalForbidden(NotPermitted):
    title = "Four-eyes rule"


class NotRequester(NotPermitted):
    title = "Not the requester"
