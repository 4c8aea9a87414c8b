"""Named errors of the outcomes domain."""

from __future__ import annotations

from marketplace.errors import Conflict


class OrderNotCompleted(Conflict):
    code = "order_not_completed"
    title = "Outcomes are recorded once the order is completed (confirmed)"


class OutcomeLocked(Conflict):
    code = "outcome_locked"
    title = "Outcomes can be edited for one year after the order was confirmed"
