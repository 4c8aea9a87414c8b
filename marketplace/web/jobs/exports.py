"""Large exports as background jobs: the same export a list page links to (its CSV or XLSX
URL, with the screen's filters), written by a job with a progress bar instead of inside the
request.

The job runs the export's own view, so filters, labels, language and every permission check
are the same as for a direct download: it opens a request context for the export's URL, signs
the job's owner in to it, runs the blueprint's role gate and the view (whose own decorators
and object-level checks apply), and :data:`marketplace.exports.job_sink` catches the rows the
view hands to :func:`marketplace.exports.download`. They go to the job's file, with the
progress committed in transactions of its own while a read-only session streams the rows.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request
from flask_babel import force_locale
from flask_login import login_user
from werkzeug.exceptions import HTTPException, NotFound

from marketplace import exports
from marketplace.auth.models import User
from marketplace.db import get_db
from marketplace.errors import PermissionDenied
from marketplace.exports import Format, Row
from marketplace.i18n import _, _l
from marketplace.jobs.tracked import JobContext
from providers.personal_data import deferred_export_records, record_export

HANDLER = "marketplace.web.jobs.exports.run_export"
#: The exports a job may run (endpoint → what the job page calls it).
EXPORTS = {
    "admin.audit_file": _l("Audit trail"),
    "admin.voucher_list_file": _l("Issued vouchers"),
    "orders.index_file": _l("Orders"),
    "admin.settlement_claims_file": _l("Settlement claims"),
    "admin.settlement_payouts_file": _l("Payout batches"),
    "risk.flags_file": _l("Risk flags"),
    "risk.findings_file": _l("Audit findings"),
}
#: Progress is committed at most this often (seconds), whatever the rows' pace.
PROGRESS_INTERVAL = 0.5


class ExportRefused(PermissionDenied):
    code = "export_refused"


def export_endpoint(app: Flask, url: str) -> tuple[str, dict[str, Any]]:
    """The export endpoint ``url`` (a path with its query) names, and its view arguments.
    Raises ExportRefused for anything that is not one of EXPORTS."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        raise ExportRefused(_("Only this platform's exports can run as jobs."))
    try:
        endpoint, view_args = app.url_map.bind("localhost").match(parts.path, method="GET")
    except HTTPException:
        raise ExportRefused(_("Only this platform's exports can run as jobs.")) from None
    if endpoint not in EXPORTS:
        raise ExportRefused(_("Only this platform's exports can run as jobs."))
    return str(endpoint), dict(view_args)


def title_of(endpoint: str, kind: Format) -> str:
    return _("Export: %(what)s (%(kind)s)", what=str(EXPORTS[endpoint]), kind=kind.value.upper())


def _gate(app: Flask) -> None:
    """The role gates of the export's blueprint, as for a request (the owner signed in)."""
    for name in request.blueprints:
        for gate in app.before_request_funcs.get(name, ()):
            if gate() is not None:
                raise ExportRefused(_("You may not run this export."))


def export_as(app: Flask, url: str, user_id: int, sink: exports.Sink) -> list[dict[str, Any]]:
    """Run the export ``url`` names as the user ``user_id`` would download it, handing its
    rows to ``sink``. Returns the personal-data export records the view would have written
    (the caller writes them: the view's session writes nothing). Raises ExportRefused when the
    user may not run it (role gate, the view's own checks) or the view refuses (invalid
    filters)."""
    endpoint, view_args = export_endpoint(app, url)
    records: list[dict[str, Any]] = []
    deferred = deferred_export_records.set(records)
    try:
        _run_view(app, url, endpoint, view_args, user_id, sink)
    finally:
        deferred_export_records.reset(deferred)
    return records


def _run_view(
    app: Flask,
    url: str,
    endpoint: str,
    view_args: dict[str, Any],
    user_id: int,
    sink: exports.Sink,
) -> None:
    with app.test_request_context(url, method="GET"):
        reader = get_db().read_only_session()
        g._db_session = reader  # the view's db_session(): reads only, no write lock
        try:
            user = reader.get(User, user_id)
            if user is None or not user.is_active:
                raise ExportRefused(_("You may not run this export."))
            login_user(user)
            _gate(app)
            token = exports.job_sink.set(sink)
            try:
                # The language the URL names (a babel locale cached earlier in this
                # application context would otherwise win).
                with force_locale(request.args.get("lang") or "zh"):
                    result: Any = app.view_functions[endpoint](**view_args)
                    answer = app.make_response(result)
            except NotFound:
                raise ExportRefused(_("You may not run this export.")) from None
            finally:
                exports.job_sink.reset(token)
            if answer.status_code != 204:  # the view refused (invalid filters …) and said why
                raise ExportRefused(answer.get_data(as_text=True)[:200] or answer.status)
        finally:
            g.pop("_db_session", None)
            reader.close()  # it read only: closing ends its transaction


def run_export(context: JobContext) -> None:
    """The job: run the export's view as its owner and write what it hands to ``download``
    into the job's file. Raises ExportRefused when the owner may no longer run it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    sink = _Sink(context)
    records = export_as(app, str(context.params["url"]), context.owner_id, sink)
    # Recorded once the reading is over (its transaction, and in tests its savepoint, closed).
    if sink.result is None:
        raise ExportRefused(_("You may not run this export."))
    path, name, written, total = sink.result
    with context.transaction() as session:
        context.progress(session, written, total if total is not None else written)
        context.finish(session, summary={"rows": written}, result_path=path, result_name=name)
        for fields in records:
            record_export(session, **fields)


class _Sink:
    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.last = 0.0
        #: (file, download name, rows written, rows expected) once the view has written.
        self.result: tuple[Path, str, int, int | None] | None = None

    def __call__(
        self, stem: str, kind: Format, header: Row, rows: Iterable[Row], total: int | None
    ) -> None:
        context = self.context
        with context.transaction() as session:
            context.progress(session, 0, total)
        path = context.result_path(f".{kind.value}")
        written = 0

        def progress(done: int) -> None:
            nonlocal written
            written = done
            now = time.monotonic()
            if now - self.last >= PROGRESS_INTERVAL:
                self.last = now
                with context.transaction() as session:
                    context.progress(session, done)

        try:
            exports.write_file(str(path), kind, header, rows, sheet=stem, progress=progress)
        except BaseException:
            if path.exists():
                os.unlink(path)
            raise
        self.result = (path, f"{stem}.{kind.value}", written, total)
