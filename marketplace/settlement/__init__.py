"""Settlement pages for providers (claims).

The cooling-off period (``SETTLEMENT_COOLING_OFF_DAYS``, validated with every other setting in
``marketplace.config``) is how many days after confirmation (China dates) an order can be
claimed, so a late dispute can still stop it before money is claimed.
"""

from __future__ import annotations

from flask import current_app


def cooling_off_days() -> int:
    return int(current_app.config["SETTINGS"].settlement_cooling_off_days)
