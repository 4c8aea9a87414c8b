import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.money import MoneyFormatError, format_bps, format_fen, parse_yuan


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "¥0.00"),
        (5, "¥0.05"),
        (123456, "¥1,234.56"),
        (3_000_000, "¥30,000.00"),
        (-250, "-¥2.50"),
    ],
)
def test_format(fen, text):
    assert format_fen(fen) == text


def test_format_refuses_floats():
    with pytest.raises(TypeError):
        format_fen(12.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fen"),
    [("30000", 3_000_000), ("1,234.5", 123450), ("¥0.01", 1), (" 12.34 ", 1234), ("￥8", 800)],
)
def test_parse(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["", "abc", "1.234", "-5", "1e3", "12.", "NaN"])
def test_parse_refuses_anything_but_plain_amounts(text):
    with pytest.raises(MoneyFormatError):
        parse_yuan(text)


@given(st.integers(min_value=0, max_value=10**16))
def test_round_trip(fen):
    assert parse_yuan(format_fen(fen)) == fen


@pytest.mark.parametrize(
    ("fen", "text"), [(246915, "2469.15"), (3_000_000, "30000.00"), (5, "0.05"), (-100, "-1.00")]
)
def test_format_as_typed_into_a_form(fen, text):
    assert format_fen(fen, symbol=False, grouping=False) == text
    assert parse_yuan(text.lstrip("-")) == abs(fen)


@pytest.mark.parametrize(
    ("bps", "shown"),
    [
        (10_000, "100%"),
        (5_000, "50%"),
        (3_333, "33.33%"),
        (2_550, "25.5%"),
        (5, "0.05%"),
        (0, "0%"),
    ],
)
def test_a_share_in_basis_points_is_shown_exactly(bps, shown):
    assert format_bps(bps) == shown
