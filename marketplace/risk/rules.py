"""The risk rules: each a small pure function of an order's facts and its own setting.

A rule returns a :class:`Hit` (with an explanation in both languages and the records it
links to) or ``None``. The facts are gathered by :mod:`marketplace.risk.services`; the rules
never read the database, so each can be tested alone with a hand-made case.

Thresholds are integers: counts, days, fen or basis points (10,000 = 100 %).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from marketplace.money import format_fen
from marketplace.risk.enums import Rule

BPS = 10_000
MAX_SCORE = 100
#: A median or a monthly mean needs this many records before a comparison with it means much.
MIN_SAMPLES = 5


@dataclass(frozen=True, slots=True)
class Setting:
    threshold: int
    weight: int
    enabled: bool = True


#: Each rule's threshold (its unit in ``UNITS``) and its weight in the 0–100 risk score.
DEFAULTS: dict[Rule, Setting] = {
    Rule.PAIR_REPEAT: Setting(3, 15),
    Rule.UNDER_CAP: Setting(500, 15),
    Rule.BEFORE_DEADLINE: Setting(7, 10),
    Rule.ABOVE_CATALOGUE: Setting(0, 20),
    Rule.ABOVE_MEDIAN: Setting(20_000, 20),
    Rule.PROVIDER_SHARE: Setting(3_000, 10),
    Rule.SAME_DAY: Setting(0, 20),
    Rule.INVOICE_EARLY: Setting(0, 25),
    Rule.ROUND_PRICE: Setting(100_000, 5),
    Rule.PROVIDER_SPIKE: Setting(30_000, 10),
    Rule.REGION_SPIKE: Setting(30_000, 10),
    Rule.RELATED_PARTY: Setting(1, 30),
}

UNITS: dict[Rule, str] = {
    Rule.PAIR_REPEAT: "orders of the pair in one year (this one included)",
    Rule.UNDER_CAP: "basis points of the cap left at most",
    Rule.BEFORE_DEADLINE: "days before the claim deadline at most",
    Rule.ABOVE_CATALOGUE: "basis points above the catalogue price tolerated",
    Rule.ABOVE_MEDIAN: "basis points of the category median (20000 = twice)",
    Rule.PROVIDER_SHARE: "basis points of the programme's voucher money",
    Rule.SAME_DAY: "days from agreement to confirmation at most",
    Rule.INVOICE_EARLY: "days the invoice may precede the agreement",
    Rule.ROUND_PRICE: "fen: prices that are a multiple of this",
    Rule.PROVIDER_SPIKE: "basis points of the previous six months' monthly mean",
    Rule.REGION_SPIKE: "basis points of the previous six months' monthly mean",
    Rule.RELATED_PARTY: "shared phone, address or e-mail domain (count) at least",
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules look at for one agreed order (amounts in fen, days in Beijing time)."""

    order_id: int
    enterprise_id: int
    provider_id: int
    price_fen: int
    quantity: int = 1
    voucher_part_fen: int = 0
    catalogue_unit_fen: int | None = None
    category_median_unit_fen: int | None = None
    category_samples: int = 0
    pair_order_ids: tuple[int, ...] = ()
    cap_fen: int | None = None
    cap_taken_fen: int = 0
    claim_line_id: int | None = None
    claimed_on: date | None = None
    claim_deadline: date | None = None
    programme_id: int | None = None
    provider_programme_fen: int = 0
    programme_total_fen: int = 0
    agreed_on: date | None = None
    delivered_on: date | None = None
    confirmed_on: date | None = None
    invoice_issued_on: date | None = None
    provider_month_orders: int = 0
    provider_previous_mean_x100: int = 0
    region_code: str = ""
    region_month_orders: int = 0
    region_previous_mean_x100: int = 0
    shared_weak: tuple[tuple[str, str, str], ...] = ()  # (kind value, label, evidence)


@dataclass(frozen=True, slots=True)
class Hit:
    rule: Rule
    zh: str
    en: str
    links: dict[str, list[int]] = field(default_factory=dict)


def _yuan(fen: int) -> str:
    return format_fen(fen)


def pair_repeat(f: Facts, s: Setting) -> Hit | None:
    if len(f.pair_order_ids) < s.threshold:
        return None
    n = len(f.pair_order_ids)
    return Hit(
        Rule.PAIR_REPEAT,
        f"同一企业与同一机构本年度已有 {n} 笔订单（阈值 {s.threshold}）",
        f"the same SME and provider have {n} orders this year (threshold {s.threshold})",
        {"orders": list(f.pair_order_ids), "enterprises": [f.enterprise_id]},
    )


