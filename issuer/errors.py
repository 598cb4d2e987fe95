"""The issuer's exception family: every domain failure is an `IssuerError`."""

from __future__ import annotations


class IssuerError(Exception):
    """Base of every error the issuer domain raises; `message` is safe to show to users."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(IssuerError):
    """Input was rejected; `field_errors` maps each bad field to a precise message."""

    def __init__(self, field_errors: dict[str, str]) -> None:
        self.field_errors = dict(field_errors)
        summary = "; ".join(f"{name}: {text}" for name, text in sorted(self.field_errors.items()))
        super().__init__(f"invalid input ({summary})")


class NotFound(IssuerError):
    """The named record does not exist (or is not visible to the caller)."""


class Conflict(IssuerError):
    """The request contradicts the current state of a record (other than a state transition)."""


class IllegalTransition(Conflict):
    """An application or card was asked to move to a state not allowed from its current one."""

    def __init__(self, *, subject: str, current: str, requested: str) -> None:
        self.subject = subject
        self.current = current
        self.requested = requested
        super().__init__(f"{subject} is {current}; it cannot move to {requested}")


class AccessDenied(IssuerError):
    """The caller's credential (applicant token, staff password) was not accepted."""


class AccountLocked(AccessDenied):
    """A staff account is locked after too many failed logins, or deactivated."""


class KeyFileError(IssuerError):
    """The issuer key file is missing fields, malformed, or has unsafe permissions."""
