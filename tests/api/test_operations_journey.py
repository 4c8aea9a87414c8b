"""Issue 17, proof on a whole journey: the log holds no personal data or secrets, and /metrics
shows the journey's money movements.

The journey is the API journey of issue 6 (tests/api/test_journey.py, voucher application to
payout and settlement), run as it is, with every log record of every logger captured at DEBUG
and formatted as the production JSON lines; then the demo data is seeded and its people sign
in through the pages, as the demo walk-through does.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from marketplace.auth.models import User
from marketplace.demo import DEMO_PASSWORD
from marketplace.observability import JsonFormatter
from providers.models import Provider
from tests.api.test_journey import test_one_order_from_voucher_application_to_payout as journey
from tests.support.fixtures import PASSWORD, AuthActions
from vouchers.models import Enterprise

TOKEN = "scrape-token-0123456789abcdef"
#: Personal API tokens (``vm_`` + 43 URL-safe characters) and bank card / account numbers.
API_TOKEN = re.compile(r"vm_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def full_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_the_log_of_a_full_journey_holds_no_personal_data(
    make_app,
    session,
    api_token,
    create_user,
    create_provider,
    create_service,
    order_world,
    full_log,
):
    app = make_app()
    client = app.test_client()
    tokens: list[str] = []

    def recording_token(user, *, step_up=False):
        headers = api_token(user, step_up=step_up)
        tokens.append(headers["Authorization"].removeprefix("Bearer "))
        return headers

    journey(
        app,
        client,
        session,
        recording_token,
        create_user,
        create_provider,
        create_service,
        order_world,
    )
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    demo_emails = [e for e in re.findall(r"\S+@demo\.example\.cn", result.output)]
    assert demo_emails
    pages = AuthActions(app.test_client(), session)
    for email in demo_emails:
        assert pages.login(email, DEMO_PASSWORD).status_code in (302, 303)
        pages.client.get("/")
        pages.logout()

    log = full_log.getvalue()
    assert '"event": "request"' in log  # the capture worked: one line per request
    assert log.count('"event": "request"') > 40
    secrets = {
        "password": [PASSWORD, DEMO_PASSWORD],
        "API token": tokens,
        "phone number": [
            *session.scalars(sa.select(Enterprise.contact_phone)),
            *session.scalars(sa.select(Provider.contact_phone)),
            "13987100000",  # the journey's enterprise registers with it
        ],
        "bank account": [n for n in session.scalars(sa.select(Provider.bank_account_number)) if n],
        "e-mail address": list(session.scalars(sa.select(User.email))),
    }
    assert all(secrets.values()), secrets
    for kind, values in secrets.items():
        leaked = sorted({v for v in values if v in log})
        assert not leaked, f"{kind} in the log: {leaked}"
    assert not API_TOKEN.search(log)


def _scrape(client) -> dict[str, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    values: dict[str, float] = {}
    for line in response.get_data(as_text=True).splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_metrics_move_with_a_journey(
    make_app, session, api_token, create_user, create_provider, create_service, order_world
):
    app = make_app(METRICS_TOKEN=TOKEN)
    client = app.test_client()
    before = _scrape(client)
    journey(
        app, client, session, api_token, create_user, create_provider, create_service, order_world
    )
    after = _scrape(client)

    def moved(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert moved("marketplace_holds_placed_total") == 1
    assert moved("marketplace_hold_captures_total") == 1
    assert moved("marketplace_payouts_total") == 1
    assert moved("marketplace_payouts_fen_total") == 123_457  # the order's voucher part
    accepted = (
        'marketplace_http_requests_total{endpoint="api.accept_order",method="POST",status="200"}'
    )
    assert moved(accepted) == 1
    conflicts = [k for k in after if 'status="409"' in k and "marketplace_http_requests" in k]
    assert conflicts  # the journey's deliberate refusal (unverified enterprise) is counted
    assert moved('marketplace_http_request_duration_seconds_count{endpoint="api.wallet"}') >= 3
    headroom = [k for k in after if k.startswith("marketplace_budget_available_fen{")]
    assert headroom and all(after[k] >= 0 for k in headroom)
