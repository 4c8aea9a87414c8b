"""API request overhead: token authentication, the endpoint layer, serialisation."""

from __future__ import annotations

from flask import Flask

from benchmarks.harness import Result, measure
from marketplace.auth.services import create_api_token
from marketplace.db import unit_of_work
from marketplace.demo import seed


def run(app: Flask) -> list[Result]:
    with app.app_context(), unit_of_work() as session:
        seed(session)
        import sqlalchemy as sa

        from marketplace.auth.models import User

        user = session.scalar(sa.select(User).where(User.email == "sme@demo.example.cn"))
        assert user is not None
        _token, plain = create_api_token(session, user, name="bench")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    return [
        measure(
            "GET /api/v1/me (token auth)",
            lambda: client.get("/api/v1/me", headers=headers),
            repeat=500,
            targets={"p95": 10.0},
        ),
        measure("GET / (home page)", lambda: client.get("/"), repeat=300, targets={"p95": 15.0}),
        measure(
            "GET /api/v1/openapi.json (cached)",
            lambda: client.get("/api/v1/openapi.json"),
            repeat=200,
            targets={"p95": 5.0},
        ),
    ]