def under_cap(f: Facts, s: Setting) -> Hit | None:
    if not f.cap_fen or f.voucher_part_fen <= 0:
        return None
    left = f.cap_fen - f.cap_taken_fen
    if left < 0 or left * BPS > f.cap_fen * s.threshold:
        return None
    return Hit(
        Rule.UNDER_CAP,
        f"用券后年度额度仅余 {_yuan(left)}（上限 {_yuan(f.cap_fen)}）",
        f"only {_yuan(left)} of the {_yuan(f.cap_fen)} annual cap left after this order",
        {"enterprises": [f.enterprise_id]},
    )


def before_deadline(f: Facts, s: Setting) -> Hit | None:
    if f.claimed_on is None or f.claim_deadline is None:
        return None
    days = (f.claim_deadline - f.claimed_on).days
    if not 0 <= days <= s.threshold:
        return None
    return Hit(
        Rule.BEFORE_DEADLINE,
        f"兑付申请在截止日（{f.claim_deadline}）前 {days} 天提交",
        f"claimed {days} day(s) before the claim deadline ({f.claim_deadline})",
        {"claim_lines": [f.claim_line_id] if f.claim_line_id else []},
    )


def above_catalogue(f: Facts, s: Setting) -> Hit | None:
    if f.catalogue_unit_fen is None or f.catalogue_unit_fen <= 0:
        return None
    listed = f.catalogue_unit_fen * f.quantity
    if f.price_fen * BPS <= listed * (BPS + s.threshold):
        return None
    return Hit(
        Rule.ABOVE_CATALOGUE,
        f"成交价 {_yuan(f.price_fen)} 高于目录价 {_yuan(listed)}",
        f"price {_yuan(f.price_fen)} is above the catalogue price {_yuan(listed)}",
        {"providers": [f.provider_id]},
    )


def above_median(f: Facts, s: Setting) -> Hit | None:
    median = f.category_median_unit_fen
    if median is None or median <= 0 or f.category_samples < MIN_SAMPLES:
        return None
    unit = f.price_fen // max(1, f.quantity)
    if unit * BPS <= median * s.threshold:
        return None
    return Hit(
        Rule.ABOVE_MEDIAN,
        f"单价 {_yuan(unit)} 超过同类服务中位数 {_yuan(median)} 的 {s.threshold / 100:g}%",
        f"unit price {_yuan(unit)} exceeds {s.threshold / 100:g}% of the category median "
        f"{_yuan(median)} ({f.category_samples} orders)",
        {},
    )


def provider_share(f: Facts, s: Setting) -> Hit | None:
    if f.programme_total_fen <= 0 or f.provider_programme_fen <= 0:
        return None
    share = f.provider_programme_fen * BPS // f.programme_total_fen
    if share <= s.threshold:
        return None
    return Hit(
        Rule.PROVIDER_SHARE,
        f"该机构占本券种用券金额的 {share / 100:.2f}%",
        f"the provider took {share / 100:.2f}% of the programme's voucher money",
        {"providers": [f.provider_id], "programmes": [f.programme_id] if f.programme_id else []},
    )


def same_day(f: Facts, s: Setting) -> Hit | None:
    if f.agreed_on is None or f.delivered_on is None or f.confirmed_on is None:
        return None
    if (f.confirmed_on - f.agreed_on).days > s.threshold:
        return None
    return Hit(
        Rule.SAME_DAY,
        f"协议、交付、验收均在 {f.agreed_on} 前后 {s.threshold} 天内完成",
        f"agreed, delivered and confirmed within {s.threshold} day(s) of {f.agreed_on}",
        {},
    )


def invoice_early(f: Facts, s: Setting) -> Hit | None:
    if f.invoice_issued_on is None or f.agreed_on is None:
        return None
    early = (f.agreed_on - f.invoice_issued_on).days
    if early <= s.threshold:
        return None
    return Hit(
        Rule.INVOICE_EARLY,
        f"发票日期 {f.invoice_issued_on} 早于协议日期 {f.agreed_on}",
        f"invoice dated {f.invoice_issued_on}, before the agreement on {f.agreed_on}",
        {},
    )


def round_price(f: Facts, s: Setting) -> Hit | None:
    if s.threshold <= 0 or f.price_fen <= 0 or f.price_fen % s.threshold:
        return None
    return Hit(
        Rule.ROUND_PRICE,
        f"成交价 {_yuan(f.price_fen)} 为 {_yuan(s.threshold)} 的整数倍",
        f"the price {_yuan(f.price_fen)} is a whole multiple of {_yuan(s.threshold)}",
        {},
    )


