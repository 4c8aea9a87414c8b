"""The money rules as properties (hypothesis), serial numbers. The state machines have a
table test each (``test_<entity>_machine.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from marketplace import clock
from marketplace.credit_code import CHARSET
from marketplace.enums import SizeClass
from vouchers import rules
from vouchers.enums import ProgrammeKind
from vouchers.errors import AmountInvalid

fen = st.integers(min_value=0, max_value=rules.MAX_AMOUNT_FEN)
positive_fen = st.integers(min_value=1, max_value=rules.MAX_AMOUNT_FEN)
bps = st.integers(min_value=1, max_value=rules.BPS)


@given(price=positive_fen, requested=positive_fen, ceiling=bps, balance=fen, cap=fen)
def test_split_always_sums_exactly_and_respects_every_bound(
    price, requested, ceiling, balance, cap
):
    split = rules.split_order(
        price_fen=price,
        requested_fen=requested,
        ceiling_bps=ceiling,
        balance_fen=balance,
        cap_remaining_fen=cap,
    )
    assert split.voucher_fen + split.copay_fen == price
    assert split.voucher_fen >= 0 and split.copay_fen >= 0
    assert split.voucher_fen <= requested
    assert split.voucher_fen <= balance
    assert split.voucher_fen <= cap
    # The ceiling is never exceeded: voucher / price ≤ ceiling, in exact integers.
    assert split.voucher_fen * rules.BPS <= price * ceiling
    # And it is the largest amount that respects all four bounds.
    assert split.voucher_fen == min(requested, price * ceiling // rules.BPS, balance, cap)


@given(price=positive_fen, ceiling=bps)
def test_ceiling_rounds_down_to_the_fen(price, ceiling):
    part = rules.ceiling_fen(price, ceiling)
    assert part * rules.BPS <= price * ceiling < (part + 1) * rules.BPS


@given(price=positive_fen)
def test_at_fifty_percent_the_voucher_never_pays_more_than_the_enterprise(price):
    split = rules.split_order(
        price_fen=price,
        requested_fen=price,
        ceiling_bps=5_000,
        balance_fen=price,
        cap_remaining_fen=price,
    )
    assert split.voucher_fen <= split.copay_fen <= split.voucher_fen + 1


def test_split_names_the_binding_bound():
    def limit(**kw):
        base = dict(
            price_fen=1000,
            requested_fen=400,
            ceiling_bps=5000,
            balance_fen=300,
            cap_remaining_fen=200,
        )
        base.update(kw)
        return rules.split_order(**base).limited_by

    assert limit() is rules.Limit.CAP
    assert limit(cap_remaining_fen=10_000) is rules.Limit.BALANCE
    assert limit(cap_remaining_fen=10_000, balance_fen=10_000) is rules.Limit.REQUESTED
    assert (
        limit(cap_remaining_fen=10_000, balance_fen=10_000, requested_fen=10_000)
        is rules.Limit.CEILING
    )
    assert limit(cap_remaining_fen=0, balance_fen=0) is rules.Limit.CAP  # the cap is named first


@pytest.mark.parametrize("bad", [-1, 1.0, "5", None, True])
def test_split_refuses_non_integers(bad):
    with pytest.raises(ValueError):
        rules.split_order(
            price_fen=bad, requested_fen=1, ceiling_bps=5000, balance_fen=1, cap_remaining_fen=1
        )


@given(value=positive_fen)
def test_valid_amounts_pass_unchanged(value):
    assert rules.validate_amount(value) == value


@given(
    value=st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=rules.MAX_AMOUNT_FEN + 1),
        st.floats(allow_nan=True),
        st.text(),
        st.booleans(),
        st.decimals(allow_nan=False),
        st.none(),
    )
)
def test_invalid_amounts_are_refused(value):
    with pytest.raises(AmountInvalid) as info:
        rules.validate_amount(value)
    assert info.value.code == "amount_invalid"


@given(cap=fen, used=fen, held=fen)
def test_cap_remaining_is_never_negative(cap, used, held):
    remaining = rules.cap_remaining(cap, used, held)
    assert remaining >= 0
    if used + held <= cap:
        assert used + held + remaining == cap


@given(total=positive_fen, available=fen, alert=st.integers(0, rules.BPS))
def test_budget_alert(total, available, alert):
    assume(available <= total)
    low = Fraction(available, total) <= Fraction(alert, rules.BPS)
    assert rules.budget_is_low(available, total, alert) is low


def test_budget_alert_edges():
    assert rules.budget_is_low(1_000, 10_000, 1_000)  # exactly 10 % left
    assert not rules.budget_is_low(1_001, 10_000, 1_000)
    assert rules.bps_of(1, 3) == 3_333 and rules.bps_of(5, 0) == 0


# --------------------------------------------------------------------------- serials

body = st.text(alphabet=CHARSET, min_size=8, max_size=8)


@given(kind=st.sampled_from(list(ProgrammeKind)), year=st.integers(2000, 2100), body=body)
def test_made_serials_are_valid(kind, year, body):
    serial = rules.make_serial(kind, year, body)
    assert rules.serial_is_valid(serial)
    assert rules.serial_is_valid(serial.lower())


@given(
    kind=st.sampled_from(list(ProgrammeKind)),
    year=st.integers(2000, 2100),
    body=body,
    position=st.integers(0, 16),
    replacement=st.sampled_from(CHARSET),
)
def test_any_single_character_error_is_detected(kind, year, body, position, replacement):
    serial = rules.make_serial(kind, year, body)
    chars = [i for i, c in enumerate(serial) if c != "-"]
    index = chars[position % len(chars)]
    assume(serial[index] != replacement)
    typo = serial[:index] + replacement + serial[index + 1 :]
    assert not rules.serial_is_valid(typo)


@given(
    kind=st.sampled_from(list(ProgrammeKind)),
    year=st.integers(2000, 2100),
    body=body,
    position=st.integers(0, 15),
)
def test_any_adjacent_transposition_is_detected(kind, year, body, position):
    serial = rules.make_serial(kind, year, body)
    plain = serial.replace("-", "")
    i = position % (len(plain) - 1)
    assume(plain[i] != plain[i + 1])
    swapped = plain[:i] + plain[i + 1] + plain[i] + plain[i + 2 :]
    reformatted = f"{swapped[:6]}-{swapped[6:14]}-{swapped[14:]}"
    assert not rules.serial_is_valid(reformatted)


@pytest.mark.parametrize("text", ["", "CX2026-ABCDEFGH", "XX2026-00000000-0", "CX2026-0000000I-0"])
def test_malformed_serials_are_invalid(text):
    assert not rules.serial_is_valid(text)


# --------------------------------------------------------------------------- eligibility, dates


def test_eligibility_problems():
    fits = dict(
        region_prefix="5301",
        eligible_size_classes=["micro", "small"],
        eligible_categories=["testing"],
        region_code="530102",
        size_class=SizeClass.SMALL,
        planned_categories=["testing"],
    )
    assert rules.eligibility_problems(**fits) == []
    assert len(rules.eligibility_problems(**{**fits, "region_code": "530402"})) == 1
    assert len(rules.eligibility_problems(**{**fits, "size_class": SizeClass.MEDIUM})) == 1
    assert len(rules.eligibility_problems(**{**fits, "planned_categories": ["ip"]})) == 1


@pytest.mark.parametrize(
    ("prefix", "ok"),
    [("53", True), ("5301", True), ("530102", True), ("5", False), ("00", False), ("53a", False)],
)
def test_region_prefixes(prefix, ok):
    assert (rules.region_prefix_problem(prefix) is None) is ok


def test_the_calendar_year_is_chinas():
    # 31 Dec 2025 17:00 UTC is already 1 Jan 2026 in Kunming.
    assert clock.local_date(datetime(2025, 12, 31, 17, tzinfo=UTC)) == date(2026, 1, 1)
    assert clock.local_date(datetime(2025, 12, 31, 15, tzinfo=UTC)) == date(2025, 12, 31)
    with pytest.raises(ValueError):
        clock.local_date(datetime(2025, 1, 1))
