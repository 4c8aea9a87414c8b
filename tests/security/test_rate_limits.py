"""Per-address rate limits (marketplace/ratelimit.py): one storage round trip per limit and
request, the X-RateLimit-* headers from what the increment returned, one window per address
for the whole API, a view's own limit for its methods only, and counting in memory while the
storage is unreachable, back to it once it answers again."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from marketplace import ratelimit
from marketplace.ratelimit import EXTENSION

DOCUMENT = "/api/v1/openapi.json"
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _count_storage_calls(monkeypatch: pytest.MonkeyPatch, storage: Any) -> dict[str, int]:
    calls = {"incr": 0, "get": 0, "get_expiry": 0}
    inside: list[str] = []  # the in-memory storage's incr calls its own get: count the outer
    for name in calls:
        original = getattr(storage, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            if not inside:
                calls[_name] += 1
            inside.append(_name)
            try:
                return _original(*args, **kw)
            finally:
                inside.pop()

        monkeypatch.setattr(storage, name, counted)
    return calls


@pytest.fixture
def limited(make_app, monkeypatch):
    app = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_DEFAULT="5 per minute")
    limits = app.extensions[EXTENSION]
    return app, limits, _count_storage_calls(monkeypatch, limits.primary.storage)


def test_one_round_trip_per_request_and_the_headers_and_refusal(backend, limited):
    app, _limits, calls = limited
    client = app.test_client()
    started = time.time()
    remaining = []
    for _ in range(5):
        response = client.get(DOCUMENT)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert "Retry-After" not in response.headers
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        reset = int(response.headers["X-RateLimit-Reset"])
        assert started < reset <= time.time() + 61
    assert remaining == [4, 3, 2, 1, 0]
    refused = client.get(DOCUMENT)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # One increment per request; the window was opened by this process, so nothing is read.
    assert calls == {"incr": 6, "get": 0, "get_expiry": 0}


def test_a_window_opened_elsewhere_costs_one_expiry_read_then_none(backend, limited):
    app, limits, calls = limited
    client = app.test_client()
    assert client.get(DOCUMENT).status_code == 200
    limits.primary._leases.clear()  # as if another worker had opened the window
    for expected_left in (3, 2):
        response = client.get(DOCUMENT)
        assert int(response.headers["X-RateLimit-Remaining"]) == expected_left
    assert calls == {"incr": 3, "get": 0, "get_expiry": 1}


def test_one_window_per_address_for_the_whole_api(backend, limited):
    app, _limits, _calls = limited
    client = app.test_client()
    paths = [DOCUMENT, "/api/v1/catalogue/services", DOCUMENT, "/api/v1/catalogue/services?q=CNAS"]
    assert [client.get(p).status_code for p in paths] == [200, 200, 200, 200]
    assert client.get("/api/v1/catalogue/services").status_code == 200  # the fifth
    assert client.get(DOCUMENT).status_code == 429
    # Another address has its own window.
    other = client.get(DOCUMENT, environ_base={"REMOTE_ADDR": "192.0.2.77"})
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "4"


def test_a_page_without_a_limit_costs_no_storage_call_and_has_no_headers(backend, limited):
    app, _limits, calls = limited
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers
    assert calls == {"incr": 0, "get": 0, "get_expiry": 0}


def test_a_views_own_limit_counts_its_methods_only_and_the_tightest_is_shown(backend, make_app):
    # The token exchange: 10 per minute for the view, beside the API's 12 per minute.
    app = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_DEFAULT="12 per minute")
    client = app.test_client()

    def ask(n: int) -> dict[str, str]:
        # Another account each time: the per-address limits, not the per-account throttle.
        return {"email": f"nobody{n}@test.example.cn", "password": "wrong-pw", "name": "x"}

    first = client.post("/api/v1/auth/tokens", json=ask(0))
    assert first.status_code == 401
    # Both limits counted it; the view's own (10) is the tighter one and is the one shown.
    assert first.headers["X-RateLimit-Limit"] == "10"
    assert first.headers["X-RateLimit-Remaining"] == "9"
    statuses = [client.post("/api/v1/auth/tokens", json=ask(n)).status_code for n in range(1, 11)]
    assert statuses == [401] * 9 + [429]
    # The API's own window had one left (12 - 11): the next request elsewhere passes with it.
    other = client.get(DOCUMENT)
    assert other.status_code == 200
    assert other.headers["X-RateLimit-Limit"] == "12"
    assert other.headers["X-RateLimit-Remaining"] == "0"

    # Sign-in's limit is on POST only: showing the form is never limited.
    pages = make_app(RATELIMIT_ENABLED=True)
    browser = pages.test_client()
    assert all(browser.get("/login").status_code == 200 for _ in range(12))
    assert "X-RateLimit-Limit" not in browser.get("/login").headers


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_an_unreachable_storage_counts_in_memory_then_returns_to_it(
    backend, make_app, monkeypatch, caplog
):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATE_LIMIT_DEFAULT="3 per minute",
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{_closed_port()}/0",
    )
    limits = app.extensions[EXTENSION]
    client = app.test_client()
    statuses = [client.get(DOCUMENT).status_code for _ in range(4)]
    # Neither an error nor unlimited: the limit holds, counted in this process's memory.
    assert statuses == [200, 200, 200, 429]
    assert limits.failed_at is not None
    assert any("unreachable" in r.getMessage() for r in caplog.records)

    # The storage answers again (here: a working one in its place); after the recheck interval
    # the next request finds it and counts there, in a window of its own.
    reachable = ratelimit.Counter(ratelimit.MemoryStorage())
    monkeypatch.setattr(limits, "primary", reachable)
    assert client.get(DOCUMENT).status_code == 429  # still within the interval: in memory
    limits.failed_at -= ratelimit.RECHECK_SECONDS
    back = client.get(DOCUMENT)
    assert back.status_code == 200 and back.headers["X-RateLimit-Remaining"] == "2"
    assert limits.failed_at is None


def test_a_busy_client_is_counted_in_leases_that_never_grant_more_than_the_limit(
    backend, make_app, monkeypatch
):
    # 6,400 a minute: leases of 1, 2, 4 … up to 32 counts per storage increment.
    app = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_DEFAULT="6400 per minute")
    limits = app.extensions[EXTENSION]
    calls = _count_storage_calls(monkeypatch, limits.primary.storage)
    client = app.test_client()
    remaining = [int(client.get(DOCUMENT).headers["X-RateLimit-Remaining"]) for _ in range(100)]
    # Each answer still says where this hit stands: the counts are handed out in order.
    assert remaining == list(range(6399, 6299, -1))
    # Increments of 1, 2, 4, 8, 16, 32, 32, 32 (127 counts) served the 100 requests.
    assert calls == {"incr": 8, "get": 0, "get_expiry": 0}
    assert ratelimit.lease_size(ratelimit.parse("6400 per minute")) == ratelimit.MAX_LEASE == 32
    assert ratelimit.lease_size(ratelimit.parse("300 per minute")) == 4
    assert ratelimit.lease_size(ratelimit.parse("10 per minute")) == 1  # sign-in: exact


def test_leases_of_many_processes_grant_the_limit_and_no_more(backend):
    # Four workers' counters on one storage, hit in turn by one client (limit 640: leases up
    # to 10). Counts left in a lease are lost to the others, never granted twice.
    storage = ratelimit.MemoryStorage()
    workers = [ratelimit.Counter(storage) for _ in range(4)]
    item = ratelimit.parse("640 per minute")
    turns = [workers[(n * 7 + n // 3) % 4] for n in range(2_000)]
    allowed = [worker.hit(item, "a").allowed for worker in turns]
    assert sum(allowed) <= 640
    # The first refusal comes after at least the limit less what four leases can strand …
    assert allowed.index(False) >= 640 - 4 * (ratelimit.lease_size(item) - 1)
    # … and once the leases are spent, every request is refused until the window ends.
    assert not any(allowed[700:])
