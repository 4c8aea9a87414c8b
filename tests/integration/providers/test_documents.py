"""Supporting documents: judged by content, size-limited, stored outside the web root under a
random name, and never half-written."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.db import commit, rollback
from marketplace.errors import NotFound, ValidationFailed
from providers import documents, services
from providers.enums import DocumentKind, ProviderStatus
from providers.errors import (
    ApplicationLocked,
    DocumentExpired,
    EmptyFile,
    FileExtensionMismatch,
    FileTooLarge,
    UnsupportedFileType,
)
from providers.models import ProviderDocument
from tests.support.provider_fixtures import ELF, JPEG, PDF, PNG, TODAY, WINDOWS_EXE


def _count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(ProviderDocument)) or 0


def _files(storage) -> list:
    return sorted(storage.directory.glob("*")) if storage.directory.exists() else []


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (PDF, "执照.pdf", "application/pdf"),
        (PNG, "scan.PNG", "image/png"),
        (JPEG, "a.jpeg", "image/jpeg"),
    ],
    ids=["pdf", "png", "jpeg"],
)
def test_pdf_and_images_are_stored_under_a_random_name(
    session,
    create_provider,
    upload_provider_document,
    provider_storage,
    data,
    filename,
    content_type,
):
    provider = create_provider(status=ProviderStatus.PENDING)
    document = upload_provider_document(provider, data=data, filename=filename)
    assert document.content_type == content_type
    assert document.original_filename == filename
    assert document.size_bytes == len(data)
    path = provider_storage.path_for(document.stored_name)
    assert path.read_bytes() == data
    # A random hex name with a normalised extension: nothing of the uploader's name survives.
    assert re.fullmatch(r"[0-9a-f]{32,}\.(pdf|png|jpe?g)", document.stored_name)
    assert not any(p.name.startswith(".upload-") for p in _files(provider_storage))


@pytest.mark.parametrize(
    ("data", "detected"),
    [(ELF, "executable (ELF)"), (WINDOWS_EXE, "executable (Windows PE)"), (b"hello", "unknown")],
    ids=["elf", "windows-exe", "text"],
)
def test_an_executable_renamed_pdf_is_rejected_by_content(
    session, create_provider, upload_provider_document, provider_storage, data, detected
):
    provider = create_provider(status=ProviderStatus.PENDING)
    with pytest.raises(UnsupportedFileType) as caught:
        upload_provider_document(provider, data=data, filename="licence.pdf")
    assert caught.value.code == "unsupported_file_type"
    assert caught.value.extra["detected"] == detected
    assert _count(session) == 0
    assert _files(provider_storage) == []


def test_a_png_named_pdf_is_rejected_for_its_name(
    session, create_provider, upload_provider_document, provider_storage
):
    provider = create_provider(status=ProviderStatus.PENDING)
    with pytest.raises(FileExtensionMismatch) as caught:
        upload_provider_document(provider, data=PNG, filename="licence.pdf")
    assert caught.value.code == "file_extension_mismatch"
    assert _count(session) == 0 and _files(provider_storage) == []


def test_oversized_and_empty_uploads_are_rejected(
    session, create_provider, upload_provider_document, provider_storage
):
    provider = create_provider(status=ProviderStatus.PENDING)
    limit = provider_storage.max_bytes
    upload_provider_document(provider, data=PDF + b"0" * (limit - len(PDF)))  # exactly the limit
    with pytest.raises(FileTooLarge) as caught:
        upload_provider_document(provider, data=PDF + b"0" * (limit - len(PDF) + 1))
    assert caught.value.code == "file_too_large" and caught.value.status == 413
    with pytest.raises(EmptyFile):
        upload_provider_document(provider, data=b"")
    assert _count(session) == 1 and len(_files(provider_storage)) == 1


def test_certificates_need_a_future_expiry_date(session, create_provider, upload_provider_document):
    provider = create_provider(status=ProviderStatus.PENDING)
    with pytest.raises(ValidationFailed) as caught:
        upload_provider_document(provider, DocumentKind.CMA_CERTIFICATE)
    assert "expires_on" in caught.value.errors
    with pytest.raises(DocumentExpired):
        upload_provider_document(
            provider, DocumentKind.CMA_CERTIFICATE, expires_on=TODAY - timedelta(days=1)
        )
    assert _count(session) == 0


def test_a_rolled_back_upload_leaves_no_file(session, create_provider, provider_storage):
    provider = create_provider(status=ProviderStatus.PENDING)
    commit(session)  # the provider is kept; only the upload's transaction is undone
    documents.upload_document(
        session,
        provider_storage,
        provider,
        kind=DocumentKind.OTHER,
        filename="a.pdf",
        stream=io.BytesIO(PDF),
        expires_on=None,
        actor_id=None,
        today=TODAY,
    )
    assert len(_files(provider_storage)) == 1
    rollback(session)
    assert _files(provider_storage) == []
    assert _count(session) == 0


def test_a_committed_upload_keeps_its_file(session, create_provider, provider_storage):
    provider = create_provider(status=ProviderStatus.PENDING)
    documents.upload_document(
        session,
        provider_storage,
        provider,
        kind=DocumentKind.OTHER,
        filename="a.pdf",
        stream=io.BytesIO(PDF),
        expires_on=None,
        actor_id=None,
        today=TODAY,
    )
    commit(session)
    rollback(session)
    assert len(_files(provider_storage)) == 1


def test_documents_belong_to_their_provider(session, create_provider, upload_provider_document):
    owner = create_provider(status=ProviderStatus.PENDING)
    other = create_provider(status=ProviderStatus.PENDING)
    document = upload_provider_document(owner)
    assert documents.get_document(session, owner.id, document.id) is document
    assert documents.get_document(session, None, document.id) is document  # administrators
    with pytest.raises(NotFound):
        documents.get_document(session, other.id, document.id)


def test_documents_can_be_deleted_only_from_a_draft(
    session, provider_stages, upload_provider_document, provider_storage
):
    provider = provider_stages.draft()
    extra = upload_provider_document(provider, DocumentKind.OTHER)
    path = provider_storage.path_for(extra.stored_name)
    documents.delete_document(session, provider_storage, provider, extra.id, actor_id=None)
    assert session.get(ProviderDocument, extra.id) is None
    assert path.exists()  # removed only once the deletion commits
    commit(session)
    assert not path.exists()

    services.submit_application(session, provider, actor_id=None, today=TODAY)
    kept = documents.documents_of(session, provider.id)[0]
    with pytest.raises(ApplicationLocked):
        documents.delete_document(session, provider_storage, provider, kept.id, actor_id=None)


def test_stored_names_cannot_escape_the_upload_directory(provider_storage):
    for name in ("../../etc/passwd", "a/b.pdf", ""):
        with pytest.raises(NotFound):
            provider_storage.path_for(name)
