"""GB 32100-2015 unified social credit codes: each rule fails with its own code."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.credit_code import (
    CHARSET,
    CreditCodeError,
    credit_check_character,
    make_credit_code,
    organisation_check_digit,
    parse_credit_code,
)

KNOWN_VALID = "91350100M000100Y43"  # the example printed in the standard's guidance


def test_known_real_code_is_valid():
    code = parse_credit_code(KNOWN_VALID)
    assert code.authority == "9" and code.category == "1"
    assert code.division_code == "350100"
    assert code.organisation_code == "M000100Y4"
    assert code.province == "福建省"
    assert not code.is_yunnan


def test_yunnan_and_kunming_regions():
    kunming = parse_credit_code(make_credit_code("530102", "MA6K0001"))
    assert kunming.is_yunnan and kunming.is_kunming
    assert kunming.region_name == "云南省昆明市五华区"
    dali = parse_credit_code(make_credit_code("532901", "MA6K0002"))
    assert dali.is_yunnan and not dali.is_kunming
    assert dali.region_name == "云南省大理白族自治州大理市"


def test_whitespace_and_lower_case_are_normalised():
    assert parse_credit_code(f"  {KNOWN_VALID.lower()} ").value == KNOWN_VALID


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("9135010", "length"),
        (KNOWN_VALID + "1", "length"),
        ("91350100M000100YI3", "charset"),  # I is never used
        ("91350100M000100YO3", "charset"),
        ("B1350100M000100Y43", "authority"),
        ("94350100M000100Y43", "category"),  # authority 9 has categories 1-3 only
        ("9135A100M000100Y43", "division"),
        ("91990100M000100Y43", "division"),  # no province 99
        ("91350100M000100Y53", "organisation_check"),
        ("91350100M000100Y44", "check"),
    ],
)
def test_each_rule_has_its_own_error(raw, rule):
    with pytest.raises(CreditCodeError) as info:
        parse_credit_code(raw)
    assert info.value.code == rule
    assert info.value.message  # bilingual, names the rule


def test_error_message_names_the_expected_check_character():
    with pytest.raises(CreditCodeError) as info:
        parse_credit_code("91350100M000100Y44")
    assert "'3'" in info.value.message and "第18位" in info.value.message


def test_organisation_check_digit_maps_10_to_x_and_11_to_0():
    # GB 11714 examples: D2143569-X is a published valid organisation code.
    assert organisation_check_digit("D2143569") == "X"
    assert organisation_check_digit("M000100Y") == "4"


body = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8)
divisions = st.sampled_from(["530102", "530402", "532901", "110105", "440300"])


@given(division=divisions, org_body=body)
def test_built_codes_always_parse(division, org_body):
    code = make_credit_code(division, org_body)
    assert parse_credit_code(code).division_code == division


@given(division=divisions, org_body=body, position=st.integers(0, 17), data=st.data())
def test_any_single_character_change_is_detected(division, org_body, position, data):
    code = make_credit_code(division, org_body)
    replacement = data.draw(st.sampled_from([c for c in CHARSET if c != code[position]]))
    mutated = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(CreditCodeError):
        parse_credit_code(mutated)


def test_check_character_is_in_the_charset():
    assert credit_check_character("91350100M000100Y4") == "3"
