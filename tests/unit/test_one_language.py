"""Bilingual domain messages shown in one language (marketplace.i18n.one_language)."""

from __future__ import annotations

import pytest
from flask import Flask

from marketplace.extensions import babel
from marketplace.i18n import one_language


@pytest.fixture
def in_language():
    app = Flask(__name__)
    babel.init_app(app, locale_selector=lambda: app.config["LANG"])

    def run(lang: str, text: str) -> str:
        app.config["LANG"] = lang
        with app.test_request_context("/"):
            return one_language(text)

    return run


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        (
            "金额必须大于零 / the amount must be positive: 0",
            "金额必须大于零",
            "the amount must be positive: 0",
        ),
        ("row 2: 金额有误 / wrong amount", "row 2: 金额有误", "row 2: wrong amount"),
        ("路径 a / b / 说明 / see a/b", "路径 a / b / 说明", "see a/b"),
        ("只有中文", "只有中文", "只有中文"),
        (
            "注册地（云南省昆明市）不在适用地区内 / registered in 云南省昆明市 (5301)",
            "注册地（云南省昆明市）不在适用地区内",
            "registered in 云南省昆明市 (5301)",
        ),
        (
            "English only / still English",
            "English only / still English",
            "English only / still English",
        ),
    ],
)
def test_one_side_per_language(in_language, text, zh, en):
    assert in_language("zh", text) == zh
    assert in_language("en", text) == en


def test_outside_a_request_it_is_chinese():
    assert one_language("中文 / English") == "中文"
