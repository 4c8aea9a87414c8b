"""Issue 13, point 6: the service page informs — the signed-in enterprise's voucher estimate
(the accept form's own computation), the provider's qualifications, the combined score with
the service's reviews, and how to reach the provider."""

from __future__ import annotations

import re

import sqlalchemy as sa

from marketplace.demo import DEMO_PASSWORD, seed
from marketplace.money import format_fen
from providers.enums import PricingMode
from providers.models import Rating, Service
from vouchers import holds
from vouchers.models import Enterprise


def _text(response) -> str:
    return response.get_data(as_text=True)


def _section(page: str, testid: str) -> str:
    return page.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]


def _rated_fixed_price_service(session) -> Service:
    rated = set(session.scalars(sa.select(Rating.service_id)))
    services = session.scalars(
        sa.select(Service).where(Service.pricing == PricingMode.FIXED).order_by(Service.id)
    ).all()
    return next((s for s in services if s.id in rated), services[0])


def test_the_enterprise_sees_its_estimate_and_the_provider(app, client, session, auth):
    with app.app_context():
        seed(session)
    service = _rated_fixed_price_service(session)
    provider = service.provider

    anonymous = _text(client.get(f"/catalogue/services/{service.id}"))
    assert 'data-testid="estimate"' not in anonymous
    contact = _section(anonymous, "contact-provider")
    assert provider.contact_phone not in contact and "/login?next=" in contact
    assert 'data-testid="credit-score"' in anonymous and 'data-testid="reviews"' in anonymous

    assert auth.login("sme@demo.example.cn", DEMO_PASSWORD).status_code == 302
    page = _text(client.get(f"/catalogue/services/{service.id}", query_string={"lang": "en"}))
    enterprise = session.scalar(
        sa.select(Enterprise).where(Enterprise.name == "昆明滇池智能装备有限公司")
    )
    best = holds.previews_for(
        session,
        enterprise.id,
        price_fen=service.price_fen,
        service_category=service.category.value,
    )[0]
    assert best.split.voucher_fen > 0  # the demo SME holds a usable voucher
    estimate = _section(page, "estimate")
    assert best.voucher.serial in estimate
    voucher = re.search(r'data-testid="estimate-voucher">([^<]+)<', estimate)
    copay = re.search(r'data-testid="estimate-copay"><strong>([^<]+)<', estimate)
    assert voucher and voucher.group(1) == format_fen(best.split.voucher_fen)
    assert copay and copay.group(1) == format_fen(service.price_fen - best.split.voucher_fen)
    # At most half the price, and the page says which bound decided it.
    assert 2 * best.split.voucher_fen <= service.price_fen
    assert 'data-testid="estimate-why">The voucher' in estimate or "allowance" in estimate

    contact = _section(page, "contact-provider")
    assert provider.contact_name in contact and provider.contact_phone in contact
    assert provider.contact_email in contact

    qualifications = _section(page, "qualifications")
    for q in provider.qualifications:
        assert q.number in qualifications
        assert "valid until" in qualifications or "no expiry date" in qualifications

    ratings = session.scalars(sa.select(Rating).where(Rating.service_id == service.id)).all()
    reviews = _section(page, "reviews")
    assert reviews.count('data-testid="review"') == min(len(ratings), 10)
    for rating in ratings:
        if rating.comment:
            assert rating.comment in reviews
    assert re.search(r'data-testid="credit-score">\d+<', page)


def test_a_provider_sees_no_estimate(app, client, session, auth):
    with app.app_context():
        seed(session)
    service = _rated_fixed_price_service(session)
    assert auth.login("provider@demo.example.cn", DEMO_PASSWORD).status_code == 302
    page = _text(client.get(f"/catalogue/services/{service.id}"))
    assert 'data-testid="estimate"' not in page
    assert service.provider.contact_phone in _section(page, "contact-provider")
