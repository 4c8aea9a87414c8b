"""The API's own documents: OpenAPI JSON and the interactive docs (served from local files)."""

from __future__ import annotations

from flask import current_app, render_template, send_from_directory
from flask.typing import ResponseReturnValue
from swagger_ui_bundle import swagger_ui_path

from marketplace.api import bp
from marketplace.api.openapi import build_openapi


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    """Built, serialised and encoded once per application: the document is over 300 KB, and
    encoding it on every request cost more than the request itself (benchmarks/bench_api.py);
    kept as bytes, the response is the same bytes bare Flask would send (make bench)."""
    body = current_app.extensions.get("openapi_json")
    if body is None:
        body = (current_app.json.dumps(build_openapi(current_app)) + "\n").encode()
        current_app.extensions["openapi_json"] = body
    return current_app.response_class(body, mimetype="application/json")


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    return render_template("api_docs.html")


@bp.get("/docs/assets/<path:filename>")
def docs_assets(filename: str) -> ResponseReturnValue:
    return send_from_directory(swagger_ui_path, filename)
