"""What an upheld dispute gives back, as pure arithmetic (no database, no clock).

A partly upheld dispute lowers the price by what the SME gets back: ``refund`` of its
co-payment and ``restore`` of the voucher part (returned to the voucher). The reduced order
must still obey the voucher policy (POLICY.md rule 2): the voucher part at most the
programme's ceiling (default 50%) of the reduced price, rounded down to the fen.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.orders.errors import RemedyInvalid
from vouchers.rules import ceiling_fen


@dataclass(frozen=True)
class Remedy:
    price_fen: int
    voucher_part_fen: int
    co_payment_fen: int
    refund_fen: int
    voucher_restored_fen: int

    @property
    def reduction_fen(self) -> int:
        return self.refund_fen + self.voucher_restored_fen


def partial_remedy(
    *,
    price_fen: int,
    voucher_part_fen: int,
    co_payment_fen: int,
    refund_fen: int,
    restore_fen: int,
    ceiling_bps: int | None,
) -> Remedy:
    """The order after refunding ``refund_fen`` and restoring ``restore_fen``.

    ``ceiling_bps`` is the voucher programme's ceiling (None for an order without a voucher).
    Raises RemedyInvalid (with the offending field) when the remedy gives nothing back, more
    than was paid or held, the whole price (that is a full uphold), or leaves the voucher part
    above the ceiling of the reduced price.
    """
    for name, value in (("refund_fen", refund_fen), ("voucher_restore_fen", restore_fen)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RemedyInvalid(
                "金额须为非负整数（分） / amounts are whole fen, zero or more", field=name
            )
    if refund_fen + restore_fen == 0:
        raise RemedyInvalid(
            "部分支持须退还部分款项或券额；否则请驳回 / a partial uphold must give something back;"
            " dismiss the dispute otherwise",
            field="refund_fen",
        )
    if refund_fen > co_payment_fen:
        raise RemedyInvalid(
            f"退款不能超过自付部分 {co_payment_fen} 分 / the refund cannot exceed the "
            f"{co_payment_fen} fen co-payment",
            field="refund_fen",
        )
    if restore_fen > voucher_part_fen:
        raise RemedyInvalid(
            f"返还券额不能超过券抵扣部分 {voucher_part_fen} 分 / cannot restore more than the "
            f"{voucher_part_fen} fen voucher part",
            field="voucher_restore_fen",
        )
    price = price_fen - refund_fen - restore_fen
    if price <= 0:
        raise RemedyInvalid(
            "这相当于全额退还，请选择全部支持 / that is the whole price; uphold the dispute in full",
            field="refund_fen",
        )
    voucher_part = voucher_part_fen - restore_fen
    if ceiling_bps is not None and voucher_part > ceiling_fen(price, ceiling_bps):
        minimum = least_restore(
            price_fen=price_fen - refund_fen,
            voucher_part_fen=voucher_part_fen,
            ceiling_bps=ceiling_bps,
        )
        raise RemedyInvalid(
            f"降价后券抵扣部分将超过价格的 {ceiling_bps / 100:g}%，至少须返还券额 {minimum} 分 / "
            f"the voucher part would exceed {ceiling_bps / 100:g}% of the reduced price; restore "
            f"at least {minimum} fen of the voucher",
            field="voucher_restore_fen",
            extra={"minimum_restore_fen": minimum},
        )
    return Remedy(
        price_fen=price,
        voucher_part_fen=voucher_part,
        co_payment_fen=co_payment_fen - refund_fen,
        refund_fen=refund_fen,
        voucher_restored_fen=restore_fen,
    )


def least_restore(*, price_fen: int, voucher_part_fen: int, ceiling_bps: int) -> int:
    """The least voucher restoration ``r`` with ``voucher − r ≤ ceiling × (price − r)``.

    Restoring lowers the price too, so this is found by bisection (the condition only gets
    easier as ``r`` grows; ``r = voucher`` always satisfies it).
    """
    low, high = 0, voucher_part_fen
    while low < high:
        middle = (low + high) // 2
        if voucher_part_fen - middle <= ceiling_fen(max(price_fen - middle, 0), ceiling_bps):
            high = middle
        else:
            low = middle + 1
    return low


def proportional_split(
    *, price_fen: int, voucher_part_fen: int, reduction_fen: int, ceiling_bps: int | None
) -> tuple[int, int]:
    """(refund, restore) for a price reduction of ``reduction_fen`` (0 < reduction < price):
    the least voucher restoration that keeps the ceiling, the rest refunded. A suggestion
    for the mediator's form; :func:`partial_remedy` accepts it."""
    if not 0 < reduction_fen < price_fen:
        raise ValueError("the reduction must be more than zero and less than the price")
    price = price_fen - reduction_fen
    allowed = voucher_part_fen if ceiling_bps is None else ceiling_fen(price, ceiling_bps)
    restore = min(reduction_fen, max(0, voucher_part_fen - allowed))
    return reduction_fen - restore, restore
