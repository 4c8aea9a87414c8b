"""Who is told about which step of a booking (bilingual e-mail through the outbox, sent only
after the commit). The order's own notices still go out for the order's steps; these add the
booked hours, which the order's e-mails do not know."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.clock import beijing_text
from marketplace.instruments.models import InstrumentBooking
from marketplace.notifications import notify


@dataclass(frozen=True)
class Notice:
    headline_zh: str
    headline_en: str
    to_enterprise: bool
    to_provider: bool


NOTICES: dict[str, Notice] = {
    "requested": Notice("收到新的仪器预约申请", "a new booking request", False, True),
    "confirmed": Notice(
        "仪器预约已确认，请在订单中选择电子券并确认协议",
        "your booking is confirmed: accept the order with your voucher",
        True,
        False,
    ),
    "declined": Notice("仪器预约被拒绝", "the booking was declined", True, False),
    "cancelled": Notice("仪器预约已取消", "the booking was cancelled", True, True),
    "used": Notice(
        "服务机构已登记实际使用机时", "the provider recorded the hours used", True, False
    ),
    "no_show": Notice("服务机构登记了未到场", "the provider recorded a no-show", True, False),
}


def tell(
    session: Session, booking: InstrumentBooking, event: str, *, except_user_id: int | None
) -> int:
    """Queue the e-mails for ``event``; the acting user is not told about their own step."""
    notice = NOTICES[event]
    who = []
    if notice.to_enterprise:
        who.append(User.enterprise_id == booking.enterprise_id)
    if notice.to_provider:
        who.append(User.provider_id == booking.provider_id)
    users = session.scalars(
        sa.select(User).where(User.is_active.is_(True), sa.or_(*who)).order_by(User.id)
    )
    sent = 0
    for user in users:
        if user.id == except_user_id:
            continue
        notify(
            session,
            user,
            "instrument_booking",
            name=user.display_name,
            booking_id=booking.id,
            order_id=booking.order_id,
            instrument=booking.calendar.listing.instrument_name,
            location=booking.calendar.listing.location,
            starts=beijing_text(booking.starts_at),
            ends=beijing_text(booking.ends_at)[-5:],
            headline_zh=notice.headline_zh,
            headline_en=notice.headline_en,
        )
        sent += 1
    return sent
