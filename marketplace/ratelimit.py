"""Per-client-address rate limits: fixed windows counted in Redis (in memory without it).

Two kinds of limit: a blueprint's default, read from the configuration (the API's
``RATE_LIMIT_DEFAULT``: one window per address for the whole API), and a view's own
(``@limiter.limit("10 per minute", methods=["POST"])``: one window per address and view, for
sign-in, registration and the token exchange). A request over any of them is refused with
429 and ``Retry-After``; every limited answer carries ``X-RateLimit-Limit``, ``-Remaining``
and ``-Reset`` (epoch seconds) for its tightest limit.

Why not Flask-Limiter (which this replaced): it resolved every request's limits anew — the
blueprint's, the view's, meta and exemption scopes, a callable limit parsed again each time —
which was ≈ 190 µs of the cheapest API request's ≈ 600 (issue 16, per-request overhead), and
it ran on every page, limited or not. Counting and storage are still the ``limits`` library's
(the one Flask-Limiter uses): the same Redis script and key format, at most one round trip
per limit and request — and for a busy client one every few requests (leases, :class:`Counter`).

Redis unreachable: limits go on per process in memory — each worker enforces the limit on
its own, so the effective limit is at most workers × the configured one, never unlimited and
never an error — and a request every :data:`RECHECK_SECONDS` asks whether Redis is back.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, g, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from werkzeug.exceptions import TooManyRequests

log = logging.getLogger(__name__)

EXTENSION = "rate_limits"
#: Where ``limit`` leaves a view's limits (copied by functools.wraps to any outer decorator).
_VIEW_ATTRIBUTE = "_rate_limits"
#: While Redis is unreachable, how often (seconds) a request checks whether it is back.
RECHECK_SECONDS = 5.0
#: Leases and key strings kept above this many (each: an address and a limit) are pruned.
MAX_REMEMBERED = 10_000
#: The most counts one storage increment takes for this process to hand out (see Counter).
MAX_LEASE = 32

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class ViewLimit:
    """A limit of one view; ``methods`` None means every method."""

    item: RateLimitItem
    methods: frozenset[str] | None

    def applies_to(self, method: str) -> bool:
        return self.methods is None or method in self.methods


@dataclass(frozen=True)
class Window:
    """Where one address stands in one limit's current window."""

    item: RateLimitItem
    count: int
    ends_at: float  # epoch seconds

    @property
    def allowed(self) -> bool:
        return self.count <= self.item.amount

    @property
    def remaining(self) -> int:
        return max(0, self.item.amount - self.count)


@dataclass
class _Lease:
    """Counts of one window this process took from the storage in one increment and hands out
    itself: ``next`` is the count of its next hit, ``last`` the last count it owns."""

    ends_at: float
    next: int
    last: int
    size: int  # how many counts the increment took

    def take(self) -> int | None:
        if self.next > self.last:
            return None
        count, self.next = self.next, self.next + 1
        return count


