"""Domain errors: every rule a service enforces fails with a named error and a stable code.

The web layer flashes ``message``; the JSON API turns the error into an
``application/problem+json`` body whose ``code`` is the stable machine-readable ``code`` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every rule violation. Subclasses set ``code`` and ``status``."""

    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 409
    title: ClassVar[str] = "The request breaks a rule of the platform"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = dict(extra or {})


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class PermissionDenied(DomainError):
    code = "forbidden"
    status = 403
    title = "Not allowed"


class ValidationFailed(DomainError):
    """Input that is well-formed but unacceptable; ``errors`` maps fields to messages."""

    code = "validation_failed"
    status = 422
    title = "The input is not valid"

    def __init__(self, message: str, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = dict(errors or {})


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "Conflicts with the current state"


class DuplicateRegistration(Conflict):
    code = "duplicate_registration"
    title = "Already registered"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401
    title = "Wrong e-mail or password"


class PreconditionFailed(DomainError):
    code = "precondition_failed"
    status = 412
    title = "The resource changed since you read it"
