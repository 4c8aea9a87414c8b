"""Who is told about which step of an order, and in which words (e-mail after the commit).

Every transition a party must act on, or must know about, queues one bilingual e-mail per
active user of that party through :func:`marketplace.notifications.notify`: the message is
stored in the caller's transaction and sent by a job once it commits (never on rollback).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.enums import Role
from marketplace.money import format_fen
from marketplace.notifications import notify
from marketplace.orders.models import Order


class Audience(StrEnum):
    ENTERPRISE = "enterprise"
    PROVIDER = "provider"
    REVIEWERS = "reviewers"
    FINANCE = "finance"


@dataclass(frozen=True)
class Notice:
    headline_zh: str
    headline_en: str
    next_zh: str
    next_en: str
    audiences: tuple[Audience, ...]


E, P, R, F = Audience.ENTERPRISE, Audience.PROVIDER, Audience.REVIEWERS, Audience.FINANCE

NOTICES: dict[str, Notice] = {
    "requested": Notice(
        "收到新的服务需求",
        "a new service request",
        "请报价、按标价接单或拒绝。",
        "Please quote, accept at the list price, or decline.",
        (P,),
    ),
    "quoted": Notice(
        "服务机构已报价",
        "the provider has quoted",
        "请选择电子券并确认协议，或取消订单。",
        "Choose a voucher and accept the agreement, or cancel the order.",
        (E,),
    ),
    "declined": Notice(
        "服务机构拒绝了需求",
        "the provider declined",
        "可另选服务机构。",
        "You may choose another provider.",
        (E,),
    ),
    "agreed": Notice(
        "企业已确认协议",
        "the enterprise accepted the agreement",
        "企业支付自付部分后即可开始服务。",
        "Work can start once the enterprise has paid its share.",
        (P,),
    ),
    "paid": Notice(
        "自付部分已到账",
        "the co-payment has been received",
        "请按约定提供服务，并上传报告和电子发票。",
        "Please deliver the service and upload the report and the electronic invoice.",
        (E, P),
    ),
    "delivered": Notice(
        "服务已交付",
        "the service has been delivered",
        "请在确认期限内确认验收，或提出争议；逾期将自动确认。",
        "Please confirm the delivery or open a dispute before the deadline; after it the"
        " order confirms itself.",
        (E,),
    ),
    "confirmed": Notice(
        "企业已确认验收",
        "the enterprise confirmed the delivery",
        "券抵扣部分已计入应付服务机构款项，可申请兑付。",
        "The voucher part is now payable to the provider and can be claimed.",
        (P,),
    ),
    "auto_confirmed": Notice(
        "确认期限届满，订单已自动确认",
        "the confirmation period ended; the order confirmed itself",
        "券抵扣部分已计入应付服务机构款项。",
        "The voucher part is now payable to the provider.",
        (E, P),
    ),
    "cancelled": Notice(
        "订单已取消",
        "the order was cancelled",
        "冻结的券额已释放；已付自付部分将退还。",
        "The voucher hold was released; a co-payment already made will be refunded.",
        (E, P),
    ),
    "disputed": Notice(
        "企业对交付提出争议",
        "the enterprise disputed the delivery",
        "审核员将组织调解，请在调解页面陈述意见并提交材料。",
        "A reviewer will mediate; state your case and add documents on the mediation page.",
        (P, R),
    ),
    "dispute_message": Notice(
        "调解有新留言",
        "a new message in the mediation",
        "请查看调解页面。",
        "Please read the mediation page.",
        (E, P, R),
    ),
    "dispute_decided": Notice(
        "争议已有调解结果",
        "the dispute has been decided",
        "结果及相应退款或券额返还见订单页面。",
        "The outcome and any refund or voucher restoration are on the order page.",
        (E, P),
    ),
    "voucher_lapsed": Notice(
        "券抵扣部分已失效，不予兑付",
        "the voucher part lapsed and will not be paid",
        "订单已确认验收，但{reason_zh}：券抵扣部分 {amount} 未能核销，已退回财政资金，不能申请兑付。"
        "企业自付部分按协议不变。",
        "The order is confirmed, but {reason_en}: the voucher part of {amount} could not be"
        " captured, went back to the programme budget and cannot be claimed. The enterprise's"
        " co-payment stays as agreed.",
        (E, P),
    ),
    "price_lowered": Notice(
        "服务机构已调低价格至 {price}",
        "the provider lowered the price to {price}",
        "多付的自付部分将退还；请在交付后验收。",
        "Any co-payment paid above the new price will be refunded; confirm after delivery.",
        (E,),
    ),
    "refund_due": Notice(
        "有一笔自付部分待退款",
        "a co-payment refund is due",
        "请办理银行转账退款，并在订单页面登记银行流水号。",
        "Please make the refund by bank transfer and record its bank reference on the order.",
        (F,),
    ),
}


#: Why a voucher part lapsed (the hold's release reason), in both languages.
LAPSE_REASONS: dict[str, tuple[str, str]] = {
    "claim_deadline_passed": (
        "电子券的兑付申请截止日期已过",
        "the voucher's claim deadline has passed",
    ),
    "claim_deadline": ("电子券的兑付申请截止日期已过", "the voucher's claim deadline has passed"),
    "revoked": ("电子券已被撤销", "the voucher was revoked"),
}


def _recipients(session: Session, order: Order, audience: Audience) -> list[User]:
    stmt = sa.select(User).where(User.is_active.is_(True)).order_by(User.id)
    if audience is Audience.ENTERPRISE:
        stmt = stmt.where(User.enterprise_id == order.enterprise_id)
    elif audience is Audience.PROVIDER:
        stmt = stmt.where(User.provider_id == order.provider_id)
    elif audience is Audience.REVIEWERS:
        stmt = stmt.where(User.role == Role.REVIEWER)
    else:
        stmt = stmt.where(User.role == Role.FINANCE)
    return list(session.scalars(stmt))


def tell(
    session: Session,
    order: Order,
    event: str,
    *,
    except_user_id: int | None = None,
    values: dict[str, str] | None = None,
) -> int:
    """Queue the e-mails for ``event`` on ``order``; returns how many were queued. The user
    who took the step (``except_user_id``) is not told about their own action. ``values``
    fill the ``{name}`` fields of the notice's texts."""
    notice = NOTICES[event]
    if values is not None:
        notice = Notice(
            notice.headline_zh.format(**values),
            notice.headline_en.format(**values),
            notice.next_zh.format(**values),
            notice.next_en.format(**values),
            notice.audiences,
        )
    sent = 0
    seen: set[int] = set()
    for audience in notice.audiences:
        for user in _recipients(session, order, audience):
            if user.id == except_user_id or user.id in seen:
                continue
            seen.add(user.id)
            notify(
                session,
                user,
                "order_update",
                name=user.display_name,
                order_id=order.id,
                service=order.service.title,
                headline_zh=notice.headline_zh,
                headline_en=notice.headline_en,
                next_zh=notice.next_zh,
                next_en=notice.next_en,
            )
            sent += 1
    return sent


def tell_voucher_lapsed(session: Session, order: Order, amount_fen: int, *, reason: str) -> int:
    """Tell both parties (everyone, the acting user too: the lapse is a consequence, not their
    step) that ``amount_fen`` of the voucher part lapsed for ``reason`` (a hold release
    reason)."""
    reason_zh, reason_en = LAPSE_REASONS.get(
        reason, ("电子券冻结额度已释放", "the voucher hold was released")
    )
    return tell(
        session,
        order,
        "voucher_lapsed",
        values={
            "amount": format_fen(amount_fen),
            "reason_zh": reason_zh,
            "reason_en": reason_en,
        },
    )
