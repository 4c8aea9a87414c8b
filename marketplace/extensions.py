"""Flask extensions, created unbound and initialised by ``create_app`` (init_app style)."""

from __future__ import annotations

import time

from flask import request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from limits import RateLimitItem
from limits.storage import StorageTypes
from limits.strategies import STRATEGIES, FixedWindowRateLimiter
from limits.util import WindowStats

SUPPORTED_LOCALES = ("zh", "en")
DEFAULT_LOCALE = "zh"

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class OneTripFixedWindow(FixedWindowRateLimiter):
    """limits' fixed window in one storage round trip per limit and request instead of three.

    Flask-Limiter hits each limit (an INCR with its expiry: one Redis script) and then, for
    the ``X-RateLimit-*`` and ``Retry-After`` headers, reads the window back (a GET and a
    TTL: two more round trips, a third of the cheapest endpoint's time with Redis). The hit
    already returns the count; when the window ends is known to this process once the hit
    that opened the window was its own, or after one TTL read, and remembered until it has
    passed. Same counters, same keys, same limits and headers (tests/security)."""

    #: Remembered window ends (and counts) above this many keys are pruned.
    MAX_REMEMBERED = 10_000

    def __init__(self, storage: StorageTypes) -> None:
        super().__init__(storage)
        self._counts: dict[str, int] = {}  # key → the count this process's last hit returned
        self._ends: dict[str, float] = {}  # key → when its window ends (epoch seconds)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        key = item.key_for(*identifiers)
        count = self.storage.incr(key, item.get_expiry(), amount=cost)
        if count == cost:  # this hit opened the window
            self._remember_end(key, time.time() + item.get_expiry())
        if len(self._counts) >= self.MAX_REMEMBERED:  # limits whose headers were not asked for
            self._counts.clear()
        self._counts[key] = count
        return count <= item.amount

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        key = item.key_for(*identifiers)
        count = self._counts.pop(key, None)
        if count is None:  # not right after a hit of ours: ask the storage
            return super().get_window_stats(item, *identifiers)
        end = self._ends.get(key)
        if end is None or end <= time.time():
            end = self.storage.get_expiry(key)
            self._remember_end(key, end)
        return WindowStats(end, max(0, item.amount - count))

    def _remember_end(self, key: str, end: float) -> None:
        if len(self._ends) >= self.MAX_REMEMBERED:
            now = time.time()
            self._ends = {k: v for k, v in self._ends.items() if v > now}
        self._ends[key] = end


#: Chosen with RATELIMIT_STRATEGY (create_app); Flask-Limiter looks strategies up here.
ONE_TRIP_FIXED_WINDOW = "fixed-window-one-trip"
STRATEGIES[ONE_TRIP_FIXED_WINDOW] = OneTripFixedWindow
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)


def select_locale() -> str:
    """Chinese first: pages are Simplified Chinese unless the person chose English
    (``?lang=en``, remembered in the session). The browser's Accept-Language is not consulted:
    the platform's working language is Chinese, and English is offered beside it."""
    chosen = request.args.get("lang")
    if chosen in SUPPORTED_LOCALES:
        session["lang"] = chosen
        return chosen
    stored = session.get("lang")
    return str(stored) if stored in SUPPORTED_LOCALES else DEFAULT_LOCALE
