"""Errors the domain raises when a rule refuses an operation.

The API layer turns them into HTTP answers (404, 409, 422); the CLI prints them. The domain
never builds an HTTP response itself.
"""


class DomainError(Exception):
    def __init__(self, message: str, errors: dict | None = None, **details):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.details = details


class NotFound(DomainError):
    """An id that does not exist."""


class Conflict(DomainError):
    """A rule or stock conflict: the request is well formed but the clinic's rules refuse it."""


class Invalid(DomainError):
    """A field value the rules cannot accept; `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]], message: str | None = None, **details):
        fields = ", ".join(sorted(errors))
        super().__init__(message or f"Invalid value for {fields}.", errors, **details)
