"""Offline gateway: the payer transfers by bank, a finance officer records the receipt.

There is no remote system, so nothing can crash between our write and "the gateway": the
database row *is* the gateway's record. Opening a payment only produces the transfer
instructions (the remittance code to quote); receipts are recorded with
``services.record_offline_payment``; refunds are bank transfers made by finance, recorded with
their bank reference. The demo therefore works with no network at all.
"""

from __future__ import annotations

from marketplace.payments.enums import GatewayKind, PaymentStatus, RefundStatus
from marketplace.payments.errors import GatewayError, InvalidWebhook
from marketplace.payments.gateway import (
    GatewayDispute,
    GatewayEvent,
    GatewayIntent,
    GatewayRefund,
)
from marketplace.payments.models import remittance_code


class OfflineGateway:
    """Bank transfers behind :class:`~marketplace.payments.gateway.PaymentGateway`."""

    kind = GatewayKind.OFFLINE
    manual_confirmation = True

    def create_intent(
        self,
        *,
        payment_id: int,
        reference: str,
        amount_fen: int,
        currency: str,
        idempotency_key: str,
    ) -> GatewayIntent:
        code = remittance_code(payment_id)
        return GatewayIntent(
            external_id=None,
            status=PaymentStatus.PENDING,
            amount_fen=amount_fen,
            currency=currency,
            payment_id=payment_id,
            instructions=(
                f"请通过银行转账支付，并在附言中填写 {code} / "
                f"Pay by bank transfer and quote {code} as the remittance reference"
            ),
        )

    def retrieve_intent(self, external_id: str) -> GatewayIntent:
        raise GatewayError(
            "线下转账没有可查询的网关记录 / an offline payment has no gateway record to read"
        )

    def find_intent(self, *, payment_id: int, reference: str) -> GatewayIntent | None:
        return None

    def cancel_intent(self, external_id: str, *, idempotency_key: str) -> GatewayIntent:
        raise GatewayError("已到账的线下转账不能取消 / a received bank transfer cannot be canceled")

    def create_refund(
        self,
        *,
        payment_external_id: str,
        refund_id: int,
        amount_fen: int,
        idempotency_key: str,
        bank_reference: str | None = None,
    ) -> GatewayRefund:
        if not bank_reference or not bank_reference.strip():
            raise GatewayError(
                "请填写退款转账的银行流水号 / give the bank reference of the refund transfer"
            )
        return GatewayRefund(
            external_id=bank_reference.strip(),
            status=RefundStatus.SUCCEEDED,
            amount_fen=amount_fen,
            refund_id=refund_id,
            payment_external_id=payment_external_id,
        )

    def list_refunds(self, payment_external_id: str) -> list[GatewayRefund]:
        return []

    def list_disputes(self, payment_external_id: str) -> list[GatewayDispute]:
        return []  # a bank transfer cannot be charged back

    def intent_id_for_charge(self, charge_external_id: str) -> str | None:
        return None

    def parse_webhook(self, payload: bytes, signature: str | None, *, now: float) -> GatewayEvent:
        raise InvalidWebhook("线下转账没有 Webhook / the offline gateway sends no webhooks")
