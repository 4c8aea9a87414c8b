"""Recognising documents by their first bytes."""

from __future__ import annotations

import pytest

from providers.documents import check_upload, describe, display_name, sniff
from providers.errors import FileExtensionMismatch, UnsupportedFileType
from tests.support.provider_fixtures import ELF, JPEG, PDF, PNG, WINDOWS_EXE


@pytest.mark.parametrize(
    ("data", "expected"),
    [(PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg"), (ELF, None), (b"", None)],
    ids=["pdf", "png", "jpeg", "elf", "empty"],
)
def test_sniff(data, expected):
    assert sniff(data) == expected


def test_refused_content_is_named():
    assert describe(ELF) == "executable (ELF)"
    assert describe(WINDOWS_EXE) == "executable (Windows PE)"
    assert describe(b"PK\x03\x04rest") == "ZIP archive or Office document"
    assert describe(b"  <html>") == "HTML or XML"


def test_content_decides_and_the_name_must_agree():
    assert check_upload(JPEG, "photo.JPG") == ("image/jpeg", "jpg")
    with pytest.raises(UnsupportedFileType):
        check_upload(ELF, "invoice.pdf")
    with pytest.raises(FileExtensionMismatch):
        check_upload(PDF, "licence.png")
    with pytest.raises(FileExtensionMismatch):
        check_upload(PDF, "licence")


def test_display_names_drop_paths_and_control_characters():
    assert display_name("C:\\Users\\张\\营业执照.pdf") == "营业执照.pdf"
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("a\x00b\n.pdf") == "ab.pdf"
    assert display_name("") == "document"
