"""Administration: one blueprint for the four administrator roles (auditors read only), and its
home page. Each area's pages are declared on this blueprint in their own module (audit,
enterprises, payments, providers, settlement, statistics, vouchers); :func:`marketplace.web.register_pages`
imports them all."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from marketplace.audit.models import AuditEvent
from marketplace.auth.models import User
from marketplace.db import db_session
from marketplace.web.permissions import gate_admin
from providers.enums import ProviderStatus
from providers.models import Provider
from vouchers.enums import VerificationStatus
from vouchers.models import Enterprise

bp = Blueprint("admin", __name__, url_prefix="/admin")
gate_admin(bp)


@bp.get("/")
def home() -> ResponseReturnValue:
    session = db_session()
    pending = {
        "enterprises": session.scalar(
            sa.select(sa.func.count()).where(
                Enterprise.verification_status == VerificationStatus.PENDING
            )
        ),
        "providers": session.scalar(
            sa.select(sa.func.count()).where(Provider.status == ProviderStatus.PENDING)
        ),
        "users": session.scalar(sa.select(sa.func.count()).select_from(User)),
    }
    events = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(20))
    return render_template("admin/home.html", pending=pending, events=list(events))
