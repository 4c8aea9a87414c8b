"""The arithmetic of a partly upheld dispute: sums exact, never negative, ceiling kept."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.orders.errors import RemedyInvalid
from marketplace.orders.remedies import least_restore, partial_remedy, proportional_split
from vouchers.rules import ceiling_fen

ORDER = {"price_fen": 200_000, "voucher_part_fen": 100_000, "co_payment_fen": 100_000}


def test_a_valid_remedy_lowers_the_price_by_what_is_given_back():
    remedy = partial_remedy(**ORDER, refund_fen=20_000, restore_fen=20_000, ceiling_bps=5_000)
    assert (remedy.price_fen, remedy.voucher_part_fen, remedy.co_payment_fen) == (
        160_000,
        80_000,
        80_000,
    )
    assert remedy.reduction_fen == 40_000


@pytest.mark.parametrize(
    ("refund", "restore", "field"),
    [
        (0, 0, "refund_fen"),
        (-1, 10, "refund_fen"),
        (10, -1, "voucher_restore_fen"),
        (True, 10, "refund_fen"),
        (100_001, 0, "refund_fen"),
        (0, 100_001, "voucher_restore_fen"),
        (100_000, 100_000, "refund_fen"),
        (50_000, 0, "voucher_restore_fen"),
    ],
)
def test_invalid_remedies_name_the_field(refund, restore, field):
    with pytest.raises(RemedyInvalid) as info:
        partial_remedy(**ORDER, refund_fen=refund, restore_fen=restore, ceiling_bps=5_000)
    assert info.value.field == field


def test_the_refusal_says_how_much_must_be_restored():
    with pytest.raises(RemedyInvalid) as info:
        partial_remedy(**ORDER, refund_fen=50_000, restore_fen=0, ceiling_bps=5_000)
    minimum = info.value.extra["minimum_restore_fen"]
    # Restoring exactly that much is accepted, one fen less is not.
    partial_remedy(**ORDER, refund_fen=50_000, restore_fen=minimum, ceiling_bps=5_000)
    with pytest.raises(RemedyInvalid):
        partial_remedy(**ORDER, refund_fen=50_000, restore_fen=minimum - 1, ceiling_bps=5_000)


def test_no_voucher_no_ceiling():
    remedy = partial_remedy(
        price_fen=100_000,
        voucher_part_fen=0,
        co_payment_fen=100_000,
        refund_fen=99_999,
        restore_fen=0,
        ceiling_bps=None,
    )
    assert (remedy.price_fen, remedy.co_payment_fen) == (1, 1)


@st.composite
def orders(draw):
    price = draw(st.integers(min_value=2, max_value=10**10))
    bps = draw(st.integers(min_value=1, max_value=10_000))
    voucher = draw(st.integers(min_value=0, max_value=ceiling_fen(price, bps)))
    reduction = draw(st.integers(min_value=1, max_value=price - 1))
    return price, voucher, bps, reduction


@given(orders())
def test_the_suggested_split_is_always_an_acceptable_remedy(case):
    price, voucher, bps, reduction = case
    refund, restore = proportional_split(
        price_fen=price, voucher_part_fen=voucher, reduction_fen=reduction, ceiling_bps=bps
    )
    assert refund >= 0 and restore >= 0 and refund + restore == reduction
    remedy = partial_remedy(
        price_fen=price,
        voucher_part_fen=voucher,
        co_payment_fen=price - voucher,
        refund_fen=refund,
        restore_fen=restore,
        ceiling_bps=bps,
    )
    assert remedy.price_fen + remedy.reduction_fen == price
    assert remedy.voucher_part_fen + remedy.co_payment_fen == remedy.price_fen
    assert 0 <= remedy.voucher_part_fen <= ceiling_fen(remedy.price_fen, bps)
    assert remedy.co_payment_fen >= 0


@given(orders(), st.integers(min_value=0, max_value=10**10))
def test_least_restore_is_the_least(case, refund):
    price, voucher, bps, _reduction = case
    refund = min(refund, price - voucher)
    need = least_restore(price_fen=price - refund, voucher_part_fen=voucher, ceiling_bps=bps)
    assert voucher - need <= ceiling_fen(price - refund - need, bps)
    if need:
        assert voucher - (need - 1) > ceiling_fen(price - refund - (need - 1), bps)


def test_the_split_needs_a_reduction_inside_the_price():
    with pytest.raises(ValueError):
        proportional_split(price_fen=100, voucher_part_fen=50, reduction_fen=100, ceiling_bps=5_000)
