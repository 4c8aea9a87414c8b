"""Where an order stands, first on its page: the steps of the usual path with the current one
marked, and the next action — who takes it, what it is, and where on the page (or elsewhere)
it is done. On a phone this is what the first screen shows."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from marketplace.i18n import _
from marketplace.orders.enums import Actor, OrderStatus
from marketplace.orders.models import Order
from marketplace.web.forms import label_of

S = OrderStatus

#: The usual path of an order; the other statuses leave it (declined, cancelled, refunded) or
#: pause it (in dispute).
PATH = (
    S.REQUESTED,
    S.QUOTED,
    S.AGREED,
    S.PAID,
    S.DELIVERED,
    S.CONFIRMED,
    S.CLAIMED,
    S.CLAIM_APPROVED,
    S.PAID_OUT,
    S.SETTLED,
)


@dataclass(frozen=True)
class Step:
    label: str
    state: str  # "done", "current" or "todo"


@dataclass(frozen=True)
class Next:
    who: Actor | None  # None: nothing is left to do
    what: str
    href: str | None
    yours: bool


def steps(order: Order) -> list[Step]:
    """The usual path with the order's place on it (a status off the path marks none)."""
    here = PATH.index(order.status) if order.status in PATH else -1
    return [
        Step(label_of(status), "done" if i < here else "current" if i == here else "todo")
        for i, status in enumerate(PATH)
    ]


def who_label(actor: Actor | None) -> str:
    return (
        {
            Actor.ENTERPRISE: _("The enterprise"),
            Actor.PROVIDER: _("The provider"),
            Actor.REVIEWER: _("A reviewer"),
            Actor.FINANCE: _("A finance officer"),
            Actor.SYSTEM: _("The platform"),
        }.get(actor, "")
        if actor
        else ""
    )


def next_action(order: Order, capacity: Actor | None, actions: set[str]) -> Next:
    """The order's next action; ``yours`` when the person looking takes it."""
    oid = order.id
    table: dict[OrderStatus, tuple[Actor, str, str]] = {
        S.REQUESTED: (Actor.PROVIDER, _("quote a price or accept the request"), "#act-quote"),
        S.QUOTED: (
            Actor.ENTERPRISE,
            _("accept the quote: the voucher part and the co-payment are shown first"),
            "#act-accept",
        ),
        S.AGREED: (Actor.ENTERPRISE, _("pay the co-payment"), "#payment"),
        S.PAID: (
            Actor.PROVIDER,
            _("deliver: upload the service report and the invoice file"),
            "#act-deliver",
        ),
        S.DELIVERED: (
            Actor.ENTERPRISE,
            _("confirm the delivery or open a dispute by %(date)s", date=order.confirm_by or "—"),
            "#act-confirm",
        ),
        S.DISPUTED: (
            Actor.REVIEWER,
            _("mediate the dispute"),
            url_for("orders.mediation", order_id=oid),
        ),
        S.CONFIRMED: (
            Actor.PROVIDER,
            _("claim the voucher part"),
            url_for("settlement.claimable"),
        ),
        S.CLAIMED: (Actor.REVIEWER, _("review the settlement claim"), ""),
        S.CLAIM_APPROVED: (Actor.FINANCE, _("pay the voucher part out to the provider"), ""),
        S.PAID_OUT: (Actor.FINANCE, _("record the bank's confirmation of the payout"), ""),
    }
    if order.status not in table:
        return Next(None, _("Nothing is left to do on this order."), None, False)
    who, what, href = table[order.status]
    # A form on this page is the action only when this person may take it now.
    form = href.removeprefix("#act-") if href.startswith("#act-") else None
    yours = capacity is who and (form is None or form in actions)
    return Next(who, what, href if yours and href else None, yours)
