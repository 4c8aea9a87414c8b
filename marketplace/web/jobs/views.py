"""The page of a long job (a bulk issuance, a large export): a progress bar that polls the
job's status (``static/js/job-progress.js``; without JavaScript, a refresh link), then the
per-row report as a page and as a file, or the file the job wrote.

Every signed-in user may have jobs; each sees only their own (another's job answers 404).
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from marketplace import exports
from marketplace.db import db_session
from marketplace.enums import Role
from marketplace.errors import NotFound
from marketplace.exports import Format
from marketplace.jobs import tracked
from marketplace.jobs.models import ROW_OK, BackgroundJob
from marketplace.web.jobs import exports as export_jobs
from marketplace.web.permissions import gate_blueprint
from marketplace.web.templating import page_lang

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
gate_blueprint(bp, *Role)

REPORT_HEADER = {
    "zh": ["行号", "结果", "原因", "统一社会信用代码", "电子券编号"],
    "en": ["row", "outcome", "reason", "credit code", "voucher serial"],
}
PAGE_SIZE = 20
OUTCOMES = {"zh": {"ok": "成功", "refused": "已拒绝"}, "en": {"ok": "ok", "refused": "refused"}}


def _job(job_id: int) -> BackgroundJob:
    try:
        return tracked.owned(db_session(), job_id, current_user.id)
    except NotFound as exc:
        exc.recovered()
        abort(404)


@bp.get("/")
def my_jobs() -> ResponseReturnValue:
    """The signed-in person's own jobs, newest first, a page at a time (``before``: a job id)."""
    before = request.args.get("before", type=int)
    listed = tracked.of_owner(db_session(), current_user.id, before=before, limit=PAGE_SIZE + 1)
    older = listed[PAGE_SIZE - 1].id if len(listed) > PAGE_SIZE else None
    return render_template(
        "jobs/index.html",
        jobs=listed[:PAGE_SIZE],
        older=older,
        kept_days=tracked.KEPT_FOR.days,
    )


@bp.get("/<int:job_id>")
def job_page(job_id: int) -> ResponseReturnValue:
    job = _job(job_id)
    return render_template("jobs/job.html", job=job, ok=ROW_OK, kept_days=tracked.KEPT_FOR.days)


@bp.get("/<int:job_id>/status")
def job_status(job_id: int) -> ResponseReturnValue:
    """What the page's script polls; never cached."""
    response = jsonify(tracked.status_document(_job(job_id), page_lang()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:job_id>/report.csv", defaults={"kind": Format.CSV})
@bp.get("/<int:job_id>/report.xlsx", defaults={"kind": Format.XLSX})
def job_report(job_id: int, kind: Format) -> ResponseReturnValue:
    job = _job(job_id)
    if job.report is None:
        abort(404)
    lang = page_lang()
    outcomes = OUTCOMES[lang]
    rows = (
        [
            row.get("row"),
            outcomes.get(str(row.get("outcome")), str(row.get("outcome"))),
            row.get("reason") or "",
            row.get("credit_code") or "",
            row.get("serial") or "",
        ]
        for row in job.report
    )
    return exports.download(f"job-{job.id}-report", kind, REPORT_HEADER[lang], rows)


@bp.get("/<int:job_id>/file")
def job_file(job_id: int) -> ResponseReturnValue:
    job = _job(job_id)
    if not job.result_path or not os.path.exists(job.result_path):
        abort(404)
    name = job.result_name or os.path.basename(job.result_path)
    kind = Format.XLSX if name.endswith(".xlsx") else Format.CSV
    response: Response = send_file(
        job.result_path, mimetype=exports.MIMETYPES[kind], as_attachment=True, download_name=name
    )
    response.headers["Cache-Control"] = "no-store"
    return response


class ExportJobForm(FlaskForm):
    """Run one of the list pages' exports in the background (its URL with the filters)."""

    url = HiddenField(validators=[DataRequired(), Length(1, 2000)])


@bp.post("/exports")
def start_export() -> ResponseReturnValue:
    form = ExportJobForm()
    if not form.validate_on_submit():
        abort(400)
    url = str(form.url.data)
    try:
        endpoint, view_args = export_jobs.export_endpoint(current_app, url)
    except export_jobs.ExportRefused as exc:
        exc.recovered()
        abort(404)
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    if not any(k == "lang" for k, _v in query):
        query.append(("lang", page_lang()))  # the file in the language of the page it came from
    job = tracked.start(
        db_session(),
        owner_id=current_user.id,
        kind="export",
        title=export_jobs.title_of(endpoint, Format(view_args.get("kind", Format.CSV))),
        handler=export_jobs.HANDLER,
        params={"url": f"{parts.path}?{urlencode(query)}"},
    )
    return redirect(url_for("jobs.job_page", job_id=job.id))
