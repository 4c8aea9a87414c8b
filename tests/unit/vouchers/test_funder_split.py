"""The funders' split of a voucher part: largest remainder, ties to the first funder, always
to the fen (vouchers.rules.split_fen)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vouchers.enums import FunderLevel
from vouchers.funders import home_code, level_of
from vouchers.rules import BPS, split_fen

amounts = st.integers(min_value=0, max_value=10**12)


@st.composite
def shares(draw: st.DrawFn) -> list[int]:
    """Basis points summing to 10,000, 1–6 shares, none zero."""
    count = draw(st.integers(min_value=1, max_value=6))
    cuts = sorted(draw(st.sets(st.integers(1, BPS - 1), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, BPS]
    return [b - a for a, b in itertools.pairwise(bounds)]


@given(amounts, shares())
def test_the_parts_add_up_to_the_voucher_part_to_the_fen(amount: int, bps: list[int]) -> None:
    parts = split_fen(amount, bps)
    assert sum(parts) == amount
    assert len(parts) == len(bps)
    for part, weight in zip(parts, bps, strict=True):
        exact_floor = amount * weight // BPS
        # Each part is its exact quota rounded down or up, never further away.
        assert exact_floor <= part <= exact_floor + 1


@given(amounts, shares())
def test_the_remainder_goes_to_the_largest_remainders_ties_to_the_first(
    amount: int, bps: list[int]
) -> None:
    parts = split_fen(amount, bps)
    rounded_up = [
        i for i, (p, w) in enumerate(zip(parts, bps, strict=True)) if p > amount * w // BPS
    ]
    kept = [i for i in range(len(bps)) if i not in rounded_up]
    remainder = [amount * w % BPS for w in bps]
    for up in rounded_up:
        for down in kept:
            # Nobody left out had a larger remainder, nor an equal one earlier in share order.
            assert remainder[down] < remainder[up] or (
                remainder[down] == remainder[up] and down > up
            )


@given(st.data(), shares())
def test_a_smaller_amount_split_by_the_held_parts_never_exceeds_a_part(
    data: st.DataObject, bps: list[int]
) -> None:
    held_total = data.draw(st.integers(min_value=1, max_value=10**9))
    held = split_fen(held_total, bps)
    captured_total = data.draw(st.integers(min_value=0, max_value=held_total))
    weights = held if any(held) else bps
    captured = split_fen(captured_total, weights)
    assert sum(captured) == captured_total
    assert all(0 <= c <= h for c, h in zip(captured, held, strict=True))


def test_worked_examples() -> None:
    # 50/50 of an odd fen: the first funder in share order takes the odd fen.
    assert split_fen(100_001, [5_000, 5_000]) == [50_001, 50_000]
    # One third each of 100 fen: remainders tie, the first share gets the extra fen.
    assert split_fen(100, [3_334, 3_333, 3_333]) == [34, 33, 33]
    # Largest remainder wins over position: 1 fen at 30/70 goes to the 70 % share.
    assert split_fen(1, [3_000, 7_000]) == [0, 1]
    assert split_fen(0, [5_000, 5_000]) == [0, 0]


def test_refused_inputs() -> None:
    with pytest.raises(ValueError):
        split_fen(-1, [BPS])
    with pytest.raises(ValueError):
        split_fen(1, [0, 0])
    with pytest.raises(ValueError):
        split_fen(1, [-1, BPS + 1])


def test_levels_and_homes_from_the_division_code() -> None:
    assert level_of("530000") is FunderLevel.PROVINCE
    assert level_of("5303") is FunderLevel.PREFECTURE
    assert level_of("530102") is FunderLevel.COUNTY
    assert home_code("530302", FunderLevel.PREFECTURE) == "530300"
    assert home_code("530302", FunderLevel.COUNTY) == "530302"
