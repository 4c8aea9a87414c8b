"""Every table of the platform, registered in one place.

Importing this module imports every model module, so ``Base.metadata`` is complete and every
relationship can be resolved: :func:`marketplace.create_app` imports it before anything runs,
and so do Alembic (``migrations/env.py``) and the tests. A new model module is added here.
"""

from marketplace.api import idempotency  # noqa: F401 - the Idempotency-Key records
from marketplace.audit import models as audit  # noqa: F401
from marketplace.auth import models as auth  # noqa: F401
from marketplace.db import Base
from marketplace.instruments import models as instruments  # noqa: F401
from marketplace.jobs import models as jobs  # noqa: F401
from marketplace.notifications import models as notifications  # noqa: F401
from marketplace.orders import models as orders  # noqa: F401
from marketplace.outcomes import models as outcomes  # noqa: F401
from marketplace.parties import models as parties  # noqa: F401
from marketplace.payments import models as payments  # noqa: F401
from marketplace.risk import models as risk  # noqa: F401
from marketplace.settlement import models as settlement  # noqa: F401
from providers import models as providers  # noqa: F401
from vouchers import funder_models, ledger_models  # noqa: F401
from vouchers import models as vouchers  # noqa: F401

metadata = Base.metadata
