"""Who may see an order and in which capacity a user acts on it.

* The SME's users see and act on their enterprise's orders, the provider's users on their
  provider's orders; another organisation's order is *not found* (404), so ids do not leak.
* Every administrator role sees every order. Reviewers act as mediators, finance officers
  record payments and refunds; auditors and system administrators only read.
* Whether the capacity may take a given step is the state machine's call
  (:func:`marketplace.orders.rules.transition`), so a provider confirming its own delivery
  gets ``actor_not_allowed`` (403).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from marketplace.auth.models import User
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.errors import PermissionDenied
from marketplace.orders.enums import Actor
from marketplace.orders.errors import OrderNotFound
from marketplace.orders.models import Order
from marketplace.schemas import MAX_ID
from providers.models import Service

_ADMIN_ACTORS = {Role.REVIEWER: Actor.REVIEWER, Role.FINANCE: Actor.FINANCE}


def visible(user: User) -> sa.ColumnElement[bool]:
    """The WHERE clause selecting the orders ``user`` may see."""
    if user.role is Role.ENTERPRISE:
        return Order.enterprise_id == user.enterprise_id
    if user.role is Role.PROVIDER:
        return Order.provider_id == user.provider_id
    if user.role in ADMIN_ROLES:
        return sa.true()
    return sa.false()  # pragma: no cover - every role is one of the above


def can_see(user: User, order: Order) -> bool:
    if user.role is Role.ENTERPRISE:
        return order.enterprise_id == user.enterprise_id
    if user.role is Role.PROVIDER:
        return order.provider_id == user.provider_id
    return user.role in ADMIN_ROLES


def _not_found(order_id: int) -> OrderNotFound:
    return OrderNotFound(f"订单 {order_id} 不存在 / no order {order_id}")


def get_order(session: Session, order_id: int, user: User) -> Order:
    """The order if ``user`` may see it; OrderNotFound (404) otherwise."""
    order = session.get(Order, order_id) if 0 < order_id <= MAX_ID else None
    if order is None or not can_see(user, order):
        raise _not_found(order_id)
    return order


def lock_order(session: Session, order_id: int, *, with_service: bool = False) -> Order:
    """The order row, locked (``FOR UPDATE``) and re-read. OrderNotFound if there is none.

    ``with_service`` reads the order's enterprise, its service and its provider, its invoice
    and its history in the same round trip (only the order's row is locked), for steps that
    check them and answer with the whole order."""
    stmt = (
        sa.select(Order)
        .where(Order.id == order_id)
        .with_for_update(of=Order)
        .execution_options(populate_existing=True)
    )
    if with_service:
        stmt = stmt.options(
            joinedload(Order.enterprise, innerjoin=True),
            joinedload(Order.service, innerjoin=True).joinedload(Service.provider, innerjoin=True),
            joinedload(Order.invoice),
            joinedload(Order.events),
        )
    order = session.scalars(stmt).unique().one_or_none() if 0 < order_id <= MAX_ID else None
    if order is None:
        raise _not_found(order_id)
    return order


def capacity_of(user: User, order: Order) -> Actor | None:
    """The capacity in which ``user`` may act on ``order``; None when they only read it or may
    not see it (for pages and API views that show what the user can do)."""
    if not can_see(user, order):
        return None
    if user.role is Role.ENTERPRISE:
        return Actor.ENTERPRISE
    if user.role is Role.PROVIDER:
        return Actor.PROVIDER
    return _ADMIN_ACTORS.get(user.role)


def actor_of(user: User, order: Order) -> Actor:
    """The capacity in which ``user`` acts on ``order``.

    Raises OrderNotFound when the user may not see the order and PermissionDenied for the
    read-only roles (auditor, system administrator).
    """
    if not can_see(user, order):
        raise _not_found(order.id)
    actor = capacity_of(user, order)
    if actor is None:
        raise PermissionDenied(
            "您的角色只能查看订单 / your role may only read orders",
            extra={"role": user.role.value},
        )
    return actor
