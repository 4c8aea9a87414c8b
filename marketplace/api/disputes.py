"""Disputes over JSON (在线争议解决, POLICY.md rule 10): the SME opens one on its order, both
parties and a reviewer exchange messages and documents, the reviewer decides. The order's
conventions apply (:mod:`marketplace.api.orders`): 404 for another organisation's order,
``Idempotency-Key`` where money moves, files as base64 inside the JSON body.
"""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa

from marketplace.api import bp
from marketplace.api.endpoint import ANY_ROLE, api_user, endpoint, expected_version
from marketplace.api.orders import ENTERPRISE, order_files, upload_of
from marketplace.db import db_session
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import NotFound
from marketplace.orders import disputes
from marketplace.orders.access import get_order
from marketplace.orders.models import Dispute
from marketplace.orders.schemas import (
    DecisionIn,
    DisputeDetailOut,
    DisputeDocumentContentOut,
    DisputeDocumentOut,
    DisputeMessageOut,
    DisputeOut,
    DisputeQuery,
    DocumentIn,
    MessageIn,
    ReasonIn,
)
from marketplace.pagination import Page, paginate

DISPUTE_TAGS = ["orders", "disputes"]
MEDIATION = (Role.ENTERPRISE, Role.PROVIDER, Role.REVIEWER)
#: What the output schema names, read from the dispute row.
_DISPUTE_FIELDS = tuple(DisputeOut().fields)


def _dispute_view(dispute: Dispute) -> dict[str, Any]:
    db_session().refresh(dispute)
    return {
        **{name: getattr(dispute, name) for name in _DISPUTE_FIELDS},
        "messages": list(dispute.messages),
        "documents": list(dispute.documents),
    }


@endpoint(
    bp,
    "/orders/disputes",
    "GET",
    roles=tuple(ADMIN_ROLES),
    query=DisputeQuery,
    response=DisputeOut,
    paginated=True,
    tags=DISPUTE_TAGS,
    summary="Administrators: every dispute, newest first, filtered by status",
)
def list_disputes(query: dict[str, Any]) -> Page:
    stmt = sa.select(Dispute)
    if query["status"] is not None:
        stmt = stmt.where(Dispute.status == query["status"])
    return paginate(
        db_session(),
        stmt,
        sort_column=Dispute.id,
        id_column=Dispute.id,
        cursor=query["cursor"],
        limit=query["limit"],
        descending=True,
    )


@endpoint(
    bp,
    "/orders/<int:order_id>/dispute",
    "POST",
    roles=ENTERPRISE,
    body=ReasonIn,
    response=DisputeDetailOut,
    status=201,
    tags=DISPUTE_TAGS,
    errors=[403, 404, 409, 412],
    summary="Dispute the delivery, with a reason, until the confirmation deadline",
)
def open_dispute(order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    dispute = disputes.open_dispute(
        db_session(),
        order_id,
        api_user(),
        reason=body["reason"],
        expected_version=expected_version(body),
    )
    return _dispute_view(dispute)


@endpoint(
    bp,
    "/orders/<int:order_id>/dispute",
    "GET",
    roles=ANY_ROLE,
    response=DisputeDetailOut,
    tags=DISPUTE_TAGS,
    errors=[404],
    summary="The order's dispute with its messages and documents",
)
def get_dispute(order_id: int) -> dict[str, Any]:
    session = db_session()
    order = get_order(session, order_id, api_user())
    return _dispute_view(disputes.dispute_of(session, order))


@endpoint(
    bp,
    "/orders/<int:order_id>/dispute/messages",
    "POST",
    roles=MEDIATION,
    body=MessageIn,
    response=DisputeMessageOut,
    status=201,
    tags=DISPUTE_TAGS,
    errors=[403, 404, 409],
    summary="Write in the mediation (the parties and the reviewer)",
)
def post_dispute_message(order_id: int, body: dict[str, Any]) -> Any:
    return disputes.post_message(db_session(), order_id, api_user(), body=body["body"])


@endpoint(
    bp,
    "/orders/<int:order_id>/dispute/documents",
    "POST",
    roles=MEDIATION,
    body=DocumentIn,
    response=DisputeDocumentOut,
    status=201,
    tags=DISPUTE_TAGS,
    errors=[403, 404, 409, 413],
    summary="Add evidence to the mediation (PDF, PNG or JPEG as base64)",
)
def add_dispute_document(order_id: int, body: dict[str, Any]) -> Any:
    return disputes.add_document(
        db_session(), order_files(), order_id, api_user(), upload=upload_of(body)
    )


@endpoint(
    bp,
    "/orders/<int:order_id>/dispute/documents/<int:document_id>",
    "GET",
    roles=ANY_ROLE,
    response=DisputeDocumentContentOut,
    tags=DISPUTE_TAGS,
    errors=[404],
    summary="One piece of mediation evidence with its content (base64)",
    description="For whoever may see the order: its parties and administrators.",
)
def get_dispute_document(order_id: int, document_id: int) -> dict[str, Any]:
    document = disputes.get_document(db_session(), order_id, document_id, api_user())
    path = order_files().path_for(document.stored_name)
    if not path.is_file():
        raise NotFound("材料文件缺失 / the document file is missing")
    return {
        **{name: getattr(document, name) for name in DisputeDocumentOut().fields},
        "content_base64": base64.b64encode(path.read_bytes()).decode(),
    }


@endpoint(
    bp,
    "/orders/<int:order_id>/dispute/decision",
    "POST",
    roles=(Role.REVIEWER,),
    body=DecisionIn,
    response=DisputeDetailOut,
    idempotency_required=True,
    tags=DISPUTE_TAGS,
    errors=[404, 409, 412],
    summary="Reviewer: decide the dispute (dismiss, uphold in part, uphold in full)",
    description=(
        "dismiss → confirmed (voucher part captured); uphold_partial → confirmed at a lower "
        "price, refund_fen of the co-payment refunded and voucher_restore_fen of the voucher "
        "part restored (the voucher part must stay within the programme's ceiling of the "
        "reduced price); uphold_full → refunded (hold released, co-payment refunded)."
    ),
)
def decide_dispute(order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    dispute = disputes.decide(
        db_session(),
        order_id,
        api_user(),
        outcome=body["outcome"],
        note=body["note"],
        refund_fen=body["refund_fen"],
        voucher_restore_fen=body["voucher_restore_fen"],
        expected_version=expected_version(body),
    )
    return _dispute_view(dispute)
