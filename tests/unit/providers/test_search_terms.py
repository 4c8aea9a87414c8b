"""How a query becomes terms: Chinese runs, Latin runs, punctuation, full-width letters."""

from __future__ import annotations

import pytest

from providers import search
from providers.search import MAX_TERMS, query_terms


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("检测", ["检测"]),
        ("材料检测服务", ["材料检测服务"]),
        ("SEM 扫描电镜", ["SEM", "扫描电镜"]),
        ("SEM扫描电镜", ["SEM", "扫描电镜"]),
        ("ＳＥＭ，扫描电镜。", ["SEM", "扫描电镜"]),
        ("JSM-7610F 电镜", ["JSM-7610F", "电镜"]),
        ("ISO/IEC 17025", ["ISO/IEC", "17025"]),
        ("专利  专利 PATENT patent", ["专利", "PATENT"]),
        ("", []),
        ("   ，。  ", []),
    ],
)
def test_query_terms(query, terms):
    assert query_terms(query) == terms


def test_terms_are_capped():
    assert len(query_terms(" ".join(f"t{n}" for n in range(20)))) == MAX_TERMS
    assert len(query_terms("检" * 100)[0]) == 40


@pytest.mark.parametrize(
    ("term", "caseless"),
    [
        ("检测", True),
        ("检", True),
        ("1234", True),
        ("100%", True),
        ("检_测", True),
        ("CNAS", False),
        ("emc", False),
        ("L1234", False),
        ("JSM-7610F", False),
        ("é", False),  # cased outside ASCII
        ("Ａ", False),  # full-width letters (NFKC makes them ASCII before this, but still)
        ("ǅ", False),  # title case: lower- and upper-case forms differ from it
    ],
)
def test_only_terms_without_cased_characters_skip_lower_casing(term, caseless):
    """The walk tests a caseless term against the text as stored (no lower()): right only
    when no character of the term is the lower case of another character."""
    assert search._caseless(term) is caseless
    if caseless:
        assert term.lower() == term == term.upper()
