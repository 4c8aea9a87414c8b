"""GB/T 2260 names: the bundled table read the way pages, exports and search use it."""

import pytest

from marketplace import regions


@pytest.mark.parametrize(
    ("code", "full"),
    [
        ("530102", "云南省昆明市五华区"),
        ("532901", "云南省大理白族自治州大理市"),
        ("5301", "云南省昆明市"),
        ("53", "云南省"),
        ("110101", "北京市东城区"),  # a municipality: no prefecture row, none invented
        ("532999", "云南省大理白族自治州"),  # an unknown county keeps its known levels
        ("990000", ""),
        ("53x", ""),
    ],
)
def test_full_names(code, full):
    assert regions.full_name(code) == full


def test_label_falls_back_to_the_code():
    assert regions.label("530102") == "云南省昆明市五华区"
    assert regions.label("990101") == "990101"


def test_names_of_one_level_and_unknown_codes():
    assert regions.name("530102") == "五华区"
    assert regions.name("5329") == "大理白族自治州"
    assert regions.name("530199") is None and regions.name("abc") is None


def test_yunnan_has_sixteen_prefectures_and_kunming_its_counties():
    prefectures = regions.children("53")
    assert len(prefectures) == 16 and prefectures[0] == ("5301", "昆明市")
    counties = dict(regions.children("5301"))
    assert counties["530102"] == "五华区" and "530100" not in counties
    assert regions.children("530102") == []


def test_search_by_name_within_a_province():
    assert regions.codes_matching("五华", within="53") == ["530102"]
    assert "441424" in regions.codes_matching("五华")  # 广东省梅州市五华县
    assert regions.codes_matching("  ") == []


def test_thirty_four_provinces():
    prefixes = regions.province_prefixes()
    assert len(prefixes) == 34 and "53" in prefixes and "71" in prefixes


def test_normalise_refuses_what_is_not_a_code():
    assert regions.normalise("5301") == "530100"
    with pytest.raises(ValueError):
        regions.normalise("530")
