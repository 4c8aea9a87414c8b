"""Factories for the provider domain: documents, services, and providers at every stage of
admission (draft with a complete file, submitted, in notice, admitted)."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.enums import InstitutionType, Role, ServiceCategory
from providers import admission, documents, services
from providers.catalogue import build_search_text
from providers.documents import DocumentStorage
from providers.enums import (
    AccreditationLevel,
    DocumentKind,
    PricingMode,
    ProviderStatus,
    QualificationKind,
)
from providers.models import InstrumentListing, Provider, Service
from vouchers.enums import ProgrammeKind
from vouchers.models import Programme

TODAY = date(2026, 6, 1)

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 60
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60

_serial = itertools.count(1)


def cma_number() -> str:
    return f"{19_2312_050_000 + next(_serial):012d}"


def patent_agency_number() -> str:
    return f"{53_000 + next(_serial) % 1000:05d}"


@pytest.fixture
def provider_storage(tmp_path: Path) -> DocumentStorage:
    """Uploads under the test's own directory, with a small limit to test it cheaply."""
    return DocumentStorage(root=tmp_path / "uploads", max_bytes=4096)


@pytest.fixture
def upload_provider_document(
    session: Session, provider_storage: DocumentStorage
) -> Callable[..., Any]:
    def factory(
        provider: Provider,
        kind: DocumentKind = DocumentKind.BUSINESS_LICENCE,
        *,
        data: bytes = PDF,
        filename: str = "licence.pdf",
        expires_on: date | None = None,
        today: date = TODAY,
    ) -> Any:
        return documents.upload_document(
            session,
            provider_storage,
            provider,
            kind=kind,
            filename=filename,
            stream=io.BytesIO(data),
            expires_on=expires_on,
            actor_id=None,
            today=today,
        )

    return factory


@dataclass
class ProviderStages:
    """Walks a provider through admission with the real services."""

    session: Session
    create_provider: Callable[..., Provider]
    create_programme: Callable[..., Programme]
    upload: Callable[..., Any]

    def draft(
        self,
        *,
        institution_type: InstitutionType = InstitutionType.TESTING_CENTRE,
        categories: tuple[ServiceCategory, ...] = (
            ServiceCategory.TESTING,
            ServiceCategory.INSTRUMENT_SHARING,
        ),
        programmes: list[Programme] | None = None,
        expires_on: date | None = None,
        **overrides: Any,
    ) -> Provider:
        """A pending provider whose application is complete but not submitted."""
        provider = self.create_provider(
            status=ProviderStatus.PENDING, institution_type=institution_type, **overrides
        )
        services.update_profile(
            self.session,
            provider,
            {
                "accreditation_level": AccreditationLevel.PROVINCIAL,
                "service_categories": [c.value for c in categories],
                "description": "省级检验检测机构，提供材料与产品检测服务。",
                "bank_account_name": provider.name,
                "bank_name": "中国工商银行昆明分行",
                "bank_account_number": "2502 0100 0900 0012 345",
            },
            actor_id=None,
        )
        certificate_expiry = expires_on or TODAY + timedelta(days=365)
        self.upload(provider, DocumentKind.BUSINESS_LICENCE)
        if institution_type in {InstitutionType.KEY_LABORATORY, InstitutionType.ENGINEERING_CENTRE}:
            self.upload(provider, DocumentKind.ACCREDITATION, expires_on=certificate_expiry)
        if institution_type in {InstitutionType.KEY_LABORATORY, InstitutionType.TESTING_CENTRE}:
            services.set_qualification(
                self.session,
                provider,
                QualificationKind.CMA,
                cma_number(),
                valid_until=None,
                actor_id=None,
                today=TODAY,
            )
            self.upload(
                provider,
                DocumentKind.CMA_CERTIFICATE,
                data=PNG,
                filename="cma.png",
                expires_on=certificate_expiry,
            )
        if institution_type is InstitutionType.IP_AGENCY:
            services.set_qualification(
                self.session,
                provider,
                QualificationKind.PATENT_AGENCY,
                patent_agency_number(),
                valid_until=None,
                actor_id=None,
                today=TODAY,
            )
            self.upload(
                provider,
                DocumentKind.PATENT_AGENCY_LICENCE,
                data=JPEG,
                filename="licence.jpg",
                expires_on=certificate_expiry,
            )
        services.sign_commitment(
            self.session,
            provider,
            signer_name="张伟",
            signer_title="法定代表人",
            agreed=True,
            actor_id=None,
        )
        if programmes is None:
            programmes = [self.default_programme()]
        services.choose_programmes(
            self.session, provider, [p.id for p in programmes], actor_id=None, today=TODAY
        )
        return provider

    def default_programme(self) -> Programme:
        """This year's innovation programme, created on first use."""
        programme = self.session.scalar(
            sa.select(Programme).where(
                Programme.kind == ProgrammeKind.INNOVATION, Programme.year == TODAY.year
            )
        )
        return programme or self.create_programme(year=TODAY.year)

    def submitted(self, **kwargs: Any) -> Provider:
        provider = self.draft(**kwargs)
        services.submit_application(self.session, provider, actor_id=None, today=TODAY)
        return provider

    def in_notice(self, *, today: date = TODAY, **kwargs: Any) -> Provider:
        provider = self.submitted(**kwargs)
        admission.pass_to_notice(self.session, provider, actor_id=None, today=today)
        return provider

    def admitted(self, **kwargs: Any) -> Provider:
        provider = self.in_notice(**kwargs)
        assert provider.notice_ends_on is not None
        admission.admit(
            self.session, provider, actor_id=None, today=provider.notice_ends_on + timedelta(days=1)
        )
        return provider


@pytest.fixture
def provider_stages(
    session: Session,
    create_provider: Callable[..., Provider],
    create_programme: Callable[..., Programme],
    upload_provider_document: Callable[..., Any],
) -> ProviderStages:
    return ProviderStages(session, create_provider, create_programme, upload_provider_document)


@pytest.fixture
def create_service(
    session: Session, create_provider: Callable[..., Provider]
) -> Callable[..., Service]:
    """A service row (listed when its provider is admitted), with its search text built. The
    provider gets the service's category if it lacks it: services are only listed and
    orderable in a category their provider was admitted with."""

    def factory(provider: Provider | None = None, **overrides: Any) -> Service:
        provider = provider or create_provider()
        instrument = overrides.pop("instrument", None)
        values: dict[str, Any] = {
            "title": f"材料检测服务{next(_serial)}",
            "category": ServiceCategory.TESTING,
            "description": "金属材料力学性能、化学成分检测，出具 CMA 报告。",
            "pricing": PricingMode.FIXED,
            "price_fen": 80_000,
            "unit": "样品",
            "lead_time_days": 7,
            "is_active": True,
        }
        values.update(overrides)
        if values["pricing"] is PricingMode.QUOTE:
            values["price_fen"] = None
        declared = list(provider.service_categories or [])
        if values["category"].value not in declared:
            provider.service_categories = [*declared, values["category"].value]
        service = Service(provider_id=provider.id, provider=provider, **values)
        if instrument is not None:
            service.instrument = InstrumentListing(**instrument)
        service.search_text = build_search_text(service, provider)
        session.add(service)
        session.flush()
        return service

    return factory


@pytest.fixture
def reviewer(create_user: Callable[..., User]) -> User:
    return create_user(Role.REVIEWER)
