"""Vocabularies of the outcomes domain."""

from __future__ import annotations

from marketplace.enums import LabelledEnum


class PatentType(LabelledEnum):
    """The three kinds of Chinese patent (专利法 art. 2)."""

    INVENTION = "invention", "发明专利", "Invention patent"
    UTILITY_MODEL = "utility_model", "实用新型专利", "Utility model"
    DESIGN = "design", "外观设计专利", "Design patent"


class SummaryBy(LabelledEnum):
    PROGRAMME = "programme", "按券种", "By programme"
    CATEGORY = "category", "按服务类别", "By service category"
    REGION = "region", "按地区", "By region"
