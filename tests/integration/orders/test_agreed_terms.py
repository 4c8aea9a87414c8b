"""The service's terms are kept with the order from the moment the SME accepts the agreement:
a later edit of the service changes neither them nor the delivery date. Both databases,
including the database rule and the migration's backfill of existing orders."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from marketplace import migrate
from marketplace.clock import local_date
from marketplace.enums import ServiceCategory
from marketplace.orders import services
from marketplace.orders.enums import OrderAction
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Order, OrderEvent
from providers import catalogue
from providers.catalogue import ServiceInput
from tests.support.voucher_fixtures import VOUCHER_NOW


def _edit(session, order_world, service, **changes):
    """The provider edits its service in the catalogue (the real service)."""
    values = {
        "title": service.title,
        "category": service.category,
        "description": service.description,
        "pricing": service.pricing,
        "price_fen": service.price_fen,
        "unit": service.unit,
        "lead_time_days": service.lead_time_days,
    }
    values.update(changes)
    provider = service.provider
    catalogue.update_service(
        session,
        provider,
        service.id,
        ServiceInput(**values),
        actor_id=order_world.provider_user(provider).id,
    )


def test_acceptance_copies_the_terms(session, order_world, create_order, create_service):
    service = create_service(lead_time_days=7, unit="样品", title="金属材料力学性能检测")
    order = create_order(S.AGREED, service=service)
    assert (
        order.agreed_title,
        order.agreed_category,
        order.agreed_description,
        order.agreed_unit,
        order.agreed_lead_time_days,
    ) == ("金属材料力学性能检测", ServiceCategory.TESTING, service.description, "样品", 7)
    assert order.agreed_terms["accepted_at"] == order.agreement_accepted_at
    assert order.terms_changed_since is False
    accepted = session.scalar(
        sa.select(OrderEvent).where(
            OrderEvent.order_id == order.id, OrderEvent.action == OrderAction.ACCEPT
        )
    )
    assert accepted.detail["lead_time_days"] == 7
    assert accepted.detail["service_version"] == service.version


def test_an_edit_after_acceptance_moves_neither_the_terms_nor_the_due_date(
    session, order_world, create_order, create_service
):
    service = create_service(lead_time_days=7, title="原服务名称")
    order = create_order(S.AGREED, service=service)
    _edit(session, order_world, service, title="改名后的服务", unit="批", lead_time_days=60)
    assert service.lead_time_days == 60

    order_world.pay(order, now=VOUCHER_NOW)
    assert order.status is S.PAID
    assert order.due_on == local_date(VOUCHER_NOW) + timedelta(days=7)
    assert (order.agreed_title, order.agreed_unit, order.agreed_lead_time_days) == (
        "原服务名称",
        "样品",
        7,
    )
    assert order.terms_changed_since is True


def test_before_acceptance_the_order_follows_the_service(
    session, order_world, create_order, create_service
):
    service = create_service(lead_time_days=7)
    order = create_order(S.QUOTED, service=service)
    assert order.agreed_terms is None and order.agreed_lead_time_days is None
    _edit(session, order_world, service, lead_time_days=12)
    # Accepting now agrees to the service as it is now.
    sme = order_world.sme(order)
    voucher = order_world.voucher_of(order.enterprise, order_world.programme())
    services.accept(session, order.id, sme, voucher_id=voucher.id, agree=True, now=VOUCHER_NOW)
    assert order.agreed_lead_time_days == 12
    order_world.pay(order, now=VOUCHER_NOW)
    assert order.due_on == local_date(VOUCHER_NOW) + timedelta(days=12)


@pytest.mark.parametrize(
    "change",
    [
        {"agreed_title": None},
        {"agreed_category": None},
        {"agreed_description": None},
        {"agreed_unit": None},
        {"agreed_lead_time_days": None},
        {"agreed_lead_time_days": 0},
    ],
    ids=lambda c: f"{next(iter(c))}={next(iter(c.values()))}",
)
def test_the_database_refuses_an_accepted_order_without_its_terms(session, create_order, change):
    order = create_order(S.AGREED)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(sa.update(Order).where(Order.id == order.id).values(**change))


def test_the_database_refuses_an_unknown_category(session, create_order):
    order = create_order(S.AGREED)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            sa.text("UPDATE orders SET agreed_category = 'astrology' WHERE id = :id"),
            {"id": order.id},
        )


def test_migration_backfills_existing_orders(session, order_world, create_order, create_service):
    """Orders from before 0008a: accepted ones take their service's terms, paid ones the lead
    time that was applied at payment (due_on − the payment's date in China); others none.

    The migration runs inside the test's transaction (rolled back afterwards), so the orders
    are real ones made through the services."""
    service = create_service(lead_time_days=9, title="旧名称")
    quoted = create_order(S.QUOTED, service=service)
    agreed = create_order(S.AGREED, service=service)
    paid = create_order(S.PAID, service=service)  # due_on = payment date + 9 days
    session.flush()
    connection = session.connection()
    config = migrate.alembic_config(connection=connection)

    command.downgrade(config, "0008a-1")
    columns = {c["name"] for c in sa.inspect(connection).get_columns("orders")}
    assert "agreed_title" not in columns
    # Meanwhile (before the upgrade) the provider edited the service.
    connection.execute(
        sa.text("UPDATE services SET title = '新名称', lead_time_days = 30 WHERE id = :id"),
        {"id": service.id},
    )

    command.upgrade(config, "0008a")
    found = {
        row.id: row
        for row in connection.execute(
            sa.text(
                "SELECT id, agreed_title, agreed_category, agreed_unit, agreed_lead_time_days,"
                " agreed_description FROM orders WHERE id IN (:a, :b, :c)"
            ),
            {"a": quoted.id, "b": agreed.id, "c": paid.id},
        )
    }
    assert found[quoted.id].agreed_title is None and found[quoted.id].agreed_lead_time_days is None
    assert (found[agreed.id].agreed_title, found[agreed.id].agreed_lead_time_days) == ("新名称", 30)
    assert (found[paid.id].agreed_title, found[paid.id].agreed_lead_time_days) == ("新名称", 9)
    assert found[paid.id].agreed_category == "testing" and found[paid.id].agreed_unit == "样品"
    assert found[paid.id].agreed_description == service.description
    session.expire_all()
