"""Delivery reports and dispute evidence: the providers' document rules, an orders directory.

Files are accepted by content, never by name (PDF, PNG or JPEG, and the extension must agree:
:func:`providers.documents.check_upload`), limited to ``MAX_UPLOAD_BYTES``, and written under
``UPLOAD_DIR/orders/`` with a random name, outside the web root. They are served only by
permission-checked routes. When the transaction that recorded a file rolls back, the file is
removed, so a refused delivery leaves neither a row nor a file behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from providers.documents import DocumentStorage, check_upload, display_name

_SUBDIR = "orders"
_WRITTEN_KEY = "order_files_written"


@dataclass(frozen=True)
class OrderFileStorage(DocumentStorage):
    """:class:`DocumentStorage` rooted in its own subdirectory for order files."""

    @classmethod
    def from_settings(cls, settings: Any) -> OrderFileStorage:
        return cls(root=Path(settings.upload_dir), max_bytes=int(settings.max_upload_bytes))

    @property
    def directory(self) -> Path:
        return self.root / _SUBDIR


@dataclass(frozen=True)
class Upload:
    """A file as the caller received it: its name and a readable binary stream."""

    filename: str
    stream: IO[bytes]


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    original_filename: str
    content_type: str
    size_bytes: int


def store(session: Session, storage: OrderFileStorage, upload: Upload) -> StoredFile:
    """Check and write ``upload``; the file goes away again if ``session`` rolls back.

    Raises FileTooLarge, EmptyFile, UnsupportedFileType, FileExtensionMismatch.
    """
    data = storage.read_limited(upload.stream)
    content_type, ext = check_upload(data, upload.filename)
    stored_name, path = storage.write(data, ext)
    session.info.setdefault(_WRITTEN_KEY, []).append(path)
    return StoredFile(
        stored_name=stored_name,
        original_filename=display_name(upload.filename),
        content_type=content_type,
        size_bytes=len(data),
    )


def store_bytes(session: Session, storage: OrderFileStorage, data: bytes, ext: str) -> str:
    """Write already-checked ``data`` (an invoice file read by :mod:`marketplace.einvoice`);
    it goes away again if ``session`` rolls back. Returns the stored name."""
    stored_name, path = storage.write(data, ext)
    session.info.setdefault(_WRITTEN_KEY, []).append(path)
    return stored_name


@event.listens_for(Session, "after_commit")
def _keep_written_files(session: Session) -> None:
    session.info.pop(_WRITTEN_KEY, None)


@event.listens_for(Session, "after_rollback")
def _remove_written_files(session: Session) -> None:
    for path in session.info.pop(_WRITTEN_KEY, []):
        Path(path).unlink(missing_ok=True)
