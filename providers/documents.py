"""Supporting documents: accepted by content, size-limited, stored outside the web root.

A file is judged by its first bytes, never by its name or the browser's claimed type: only
PDF (``%PDF-``), PNG and JPEG pass, and the name's extension must agree with the content (an
executable renamed ``.pdf`` fails on content, a PNG named ``.pdf`` on the name). Files are
written under ``UPLOAD_DIR/providers/`` with a random name, through a temporary file and an
atomic rename; if the transaction that recorded the document rolls back, the file is removed,
so a failed upload leaves neither a row nor a file behind. Files are only ever served through
permission-checked routes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.db import after_commit
from marketplace.errors import NotFound, ValidationFailed
from providers.enums import DocumentKind, ProviderStatus, ReviewStatus
from providers.errors import (
    ApplicationLocked,
    DocumentExpired,
    EmptyFile,
    FileExtensionMismatch,
    FileTooLarge,
    StorageFull,
    UnsupportedFileType,
)
from providers.models import Provider, ProviderDocument
from providers.rules import EXPIRY_REQUIRED

#: Content type → file-name extensions that may carry it.
ACCEPTED_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg"),
}
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
#: Well-known signatures of things people try to pass off as documents, for a precise message.
_REFUSED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "executable (ELF)"),
    (b"MZ", "executable (Windows PE)"),
    (b"\xcf\xfa\xed\xfe", "executable (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "executable (Mach-O)"),
    (b"#!", "script"),
    (b"PK\x03\x04", "ZIP archive or Office document"),
    (b"Rar!", "RAR archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"GIF8", "GIF image"),
)

_UPLOADS_KEY = "provider_uploads_written"
_SUBDIR = "providers"


def sniff(head: bytes) -> str | None:
    """The accepted content type ``head`` starts with, or None."""
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def describe(head: bytes) -> str:
    for signature, what in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return what
    if head.lstrip()[:1] == b"<":
        return "HTML or XML"
    return "unknown"


def extension(filename: str) -> str:
    name = display_name(filename)
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def display_name(filename: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[-255:] or "document"


@dataclass(frozen=True)
class DocumentStorage:
    """Where documents live (outside the web root) and how large one may be."""

    root: Path
    max_bytes: int

    @classmethod
    def from_settings(cls, settings: Any) -> DocumentStorage:
        return cls(root=Path(settings.upload_dir), max_bytes=int(settings.max_upload_bytes))

    @property
    def directory(self) -> Path:
        return self.root / _SUBDIR

    def path_for(self, stored_name: str) -> Path:
        # Stored names are ours (hex + extension); refuse anything else defensively.
        if not stored_name or "/" in stored_name or "\\" in stored_name or ".." in stored_name:
            raise NotFound("no such document / 文件不存在")
        return self.directory / stored_name

    def read_limited(self, stream: IO[bytes]) -> bytes:
        """Read at most ``max_bytes``; raise FileTooLarge beyond, EmptyFile for nothing."""
        data = stream.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise FileTooLarge(
                f"文件超过大小上限 {self.max_bytes // 1024} KB / the file exceeds the "
                f"{self.max_bytes // 1024} KB limit",
                field="file",
                extra={"max_bytes": self.max_bytes},
            )
        if not data:
            raise EmptyFile("文件为空 / the file is empty", field="file")
        return data

    def write(self, data: bytes, ext: str) -> tuple[str, Path]:
        """Write ``data`` atomically under a random name; return (stored name, path).

        Raises StorageFull when the disk or quota is full: the partial file is removed, and
        since the caller records the document only after this returned, no row ever points at
        a missing file (issue 17).
        """
        stored_name = f"{secrets.token_hex(16)}.{ext}"
        final = self.directory / stored_name
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".upload-")
        except OSError as exc:
            _raise_if_full(exc)
            raise
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                _raise_if_full(exc)
            raise
        return stored_name, final


#: "No space left on device" and "disk quota exceeded".
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def _raise_if_full(exc: OSError) -> None:
    if exc.errno in _FULL:
        raise StorageFull(
            "服务器存储空间不足，文件未保存，请稍后重试 / the server's storage is full: the file "
            "was not saved, please try again later",
            field="file",
        ) from exc


def check_upload(data: bytes, filename: str) -> tuple[str, str]:
    """(content type, extension) of an acceptable document. Raises UnsupportedFileType or
    FileExtensionMismatch."""
    content_type = sniff(data[:16])
    if content_type is None:
        detected = describe(data[:16])
        raise UnsupportedFileType(
            f"只接受 PDF、PNG 或 JPEG 文件，该文件内容为：{detected} / only PDF, PNG or JPEG "
            f"files are accepted; this file's content is: {detected}",
            field="file",
            extra={"detected": detected},
        )
    ext = extension(filename)
    if ext not in ACCEPTED_TYPES[content_type]:
        expected = ", ".join("." + e for e in ACCEPTED_TYPES[content_type])
        raise FileExtensionMismatch(
            f"文件扩展名与内容不符（内容为 {content_type}，应为 {expected}） / the file name "
            f"ends in “.{ext}” but the content is {content_type} ({expected})",
            field="file",
            extra={"detected": content_type},
        )
    return content_type, ext


def _remember_written(session: Session, path: Path) -> None:
    session.info.setdefault(_UPLOADS_KEY, []).append(path)


@event.listens_for(Session, "after_commit")
def _keep_written_files(session: Session) -> None:
    session.info.pop(_UPLOADS_KEY, None)


@event.listens_for(Session, "after_rollback")
def _remove_written_files(session: Session) -> None:
    # The rows recording these files are gone with the transaction; so must the files be.
    for path in session.info.pop(_UPLOADS_KEY, []):
        Path(path).unlink(missing_ok=True)


def upload_document(
    session: Session,
    storage: DocumentStorage,
    provider: Provider,
    *,
    kind: DocumentKind,
    filename: str,
    stream: IO[bytes],
    expires_on: date | None,
    actor_id: int | None,
    today: date,
) -> ProviderDocument:
    """Check, store and record one supporting document, pending review.

    A document of an application still to be reviewed is accepted with it when a reviewer
    passes the application to public notice; one uploaded later (in notice, admitted,
    suspended) counts only once a reviewer accepts it (providers.evidence), so until then the
    documents accepted before stay in force.

    Raises FileTooLarge, EmptyFile, UnsupportedFileType, FileExtensionMismatch,
    ValidationFailed (expiry date missing), DocumentExpired, ApplicationLocked (revoked).
    """
    if provider.status is ProviderStatus.REVOKED:
        raise ApplicationLocked("资格已撤销，不能上传材料 / the provider was revoked")
    if kind in EXPIRY_REQUIRED and expires_on is None:
        raise ValidationFailed(
            "资质证明文件须填写有效期 / an accreditation document needs its expiry date",
            {"expires_on": [f"{kind.zh}须填写有效期 / required for {kind.en}"]},
        )
    if expires_on is not None and expires_on < today:
        raise DocumentExpired(
            f"文件已于 {expires_on.isoformat()} 过期 / the document expired on {expires_on.isoformat()}",
            field="expires_on",
        )
    data = storage.read_limited(stream)
    content_type, ext = check_upload(data, filename)
    stored_name, path = storage.write(data, ext)
    _remember_written(session, path)
    document = ProviderDocument(
        provider_id=provider.id,
        kind=kind,
        original_filename=display_name(filename),
        stored_name=stored_name,
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        expires_on=expires_on,
        uploaded_by_id=actor_id,
        review_status=ReviewStatus.PENDING,
    )
    session.add(document)
    try:
        session.flush()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    record(
        session,
        "provider.document_uploaded",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        document_id=document.id,
        kind=kind.value,
        sha256=document.sha256,
        expires_on=expires_on.isoformat() if expires_on else None,
        review_status=document.review_status.value,
    )
    return document


def get_document(session: Session, provider_id: int | None, document_id: int) -> ProviderDocument:
    """The document, if it belongs to ``provider_id`` (None: any provider, for administrators).

    Raises NotFound, also for another provider's document.
    """
    document = session.get(ProviderDocument, document_id)
    if document is None or (provider_id is not None and document.provider_id != provider_id):
        raise NotFound("no such document / 文件不存在")
    return document


def delete_document(
    session: Session,
    storage: DocumentStorage,
    provider: Provider,
    document_id: int,
    *,
    actor_id: int | None,
) -> None:
    """Remove a document while the application is still a draft (or was rejected).

    Once submitted, documents are evidence of what was reviewed and stay. Raises NotFound,
    ApplicationLocked.
    """
    document = get_document(session, provider.id, document_id)
    editable = (provider.status is ProviderStatus.PENDING and not provider.is_submitted) or (
        provider.status is ProviderStatus.REJECTED
    )
    if not editable:
        raise ApplicationLocked(
            "申请已提交，材料不能删除，请上传新版本 / the application was submitted; upload a "
            "new version instead of deleting"
        )
    path = storage.path_for(document.stored_name)
    session.delete(document)
    session.flush()
    record(
        session,
        "provider.document_deleted",
        actor_id=actor_id,
        subject_type="provider",
        subject_id=provider.id,
        document_id=document_id,
    )
    after_commit(session, lambda: path.unlink(missing_ok=True))


def documents_of(session: Session, provider_id: int) -> list[ProviderDocument]:
    return list(
        session.scalars(
            sa.select(ProviderDocument)
            .where(ProviderDocument.provider_id == provider_id)
            .order_by(ProviderDocument.kind, ProviderDocument.id.desc())
        )
    )
