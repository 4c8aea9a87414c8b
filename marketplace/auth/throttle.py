"""Per-account sign-in throttling, beside the per-address limits.

Per-address limits alone let a botnet guess one account from many addresses, and behind a
proxy (without ``TRUSTED_PROXIES``) they let one person lock everyone out. So failures are also
counted per account (keyed on a hash of the submitted e-mail, whether or not an account uses
it, so the answers cannot tell accounts apart):

* the first ``FREE_FAILURES`` failures cost nothing; each later one makes the next attempt
  wait twice as long (2, 4, 8 … up to 60 seconds);
* ``LOCK_AFTER`` failures within ``FAILURE_WINDOW`` lock the account's sign-in for
  ``LOCK_SECONDS``; the owner is told by e-mail, so they know and can reset their password;
* a successful sign-in clears the count.

Attempts made while waiting or locked are refused before the password is checked (they cost
the attacker a request, not the server an argon2 hash). Counts live in the rate-limit storage:
Redis when ``REDIS_URL`` is set (shared by every worker), memory otherwise.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import g
from limits.storage import Storage, storage_from_string
from sqlalchemy.orm import Session

from marketplace import jobs
from marketplace.auth.models import User
from marketplace.notifications import notify

log = logging.getLogger(__name__)
FREE_FAILURES = 3
MAX_DELAY_SECONDS = 60
LOCK_AFTER = 10
FAILURE_WINDOW = 15 * 60
LOCK_SECONDS = 15 * 60
#: The job that tells an account's owner their sign-in was locked.
LOCKED_NOTICE_JOB = "marketplace.auth.throttle.tell_owner"


def _redis_errors(storage_uri: str) -> tuple[type[Exception], ...]:
    if not storage_uri.startswith(("redis", "rediss")):
        return ()
    from redis.exceptions import RedisError

    return (RedisError,)


class LoginThrottle:
    def __init__(self, storage_uri: str, *, clock: Callable[[], float] = time.time) -> None:
        storage = storage_from_string(storage_uri)
        assert isinstance(storage, Storage)  # a synchronous storage (not limits.aio)
        self.storage = storage
        #: What "the storage is unreachable" raises: OSError, and RedisError when it is Redis
        #: (imported only then: a worker without Redis does not load the client).
        self.unreachable: tuple[type[Exception], ...] = (OSError, *_redis_errors(storage_uri))
        #: Where counts go while Redis is unreachable: this process's memory, as the rate
        #: limits do (README, "Faults"): sign-in keeps working and stays throttled per worker.
        self.fallback: Storage = storage_from_string("memory://")  # type: ignore[assignment]
        #: Seconds since the epoch; tests replace it to let time pass without sleeping.
        self.clock = clock

    def _call(self, operation: str, *args: Any) -> Any:
        try:
            return getattr(self.storage, operation)(*args)
        except self.unreachable:
            log.warning("sign-in throttle storage unreachable; counting in memory")
            return getattr(self.fallback, operation)(*args)

    @staticmethod
    def _key(kind: str, email: str) -> str:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return f"vm:login:{kind}:{digest}"

    def _until(self, kind: str, email: str) -> int:
        return int(self._call("get", self._key(kind, email)))

    def _set_until(self, kind: str, email: str, until: int, lifetime: int) -> None:
        key = self._key(kind, email)
        self._call("clear", key)
        self._call("incr", key, lifetime, until)

    def wait_seconds(self, email: str) -> int:
        """How long until this account may try again (0: now)."""
        now = int(self.clock())
        until = max(self._until("lock", email), self._until("delay", email))
        return max(0, until - now)

    def is_locked(self, email: str) -> bool:
        return self._until("lock", email) > int(self.clock())

    def failed(self, email: str) -> bool:
        """Count a failure; True when it locked the account (the owner should be told)."""
        failures = int(self._call("incr", self._key("fail", email), FAILURE_WINDOW))
        now = int(self.clock())
        if failures >= LOCK_AFTER:
            self._call("clear", self._key("fail", email))
            self._set_until("lock", email, now + LOCK_SECONDS, LOCK_SECONDS * 2)
            return True
        if failures > FREE_FAILURES:
            delay = min(2 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS)
            self._set_until("delay", email, now + delay, delay * 2 + 60)
        return False

    def succeeded(self, email: str) -> None:
        for kind in ("fail", "delay"):
            self._call("clear", self._key(kind, email))


def count_failure(throttle: LoginThrottle, email: str) -> None:
    """Count a failed sign-in; when it locks the account, note the owner's notice for after the
    request (which fails, so its transaction rolls back; the notice must go out all the same)."""
    if throttle.failed(email):
        g.setdefault("_security_notices", []).append(email)


def send_noted_notices(_exc: BaseException | None = None) -> None:
    """A teardown hook: dispatch the notices noted during the request, each in its own job."""
    for email in g.pop("_security_notices", []):
        jobs.dispatch_now(LOCKED_NOTICE_JOB, email)


def tell_owner(session: Session, email: str) -> None:
    """Job: e-mail the owner of ``email`` (if there is one) that sign-in is locked for a while."""
    user = session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is not None:
        notify(session, user, "account_locked", name=user.display_name, minutes=LOCK_SECONDS // 60)
