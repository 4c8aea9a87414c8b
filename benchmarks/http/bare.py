"""The ceiling for the application's cheapest endpoint: bare Flask on the same gunicorn,
answering with the same bytes (``BARE_BODY_FILE``: the application's OpenAPI document as the
run fetched it, or a small JSON body) and nothing else — no session, limiter, headers, locale
or database. ``gunicorn benchmarks.http.bare:app``."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response

app = Flask(__name__)
_BODY = Path(os.environ["BARE_BODY_FILE"]).read_bytes() if "BARE_BODY_FILE" in os.environ else b""


@app.get("/healthz")
def healthz() -> Response:
    return Response(b'{"status": "ok"}\n', mimetype="application/json")


@app.get("/api/v1/openapi.json")
def document() -> Response:
    return Response(_BODY, mimetype="application/json")
