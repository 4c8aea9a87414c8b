"""What the provider endpoints share: who may call them, the document store, and how a
provider's file and documents are shown."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from marketplace import clock
from marketplace.api.endpoint import api_user
from marketplace.config import current_settings
from marketplace.db import db_session
from marketplace.enums import ADMIN_ROLES, Role
from marketplace.problems import ApiProblem
from providers import documents, services
from providers.models import Provider
from providers.presenters import provider_file
from providers.schemas import Extended

PROVIDER = [Role.PROVIDER]
#: Reviewers decide admission; system administrators may read but not decide.
REVIEWERS = [Role.REVIEWER]
ADMINS = sorted(ADMIN_ROLES)
#: Settlement bank-account changes after admission are approved by finance (maker-checker).
BANK_DECIDERS = [Role.FINANCE]


def today() -> date:
    return clock.today()


def storage() -> documents.DocumentStorage:
    return documents.DocumentStorage.from_settings(current_settings())


def file_view(provider: Provider) -> Extended:
    """A provider's admission file as the API shows it (to the provider and to administrators)."""
    return provider_file(db_session(), provider, today())


def document_content(document: Any) -> Extended:
    """A stored document with its bytes, base64-encoded."""
    data = storage().path_for(document.stored_name).read_bytes()
    return Extended(document, content_base64=base64.b64encode(data).decode("ascii"))


def own_provider(*, lock: bool = False) -> Provider:
    """The calling provider user's institution (locked for update when ``lock``)."""
    user = api_user()
    if user.provider_id is None:  # pragma: no cover - the users CHECK pairs role and provider
        raise ApiProblem(403, "forbidden", "Not allowed", "your account has no institution")
    return services.get_provider(db_session(), user.provider_id, lock=lock)
