"""The credit score formula (providers.credit), checked by example and by property."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from providers.credit import CreditInputs, band_for, compute_credit_score


def _inputs(**overrides):
    values = {
        "rating_count": 0,
        "rating_total": 0,
        "administrator_scores": (),
        "third_party_scores": (),
        "upheld_disputes": 0,
        "late_deliveries": 0,
    }
    values.update(overrides)
    return CreditInputs(**values)


def test_a_new_provider_starts_at_75():
    breakdown = compute_credit_score(_inputs())
    assert (breakdown.score, breakdown.enterprises, breakdown.band) == (75, 75, "B")


def test_ratings_are_smoothed_towards_four_stars():
    one_star = compute_credit_score(_inputs(rating_count=1, rating_total=1))
    # mean_x100 = (1 + 20) * 100 // 6 = 350 → (350 - 100) // 4 = 62
    assert one_star.score == 62
    many_fives = compute_credit_score(_inputs(rating_count=95, rating_total=475))
    # (475 + 20) * 100 // 100 = 495 → 98
    assert many_fives.score == 98 and many_fives.band == "A"


def test_components_are_weighted_50_25_25_and_absent_ones_drop_out():
    admin_only = compute_credit_score(_inputs(administrator_scores=(80, 91)))
    # G = round(85.5) = 86; (50*75 + 25*86) / 75 = 78.67 → 79
    assert (admin_only.administrators, admin_only.score) == (86, 79)
    both = compute_credit_score(_inputs(administrator_scores=(100,), third_party_scores=(40,)))
    assert both.score == 73  # (3750 + 2500 + 1000) / 100 = 72.5 → 73 (half up)


def test_penalties():
    hit = compute_credit_score(_inputs(upheld_disputes=2, late_deliveries=3))
    assert (hit.penalty, hit.score) == (29, 46) and hit.band == "D"


def test_bands():
    assert [band_for(s)[0] for s in (100, 90, 89, 75, 74, 60, 59, 0)] == list("AABBCCDD")


@given(
    count=st.integers(0, 500),
    stars=st.data(),
    admin=st.lists(st.integers(0, 100), max_size=5),
    third=st.lists(st.integers(0, 100), max_size=5),
    disputes=st.integers(0, 20),
    late=st.integers(0, 40),
)
def test_score_is_within_0_and_100_and_penalties_never_help(
    count, stars, admin, third, disputes, late
):
    total = stars.draw(st.integers(count, 5 * count))
    base = _inputs(
        rating_count=count,
        rating_total=total,
        administrator_scores=tuple(admin),
        third_party_scores=tuple(third),
    )
    clean = compute_credit_score(base)
    hit = compute_credit_score(
        CreditInputs(**{**base.__dict__, "upheld_disputes": disputes, "late_deliveries": late})
    )
    assert 0 <= hit.score <= clean.score <= 100
