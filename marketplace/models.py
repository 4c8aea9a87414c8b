"""Imports every model module so that ``Base.metadata`` is complete (Alembic, tests)."""

from marketplace.api import idempotency  # noqa: F401
from marketplace.audit import models as audit_models  # noqa: F401
from marketplace.auth import models as auth_models  # noqa: F401
from marketplace.db import Base
from marketplace.notifications import models as notification_models  # noqa: F401
from marketplace.orders import models as order_models  # noqa: F401
from marketplace.payments import models as payment_models  # noqa: F401
from providers import claim_models  # noqa: F401
from providers import models as provider_models  # noqa: F401
from vouchers import models as voucher_models  # noqa: F401

metadata = Base.metadata
