"""Imports every model module so that ``Base.metadata`` is complete (Alembic, tests)."""

from marketplace.api import idempotency  # noqa: F401
from marketplace.audit import models as audit_models  # noqa: F401
from marketplace.auth import models as auth_models  # noqa: F401
from marketplace.db import Base
from providers import models as provider_models  # noqa: F401
from vouchers import models as voucher_models  # noqa: F401

metadata = Base.metadata
