"""Service-level order tests run inside the app's context (the services read its settings)."""

import pytest


@pytest.fixture(autouse=True)
def _app_context(orders_ctx):
    return orders_ctx
