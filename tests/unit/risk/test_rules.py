"""Every risk rule on a hand-made case that fires and one that does not (issue 11, point 4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from marketplace.risk import rules
from marketplace.risk.enums import Rule

BASE = rules.Facts(order_id=7, enterprise_id=1, provider_id=2, price_fen=123_456)

CASES: list[tuple[Rule, dict[str, object], dict[str, object]]] = [
    (Rule.PAIR_REPEAT, {"pair_order_ids": (3, 5, 7)}, {"pair_order_ids": (5, 7)}),
    (
        Rule.UNDER_CAP,
        {"cap_fen": 3_000_000, "cap_taken_fen": 2_900_000, "voucher_part_fen": 50_000},
        {"cap_fen": 3_000_000, "cap_taken_fen": 2_800_000, "voucher_part_fen": 50_000},
    ),
    (
        Rule.BEFORE_DEADLINE,
        {"claimed_on": date(2027, 3, 25), "claim_deadline": date(2027, 3, 31)},
        {"claimed_on": date(2027, 3, 1), "claim_deadline": date(2027, 3, 31)},
    ),
    (
        Rule.ABOVE_CATALOGUE,
        {"catalogue_unit_fen": 60_000, "quantity": 2},
        {"catalogue_unit_fen": 61_728, "quantity": 2},
    ),
    (
        Rule.ABOVE_MEDIAN,
        {"category_median_unit_fen": 60_000, "category_samples": 5},
        {"category_median_unit_fen": 61_728, "category_samples": 5},
    ),
    (
        Rule.PROVIDER_SHARE,
        {"provider_programme_fen": 301, "programme_total_fen": 1_000},
        {"provider_programme_fen": 300, "programme_total_fen": 1_000},
    ),
    (
        Rule.SAME_DAY,
        {"agreed_on": date(2027, 5, 1), "delivered_on": date(2027, 5, 1), "confirmed_on": date(2027, 5, 1)},
        {"agreed_on": date(2027, 5, 1), "delivered_on": date(2027, 5, 1), "confirmed_on": date(2027, 5, 2)},
    ),
    (
        Rule.INVOICE_EARLY,
        {"agreed_on": date(2027, 5, 2), "invoice_issued_on": date(2027, 5, 1)},
        {"agreed_on": date(2027, 5, 2), "invoice_issued_on": date(2027, 5, 2)},
    ),
    (Rule.ROUND_PRICE, {"price_fen": 1_000_000}, {"price_fen": 1_000_100}),
    (
        Rule.PROVIDER_SPIKE,
        {"provider_month_orders": 7, "provider_previous_mean_x100": 200},
        {"provider_month_orders": 6, "provider_previous_mean_x100": 200},
    ),
    (
        Rule.REGION_SPIKE,
        {"region_month_orders": 10, "region_previous_mean_x100": 300, "region_code": "530102"},
        {"region_month_orders": 9, "region_previous_mean_x100": 300, "region_code": "530102"},
    ),
    (
        Rule.RELATED_PARTY,
        {"shared_weak": (("contact phone", "联系电话", "138****8000"),)},
        {"shared_weak": ()},
    ),
]  # fmt: skip


def test_every_rule_has_a_case_a_default_and_a_unit():
    assert {c[0] for c in CASES} == set(Rule) == set(rules.RULES) == set(rules.DEFAULTS)
    assert set(rules.UNITS) == set(Rule)


@pytest.mark.parametrize(("rule", "fires", "quiet"), CASES, ids=[c[0].value for c in CASES])
def test_rule_fires_on_its_case_and_not_just_below_it(rule, fires, quiet):
    func = rules.RULES[rule]
    setting = rules.DEFAULTS[rule]
    hit = func(replace(BASE, **fires), setting)
    assert hit is not None and hit.rule is rule
    assert hit.zh and hit.en
    assert func(replace(BASE, **quiet), setting) is None


def test_thresholds_are_settings():
    facts = replace(BASE, pair_order_ids=(5, 7))
    assert rules.pair_repeat(facts, rules.Setting(3, 15)) is None
    assert rules.pair_repeat(facts, rules.Setting(2, 15)) is not None
    assert rules.round_price(replace(BASE, price_fen=50_000), rules.Setting(50_000, 5))


def test_explanations_link_the_records():
    hit = rules.pair_repeat(
        replace(BASE, pair_order_ids=(3, 5, 7)), rules.DEFAULTS[Rule.PAIR_REPEAT]
    )
    assert hit is not None and hit.links["orders"] == [3, 5, 7]
    assert "3" in hit.en


def test_score_adds_weights_of_enabled_rules_and_caps_at_100():
    facts = replace(
        BASE,
        price_fen=1_000_000,
        pair_order_ids=(1, 2, 7),
        agreed_on=date(2027, 5, 2),
        delivered_on=date(2027, 5, 2),
        confirmed_on=date(2027, 5, 2),
        invoice_issued_on=date(2027, 5, 1),
        shared_weak=(("contact phone", "联系电话", "x"),),
    )
    settings = dict(rules.DEFAULTS)
    hits = rules.evaluate(facts, settings)
    assert {h.rule for h in hits} == {
        Rule.PAIR_REPEAT,
        Rule.SAME_DAY,
        Rule.INVOICE_EARLY,
        Rule.ROUND_PRICE,
        Rule.RELATED_PARTY,
    }
    assert rules.score(hits, settings) == min(100, 15 + 20 + 25 + 5 + 30)
    settings[Rule.RELATED_PARTY] = rules.Setting(1, 30, enabled=False)
    hits = rules.evaluate(facts, settings)
    assert Rule.RELATED_PARTY not in {h.rule for h in hits}
    assert rules.score(hits, settings) == 65


def test_weighted_sample_is_reproducible_and_favours_risk():
    population = [(i, 90 if i % 10 == 0 else 0) for i in range(1, 1001)]
    first = rules.weighted_sample(population, 20, seed=42)
    assert first == rules.weighted_sample(list(reversed(population)), 20, seed=42)
    assert first != rules.weighted_sample(population, 20, seed=43)
    assert len({o for o, _ in first}) == 20
    risky = sum(1 for _, s in first if s)
    # 100 risky orders of 1000 with 91 times the weight: most of a sample of 20 is risky.
    assert risky >= 14
    assert (
        rules.weighted_sample(population[:3], 10, seed=1)
        and len(rules.weighted_sample(population[:3], 10, seed=1)) == 3
    )
