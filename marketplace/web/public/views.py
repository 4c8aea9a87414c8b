"""Public pages: no sign-in needed."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from marketplace.db import db_session
from marketplace.web import inbox
from providers.enums import ProviderStatus
from providers.models import Provider
from vouchers.enums import VerificationStatus
from vouchers.models import Enterprise

bp = Blueprint("public", __name__)


@bp.get("/")
def home() -> ResponseReturnValue:
    session = db_session()
    stats = {
        "providers": session.scalar(
            sa.select(sa.func.count()).where(Provider.status == ProviderStatus.ADMITTED)
        ),
        "enterprises": session.scalar(
            sa.select(sa.func.count()).where(
                Enterprise.verification_status == VerificationStatus.VERIFIED
            )
        ),
    }
    queues = inbox.inbox_for(session, current_user) if current_user.is_authenticated else []
    return render_template("home.html", stats=stats, queues=queues)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    db_session().execute(sa.text("SELECT 1"))
    return {"status": "ok"}