def _spike(count: int, mean_x100: int, threshold: int) -> bool:
    # The mean is in hundredths of an order; a month without history is no spike: nothing
    # to compare with (a new provider's first month is not suspicious by itself).
    return count >= MIN_SAMPLES and mean_x100 > 0 and count * 100 * BPS > mean_x100 * threshold


def provider_spike(f: Facts, s: Setting) -> Hit | None:
    if not _spike(f.provider_month_orders, f.provider_previous_mean_x100, s.threshold):
        return None
    mean = f.provider_previous_mean_x100 / 100
    return Hit(
        Rule.PROVIDER_SPIKE,
        f"该机构本月 {f.provider_month_orders} 笔订单，前六个月月均 {mean:.1f} 笔",
        f"{f.provider_month_orders} orders at the provider this month against a monthly mean "
        f"of {mean:.1f} over the previous six months",
        {"providers": [f.provider_id]},
    )


def region_spike(f: Facts, s: Setting) -> Hit | None:
    if not _spike(f.region_month_orders, f.region_previous_mean_x100, s.threshold):
        return None
    mean = f.region_previous_mean_x100 / 100
    return Hit(
        Rule.REGION_SPIKE,
        f"该地区（{f.region_code}）本月 {f.region_month_orders} 笔订单，前六个月月均 {mean:.1f} 笔",
        f"{f.region_month_orders} orders in region {f.region_code} this month against a monthly "
        f"mean of {mean:.1f} over the previous six months",
        {},
    )


def related_party(f: Facts, s: Setting) -> Hit | None:
    if len(f.shared_weak) < max(1, s.threshold):
        return None
    zh = "、".join(f"{label_zh}（{evidence}）" for _, label_zh, evidence in f.shared_weak)
    en = ", ".join(f"{kind} ({evidence})" for kind, _, evidence in f.shared_weak)
    return Hit(
        Rule.RELATED_PARTY,
        f"企业与机构的{zh}相同",
        f"the SME and the provider share: {en}",
        {"enterprises": [f.enterprise_id], "providers": [f.provider_id]},
    )


RULES: dict[Rule, Callable[[Facts, Setting], Hit | None]] = {
    Rule.PAIR_REPEAT: pair_repeat,
    Rule.UNDER_CAP: under_cap,
    Rule.BEFORE_DEADLINE: before_deadline,
    Rule.ABOVE_CATALOGUE: above_catalogue,
    Rule.ABOVE_MEDIAN: above_median,
    Rule.PROVIDER_SHARE: provider_share,
    Rule.SAME_DAY: same_day,
    Rule.INVOICE_EARLY: invoice_early,
    Rule.ROUND_PRICE: round_price,
    Rule.PROVIDER_SPIKE: provider_spike,
    Rule.REGION_SPIKE: region_spike,
    Rule.RELATED_PARTY: related_party,
}


def evaluate(facts: Facts, settings: dict[Rule, Setting]) -> list[Hit]:
    """Every enabled rule that fires for these facts, in the rules' order."""
    hits = []
    for rule, func in RULES.items():
        setting = settings.get(rule, DEFAULTS[rule])
        if setting.enabled:
            hit = func(facts, setting)
            if hit is not None:
                hits.append(hit)
    return hits


def score(hits: list[Hit], settings: dict[Rule, Setting]) -> int:
    """The risk score, 0–100: the weights of the rules that fired, capped."""
    return min(MAX_SCORE, sum(settings.get(h.rule, DEFAULTS[h.rule]).weight for h in hits))


def weighted_sample(
    population: list[tuple[int, int]], size: int, seed: int
) -> list[tuple[int, int]]:
    """Draw ``size`` of ``(order_id, score)`` without replacement, each with weight
    ``1 + score`` (a clean order can still be drawn), reproducibly from ``seed``: the same
    population, size and seed give the same sample (Efraimidis–Spirakis keys ``u ** (1/w)``
    from one seeded generator, over the population in id order)."""
    rng = random.Random(seed)
    keyed = []
    for order_id, points in sorted(population):
        u = rng.random()
        keyed.append((u ** (1.0 / (1 + max(0, points))), order_id, points))
    keyed.sort(key=lambda k: (-k[0], k[1]))
    return [(order_id, points) for _key, order_id, points in keyed[:size]]
