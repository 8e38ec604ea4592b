"""Errors the domain raises when a rule refuses an operation.

The boundaries turn them into answers: the JSON API and the pages with the status code each
kind names (404, 409, 422), the CLI by printing them. The domain never builds a response.
"""


class DomainError(Exception):
    status = 400  # the HTTP status a boundary answers; each kind below names its own

    def __init__(self, message: str, errors: dict | None = None, **details):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.details = details


class NotFound(DomainError):
    """An id that does not exist."""

    status = 404


class Conflict(DomainError):
    """A rule or stock conflict: the request is well formed but the clinic's rules refuse it."""

    status = 409


class Invalid(DomainError):
    """A field value the rules cannot accept; `errors` maps each field to its messages."""

    status = 422

    def __init__(self, errors: dict[str, list[str]], message: str | None = None, **details):
        fields = ", ".join(sorted(errors))
        super().__init__(message or f"Invalid value for {fields}.", errors, **details)


class SignInRefused(DomainError):
    """Unknown username or wrong password (the caller does not learn which)."""

    status = 401


class TooManyAttempts(DomainError):
    """A brake on guessing: too many recent failed sign-ins."""

    status = 429


class Forbidden(DomainError):
    """The user may not touch this record: another site's stock, for one."""

    status = 403
