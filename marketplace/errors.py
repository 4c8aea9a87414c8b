"""Domain errors: every rule a service enforces fails with a named error and a stable code.

The web layer flashes ``message``; the JSON API turns the error into an
``application/problem+json`` body whose ``code`` is the stable machine-readable ``code`` here.

**A domain error fails its unit of work**, whoever catches it. Inside a unit that watches
(:func:`watch_failures`; every web request does, see :mod:`marketplace.db`), each domain error
raised is noted, and the unit rolls back if any was — also when a view caught it
and answered with a redirect, so no view ever rolls back by hand. Code that deliberately
recovers from one (a race that resolved itself, a row refused inside its own savepoint) says
so with :meth:`DomainError.recovered`, and the unit may still commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

#: The domain errors raised in the current unit of work; None outside one that watches.
_raised: ContextVar[list[DomainError] | None] = ContextVar("domain_errors_raised", default=None)


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
        self.is_recovered = False
        raised = _raised.get()
        if raised is not None:
            raised.append(self)

    def recovered(self) -> None:
        """The catcher recovers from this error as part of a successful outcome: it does not
        fail the unit of work (see the module docstring)."""
        self.is_recovered = True


class FailureWatch:
    """Notes the domain errors raised from now on in this context, until :meth:`close`."""

    def __init__(self) -> None:
        self._raised: list[DomainError] = []
        self._token = _raised.set(self._raised)

    @property
    def unrecovered(self) -> list[DomainError]:
        # Errors are noted when made; only those that were raised count (an error prepared
        # before a check, to be raised if it fails, has no traceback).
        return [
            error
            for error in self._raised
            if error.__traceback__ is not None and not error.is_recovered
        ]

    @property
    def failed(self) -> bool:
        """Whether an error was raised that nobody recovered from: the unit must roll back."""
        return bool(self.unrecovered)

    def close(self) -> None:
        try:
            _raised.reset(self._token)
        except ValueError:  # closed from another context than it was opened in
            _raised.set(None)


@contextmanager
def watch_failures() -> Iterator[FailureWatch]:
    """Watch the block (an outer watch, if any, resumes afterwards)."""
    watch = FailureWatch()
    try:
        yield watch
    finally:
        watch.close()


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


class ReasonRequired(DomainError):
    """A decision that must say why (a refusal, a suspension, a revocation …) came without."""

    code = "reason_required"
    status = 422
    title = "A reason is required"


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


class InvalidSecondFactor(DomainError):
    code = "invalid_second_factor"
    status = 401
    title = "Wrong or already used code"


class InvalidResetLink(DomainError):
    code = "invalid_reset_link"
    status = 400
    title = "The password-reset link is not valid"


class PreconditionFailed(DomainError):
    code = "precondition_failed"
    status = 412
    title = "The resource changed since you read it"
