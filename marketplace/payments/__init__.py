"""Payments: an SME's co-payment (or anything else payable), through Stripe or bank transfer.

Map of the package:

* ``models``    — ``payments`` (one per payable reference), ``payment_refunds`` (append-only),
  ``payment_disputes`` (chargebacks, as the gateway reports them), ``payment_webhook_events``
  (each gateway event id once);
* ``gateway``   — the :class:`~.gateway.PaymentGateway` protocol, its value objects and the one
  factory (:func:`~.gateway.gateway_for` / :func:`~.gateway.current_gateway`);
* ``stripe_gateway`` / ``offline`` — the two implementations (only the first imports ``stripe``);
* ``services``  — ``start_payment``, ``open_at_gateway``, ``checkout``,
  ``record_offline_payment``, ``refund``, ``execute_refund``, ``cancel_payment``,
  ``apply_gateway_dispute``, ``sync_from_gateway``; ``refundable_fen`` is also what counts as
  received (open or lost chargebacks are withheld from it);
* ``webhooks``  — ``process_webhook`` (verify, record once, apply in order-independent way);
* ``listeners`` — ``on_payment_status(prefix, callback)``: how the owner of a reference learns
  that its payment succeeded, failed, was canceled or refunded, in the same transaction;
* ``enums``     — gateways, statuses, and the news that moves them;
* ``rules``     — the state machines of payments, refunds and chargebacks (status
  precedence), idempotency keys, the refund limit (pure);
* ``cli``       — ``flask payments sync``.

The webhook endpoint is a page route (``marketplace/web/payments/views.py``), the finance pages
are in ``marketplace/web/admin/payments.py`` and the JSON API in ``marketplace/api/payments.py``.

How an order uses it (the orders module)::

    payment = services.start_payment(session, f"order:{order.id}", order.copay_fen,
                                     description=f"订单 {order.number} 自付部分",
                                     payer_id=current_user.id)
    details = services.checkout(session, payment.id)   # client secret or transfer instructions

    @on_payment_status("order:")
    def on_order_payment(session, payment, change): ...

    services.refund(session, payment.id, amount_fen=..., reason=..., actor_id=...)
"""
