"""The API's own documents: OpenAPI JSON and the interactive docs (served from local files)."""

from __future__ import annotations

from flask import current_app, jsonify, render_template, send_from_directory
from flask.typing import ResponseReturnValue
from swagger_ui_bundle import swagger_ui_path

from marketplace.api import bp
from marketplace.api.openapi import build_openapi


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    document = current_app.extensions.get("openapi_document")
    if document is None:
        document = build_openapi(current_app)
        current_app.extensions["openapi_document"] = document
    return jsonify(document)


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    return render_template("api_docs.html")


@bp.get("/docs/assets/<path:filename>")
def docs_assets(filename: str) -> ResponseReturnValue:
    return send_from_directory(swagger_ui_path, filename)
