"""Every HTML page and form, grouped by audience: one blueprint each, gated by role at the
blueprint, with object-level checks in the views (another organisation's record answers 404).

==============  ==================================================================
``public``      the home page
``auth``        sign-in, registration, the account page and API tokens
``catalogue``   public service search, provider pages, the public notice (公示)
``disclosure``  public disclosure of grants and redemptions, statistics
``enterprise``  the SME's workspace: wallet, programmes, applications, vouchers
``provider``    the provider's workspace: admission file, services, related parties
``orders``      order pages of every role, and dispute mediation
``settlement``  the provider's claims
``instruments`` instrument calendars and bookings, the provider's booking settings, utilisation
``admin``       administration, one module per area
``payments``    the gateway's webhook (no session, no CSRF: a signature instead)
``jobs``        the page of a long background job, its progress, report and file (owner only)
==============  ==================================================================

Pages are thin: a form in, a service call, a flash, a redirect. They never commit: the request
boundary does (:mod:`marketplace.db`).
"""

from __future__ import annotations

from flask import Flask


def register_pages(app: Flask) -> None:
    """Register every page blueprint and the template helpers.

    Importing a route module declares its routes on its audience's blueprint; this is the one
    place every route module is imported.
    """
    from marketplace.web import tables, templating
    from marketplace.web.admin import (  # noqa: F401 - routes on the admin blueprint
        audit,
        dashboard,
        enterprises,
        freezes,
        funders,
        outcome_summaries,
        payments,
        personal_data,
        providers,
        settlement,
        statistics,
        users,
        vouchers,
    )
    from marketplace.web.admin.views import bp as admin_bp
    from marketplace.web.auth.views import bp as auth_bp
    from marketplace.web.catalogue.views import bp as catalogue_bp
    from marketplace.web.disclosure.views import bp as disclosure_bp
    from marketplace.web.enterprise.views import bp as enterprise_bp
    from marketplace.web.instruments.views import bp as instruments_bp
    from marketplace.web.jobs.views import bp as jobs_bp
    from marketplace.web.orders import (  # noqa: F401 - routes on the orders blueprint
        mediation,
        outcomes,
        red_letter,
    )
    from marketplace.web.orders.views import bp as orders_bp
    from marketplace.web.payments.views import bp as payments_bp
    from marketplace.web.permissions import init_second_factor_gate
    from marketplace.web.provider.views import bp as provider_bp
    from marketplace.web.public import verify  # noqa: F401 - routes on the public blueprint
    from marketplace.web.public.views import bp as public_bp
    from marketplace.web.risk.views import bp as risk_bp
    from marketplace.web.settlement.views import bp as settlement_bp

    for blueprint in (
        public_bp,
        auth_bp,
        disclosure_bp,
        admin_bp,
        enterprise_bp,
        payments_bp,
        catalogue_bp,
        provider_bp,
        settlement_bp,
        orders_bp,
        risk_bp,
        instruments_bp,
        jobs_bp,
    ):
        app.register_blueprint(blueprint)
    templating.init_app(app)
    tables.init_app(app)
    init_second_factor_gate(app)
