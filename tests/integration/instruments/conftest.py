"""The instrument of tests.support.instrument_fixtures, inside the app's context."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.instrument_fixtures import InstrumentWorld, make_instrument
from tests.support.order_fixtures import OrderWorld


@pytest.fixture
def instrument(order_world: OrderWorld, orders_ctx: Any) -> InstrumentWorld:
    return make_instrument(order_world)
