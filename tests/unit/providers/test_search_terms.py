"""How a query becomes terms: Chinese runs, Latin runs, punctuation, full-width letters."""

from __future__ import annotations

import pytest

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
