"""Vocabularies of the risk domain, stored by value."""

from __future__ import annotations

from marketplace.enums import LabelledEnum


class Rule(LabelledEnum):
    """One risk rule (marketplace.risk.rules): each has its own threshold and weight."""

    PAIR_REPEAT = "pair_repeat", "同一企业与机构反复交易", "Same SME–provider pair repeating"
    UNDER_CAP = "under_cap", "用券紧贴年度上限", "Claims bunched just under the cap"
    BEFORE_DEADLINE = "before_deadline", "临近截止日集中兑付", "Claimed just before the deadline"
    ABOVE_CATALOGUE = "above_catalogue", "价格高于目录价", "Price above the catalogue price"
    ABOVE_MEDIAN = "above_median", "价格远高于同类中位数", "Price far above the category median"
    PROVIDER_SHARE = "provider_share", "机构占券种份额过高", "Outsized provider share"
    SAME_DAY = "same_day", "下单交付验收同日完成", "Order, delivery and confirmation on one day"
    INVOICE_EARLY = "invoice_early", "发票早于协议日期", "Invoice dated before the agreement"
    ROUND_PRICE = "round_price", "整数价格", "Round-number price"
    PROVIDER_SPIKE = "provider_spike", "机构订单激增", "Sudden spike at the provider"
    REGION_SPIKE = "region_spike", "地区订单激增", "Sudden spike in the region"
    RELATED_PARTY = "related_party", "疑似关联方", "Possible related parties"


class FindingOutcome(LabelledEnum):
    CLEARED = "cleared", "未见异常", "Cleared"
    IRREGULAR = "irregular", "存在违规", "Irregular"


class FollowUp(LabelledEnum):
    """What an irregular finding starts besides lowering the provider's credit score."""

    NONE = "none", "无", "Nothing more"
    BLACKLIST = "blacklist", "列入失信名单", "List the enterprise as dishonest"
    RECOVERY = "recovery", "追回资金", "Recover the voucher money"
