"""``seed`` called without an application context (as some tests do) makes no orders: they
need the application's payment, e-mail and upload settings."""

from datetime import date

from flask import has_app_context

from marketplace.demo import seed


def test_seed_outside_the_application_skips_orders(session):
    assert not has_app_context()
    result = seed(session, today=date(2026, 6, 15))
    # Three vouchers in the single-funder programmes, two in the co-funded one.
    assert result.created["vouchers"] == 5 and "orders" not in result.created
    assert "co-funded orders" not in result.created