class Counter:
    """Fixed-window counting with at most one storage round trip per limit and request, and
    for a busy client a round trip only every few requests.

    Leases: a limit's first hit in a window increments the stored counter by one, as before.
    When this process hits the same window again, it increments by two, then four, up to
    :func:`lease_size` — taking several counts at once and handing them out to its next
    requests without asking. A lease never grants more than the limit: the increment returns
    the window's total, and of the counts just taken only those up to the limit are this
    process's to give. What it costs is the other direction: counts leased and not used before
    the window ends are lost, so a client spread over W processes may be refused after
    ``limit - W × (lease_size - 1)`` requests. A tight limit (sign-in: 10 a minute) has a
    lease of one and is counted exactly; the API's 300 a minute loses at most 3 per process.

    ``limits``' own strategy increments the counter and then, for the headers, reads the
    window back (a GET and a TTL: two more round trips to Redis). The increment already
    returns the count, and when the window ends is known to this process once it opened the
    window itself, or after one TTL read, and kept with the lease until the window has
    passed."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._leases: dict[str, _Lease] = {}  # key → the counts this process holds
        self._keys: dict[tuple[RateLimitItem, tuple[str, ...]], str] = {}

    def hit(self, item: RateLimitItem, *identifiers: str) -> Window:
        key = self._key(item, identifiers)
        now = time.time()
        lease = self._leases.get(key)
        if lease is not None and lease.ends_at <= now:
            lease = None  # of a window that has passed
        if lease is not None and (count := lease.take()) is not None:
            return Window(item, count, lease.ends_at)
        size = 1 if lease is None else min(2 * lease.size, lease_size(item))
        total = self.storage.incr(key, item.get_expiry(), amount=size)
        if total == size:  # this increment opened the window
            end = now + item.get_expiry()
        elif lease is not None:  # the window this process has been counting in
            end = lease.ends_at
        else:  # opened by another process: ask once
            end = self.storage.get_expiry(key)
        first = total - size + 1  # the count of this hit
        fresh = _Lease(end, first + 1, min(total, item.amount), size)
        self._keep(key, fresh, now)
        return Window(item, first, end)

    def _key(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> str:
        """``item.key_for(*identifiers)``, remembered: ``limits`` formats it anew each time,
        a measurable share of the cheapest request."""
        key = self._keys.get((item, identifiers))
        if key is None:
            if len(self._keys) >= MAX_REMEMBERED:
                self._keys.clear()
            key = self._keys[item, identifiers] = item.key_for(*identifiers)
        return key

    def _keep(self, key: str, lease: _Lease, now: float) -> None:
        if len(self._leases) >= MAX_REMEMBERED:
            self._leases = {k: v for k, v in self._leases.items() if v.ends_at > now}
        self._leases[key] = lease


def lease_size(item: RateLimitItem) -> int:
    """The most counts of ``item``'s window one increment takes: a 64th of the limit, at most
    :data:`MAX_LEASE`, at least one (exact counting for limits under 128)."""
    return max(1, min(MAX_LEASE, item.amount // 64))


class _AppLimits:
    """One application's counters: the configured storage and the in-memory fallback. Each
    application has its own, so an application built for a test starts from zero."""

    def __init__(self, storage_uri: str) -> None:
        storage = storage_from_string(storage_uri)
        assert isinstance(storage, Storage)  # not one of limits' asyncio storages
        self.primary = Counter(storage)
        self.fallback = Counter(MemoryStorage())
        self.failed_at: float | None = None  # monotonic time the primary last failed
        self._parsed: dict[str, RateLimitItem] = {}

    def parsed(self, spec: str) -> RateLimitItem:
        item = self._parsed.get(spec)
        if item is None:
            item = self._parsed[spec] = parse(spec)
        return item

    def hit(self, item: RateLimitItem, *identifiers: str) -> Window:
        if self.failed_at is not None and (
            time.monotonic() - self.failed_at < RECHECK_SECONDS or not self._recovered()
        ):
            return self.fallback.hit(item, *identifiers)
        try:
            return self.primary.hit(item, *identifiers)
        except self.primary.storage.base_exceptions:
            log.warning("rate limit storage unreachable: counting in this process's memory")
            self.failed_at = time.monotonic()
            return self.fallback.hit(item, *identifiers)

    def _recovered(self) -> bool:
        try:
            alive = bool(self.primary.storage.check())
        except Exception:  # any failure to answer means "still down"
            alive = False
        if alive:
            log.info("rate limit storage reachable again")
            self.failed_at = None
        else:
            self.failed_at = time.monotonic()
        return alive


class Limiter:
    """The rate limits of every application built in this process (init_app style)."""

    def __init__(self) -> None:
        self._blueprint_defaults: dict[str, str] = {}  # blueprint name → configuration key

    def limit(self, spec: str, *, methods: Iterable[str] | None = None) -> Callable[[View], View]:
        """Limit one view, per client address: ``"10 per minute"`` (``limits``' notation),
        for the given methods only when ``methods`` is set."""
        view_limit = ViewLimit(
            parse(spec), frozenset(m.upper() for m in methods) if methods else None
        )

        def decorate(view: View) -> View:
            attributes = vars(view)  # a function's own attributes, which functools.wraps copies
            attributes[_VIEW_ATTRIBUTE] = (*attributes.get(_VIEW_ATTRIBUTE, ()), view_limit)
            return view

        return decorate

    def limit_blueprint(self, blueprint: Blueprint, config_key: str) -> None:
        """Every request to ``blueprint`` counts against one window per address, of the
        limit named by the configuration key (read when the request comes)."""
        self._blueprint_defaults[blueprint.name] = config_key

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION] = _AppLimits(app.config["RATELIMIT_STORAGE_URI"])
        if not app.config.get("RATELIMIT_ENABLED", True):
            return
        app.before_request(self._check)
        app.after_request(self._headers)

    def _limits_of_request(self, app: Flask) -> list[tuple[RateLimitItem, str]]:
        """(limit, scope) of every limit this request counts against."""
        found: list[tuple[RateLimitItem, str]] = []
        limits: _AppLimits = app.extensions[EXTENSION]
        config_key = self._blueprint_defaults.get(request.blueprint or "")
        if config_key is not None:
            found.append((limits.parsed(app.config[config_key]), request.blueprint or ""))
        endpoint = request.endpoint
        view = app.view_functions.get(endpoint) if endpoint else None
        for view_limit in getattr(view, _VIEW_ATTRIBUTE, ()):
            if view_limit.applies_to(request.method):
                found.append((view_limit.item, str(endpoint)))
        return found

    def _check(self) -> None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        counted = self._limits_of_request(app)
        if not counted:
            return
        limits: _AppLimits = app.extensions[EXTENSION]
        address = request.remote_addr or "unknown"
        windows = [limits.hit(item, address, scope) for item, scope in counted]
        breached = [w for w in windows if not w.allowed]
        # The headers speak of the limit the caller is closest to (or has gone over).
        g.rate_limit_window = min(breached or windows, key=lambda w: (w.remaining, -w.ends_at))
        if breached:
            raise TooManyRequests()

    @staticmethod
    def _headers(response: Response) -> Response:
        window: Window | None = g.get("rate_limit_window")
        if window is None:
            return response
        headers = response.headers
        headers["X-RateLimit-Limit"] = str(window.item.amount)
        headers["X-RateLimit-Remaining"] = str(window.remaining)
        headers["X-RateLimit-Reset"] = str(int(window.ends_at))
        if not window.allowed:
            wait = max(1, math.ceil(window.ends_at - time.time()))
            # A view's own throttle (sign-in) may already ask for longer: keep the longer.
            existing = headers.get("Retry-After", "")
            headers["Retry-After"] = str(max(wait, int(existing) if existing.isdigit() else 0))
        return response


limiter = Limiter()
