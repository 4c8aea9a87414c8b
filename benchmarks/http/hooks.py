"""What each request hook and extension costs (issue 16, per-request overhead), in process.

The application is built as the HTTP run serves it (production settings, the run's database
and Redis); every ``before_request``, ``after_request`` and ``teardown_request`` function
(ours and the extensions': the limiter, CSRF, the unit of work, logging, security headers),
the session interface and the view itself are wrapped with a timer, and N requests are sent
through the test client: to the cheapest endpoint, and to a signed-in page (an SME's
workspace, through a real sign-in). The result is microseconds per request per hook, the
second table of the overhead section in the report."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from benchmarks.seed import BENCH_PASSWORD

HTTPS = "https://bench.example.cn"


def _timed(totals: dict[str, int], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter_ns() - start

    return wrapper


def _name(fn: Callable[..., Any]) -> str:
    """``Limiter.__inject_headers`` for a partial of it, the qualified name otherwise."""
    inner = getattr(fn, "func", fn)
    return str(getattr(inner, "__qualname__", inner)).replace(".<locals>.", " › ")


def instrument(app: Flask) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for kind, table in (
        ("before", app.before_request_funcs),
        ("after", app.after_request_funcs),
        ("teardown", app.teardown_request_funcs),
    ):
        for blueprint, funcs in table.items():
            where = f"{blueprint}." if blueprint else ""
            table[blueprint] = [
                _timed(totals, f"{kind}_request {where}{_name(f)}", f) for f in funcs
            ]
    interface = app.session_interface
    interface.open_session = _timed(totals, "session open", interface.open_session)  # type: ignore[method-assign]
    interface.save_session = _timed(totals, "session save", interface.save_session)  # type: ignore[method-assign]
    return totals


def measure(
    environ: Mapping[str, str], sme_email: str, requests: int = 300
) -> dict[str, dict[str, float]]:
    """{endpoint: {hook: µs per request}} with "total" the whole request in the test client."""
    from marketplace import create_app

    app = create_app(dict(environ))
    out = {}
    try:
        client = app.test_client()
        page = client.get("/login", base_url=HTTPS).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        signed_in = client.post(
            "/login",
            base_url=HTTPS,
            headers={"Referer": f"{HTTPS}/login"},  # Flask-WTF checks it over HTTPS
            data={
                "email": sme_email,
                "password": BENCH_PASSWORD,
                "csrf_token": token.group(1) if token else "",
            },
        )
        if signed_in.status_code != 302:
            raise RuntimeError(f"sign-in for the overhead profile failed: {signed_in.status_code}")
        anonymous = app.test_client()
        cases = {
            "GET /api/v1/openapi.json (anonymous)": (anonymous, "/api/v1/openapi.json"),
            "GET /enterprise/ (signed-in SME page)": (client, "/enterprise/"),
        }
        totals = instrument(app)
        for label, (who, path) in cases.items():
            for _ in range(20):
                who.get(path, base_url=HTTPS)
            totals.clear()
            start = time.perf_counter_ns()
            for _ in range(requests):
                response = who.get(path, base_url=HTTPS)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code}")
            elapsed = time.perf_counter_ns() - start
            figures = {name: ns / requests / 1000 for name, ns in totals.items()}
            figures = dict(sorted(figures.items(), key=lambda item: -item[1]))
            figures["total (test client, whole request)"] = elapsed / requests / 1000
            out[label] = {k: round(v, 1) for k, v in figures.items()}
    finally:
        engine = app.extensions["db"].engine
        if engine is not None:
            engine.dispose()
    return out
