"""Domain errors. Services raise these; the API turns them into problem-details responses and the
admin into form errors, so neither needs its own try/except per rule."""


class DomainError(Exception):
    """A business rule said no. `status` is the HTTP status the API answers with."""

    status = 400
    title = "Request refused"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field
        self.code = code or self.__class__.__name__

    def __str__(self) -> str:
        return self.message


class ValidationFailed(DomainError):
    status = 400
    title = "Invalid input"


class NotAllowed(DomainError):
    status = 403
    title = "Not allowed"


class NotFoundError(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    """The request clashes with the current state (already decided, duplicate, illegal transition)."""

    status = 409
    title = "Conflict"
