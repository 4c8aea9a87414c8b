"""The per-address limits in one storage round trip per request (issue 16, per-request
overhead): the limiter increments the counter, and the X-RateLimit-* headers come from what
the increment returned instead of two more reads (a GET and a TTL on Redis). Same counting,
same headers, same 429."""

from __future__ import annotations

import time
from typing import Any

import pytest

from marketplace.extensions import OneTripFixedWindow, limiter

DOCUMENT = "/api/v1/openapi.json"


@pytest.fixture
def limited(make_app, monkeypatch):
    app = make_app(RATELIMIT_ENABLED=True, RATE_LIMIT_DEFAULT="5 per minute")
    # The limiter is one object per process: a test before this one that stopped its storage
    # (the Redis fault tests) leaves it counting in its in-memory fallback until it next sees
    # the storage alive, which would count this test's hits out of sight.
    monkeypatch.setattr(limiter, "_storage_dead", False)
    strategy = limiter.limiter
    assert isinstance(strategy, OneTripFixedWindow)
    calls: dict[str, int] = {"incr": 0, "get": 0, "get_expiry": 0}
    storage = strategy.storage
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
    return app, strategy, calls


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_one_round_trip_per_request_and_the_same_headers_and_refusal(backend, limited):
    app, _strategy, calls = limited
    client = app.test_client()
    started = time.time()
    remaining = []
    for _ in range(5):
        response = client.get(DOCUMENT)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        reset = int(response.headers["X-RateLimit-Reset"])
        assert started < reset <= time.time() + 61
    assert remaining == [4, 3, 2, 1, 0]
    refused = client.get(DOCUMENT)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 61
    # One increment per request; the window was opened by this process, so nothing is read.
    assert not limiter._storage_dead  # (not the in-memory fallback)
    assert calls == {"incr": 6, "get": 0, "get_expiry": 0}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_window_opened_elsewhere_costs_one_expiry_read_then_none(backend, limited):
    app, strategy, calls = limited
    client = app.test_client()
    assert client.get(DOCUMENT).status_code == 200
    strategy._ends.clear()  # as if another worker had opened the window
    for expected_left in (3, 2):
        response = client.get(DOCUMENT)
        assert int(response.headers["X-RateLimit-Remaining"]) == expected_left
    assert calls == {"incr": 3, "get": 0, "get_expiry": 1}
