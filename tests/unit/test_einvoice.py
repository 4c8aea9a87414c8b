"""Reading 数电发票 files: every field from the XML, the OFD (embedded XML or tag index) and
the PDF's text layer, in exact fen; malformed and hostile files refused with a named error."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.einvoice import (
    MAX_XML_BYTES,
    InvoiceFileKind,
    InvoiceFileRefused,
    InvoiceFileUnreadable,
    items_outside,
    read_invoice,
    read_invoice_files,
    to_fen,
)
from marketplace.enums import ServiceCategory
from tests.support.einvoice_files import InvoiceSpec, Item, ofd_bytes, pdf_bytes, xml_bytes

SPEC = InvoiceSpec()


def _expect_spec(parsed, *, items: bool = True) -> None:
    assert parsed.number == "26532000000012345678"
    assert parsed.issued_on == date(2026, 6, 3)
    assert (parsed.seller_name, parsed.seller_tax_id) == (SPEC.seller_name, "12530000431200128X")
    assert (parsed.buyer_name, parsed.buyer_tax_id) == (SPEC.buyer_name, "91530100MA6K12345X")
    assert (parsed.amount_without_tax_fen, parsed.tax_fen, parsed.total_fen) == (
        94_340,
        5_660,
        100_000,
    )
    assert parsed.reverses_number is None and not parsed.is_red_letter
    assert len(parsed.sha256) == 64
    if items:
        [item] = parsed.items
        assert item.name == "*现代服务*检验检测服务" and item.classification == "现代服务"
        assert (item.quantity, item.unit_price, item.amount_fen, item.tax_rate, item.tax_fen) == (
            "1",
            "943.40",
            94_340,
            "6%",
            5_660,
        )
        assert parsed.tax_rates == ["6%"]


def test_every_field_is_read_from_the_xml():
    parsed = read_invoice(xml_bytes())
    assert (parsed.kind, parsed.source) == (InvoiceFileKind.XML, "xml")
    _expect_spec(parsed)


def test_the_ofd_prefers_its_embedded_xml():
    parsed = read_invoice(ofd_bytes())
    assert (parsed.kind, parsed.source) == (InvoiceFileKind.OFD, "ofd-xml")
    _expect_spec(parsed)


def test_an_ofd_without_the_xml_is_read_from_its_tag_index():
    parsed = read_invoice(ofd_bytes(embed_xml=False))
    assert (parsed.kind, parsed.source) == (InvoiceFileKind.OFD, "ofd-tags")
    _expect_spec(parsed, items=False)
    assert parsed.items == ()


def test_the_pdf_is_read_from_its_text_layer():
    parsed = read_invoice(pdf_bytes())
    assert (parsed.kind, parsed.source) == (InvoiceFileKind.PDF, "pdf")
    _expect_spec(parsed)


def test_a_red_letter_invoice_names_the_one_it_reverses():
    red = SPEC.but(
        number="26532000000099999999",
        without_tax="-943.40",
        tax="-56.60",
        total="-1000.00",
        items=(Item(amount="-943.40", tax="-56.60", quantity="-1"),),
        reverses=SPEC.number,
    )
    for data in (xml_bytes(red), ofd_bytes(red), pdf_bytes(red)):
        parsed = read_invoice(data)
        assert parsed.is_red_letter and parsed.reverses_number == SPEC.number
        assert parsed.total_fen == -100_000 and parsed.tax_fen == -5_660


def test_the_structured_file_is_preferred_and_the_files_must_agree():
    chosen, readings = read_invoice_files([pdf_bytes(), xml_bytes()])
    assert chosen.kind is InvoiceFileKind.XML and [r.kind for r in readings] == ["pdf", "xml"]
    with pytest.raises(InvoiceFileUnreadable, match="not the same invoice"):
        read_invoice_files([xml_bytes(), pdf_bytes(SPEC.but(number="26532000000000000001"))])
    with pytest.raises(InvoiceFileRefused, match="given twice"):
        read_invoice_files([xml_bytes(), xml_bytes()])
    with pytest.raises(InvoiceFileUnreadable):
        read_invoice_files([])


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1000", 100_000),
        ("1000.5", 100_050),
        ("0.01", 1),
        ("1,234.56", 123_456),
        ("¥12.30", 1_230),
        ("-943.40", -94_340),
        ("9999999999999.99", 999_999_999_999_999),
        # A float would give 1_000_000_000_000_00.00 wrong in the last fen; strings do not.
        ("0.29", 29),
        ("0.57", 57),
    ],
)
def test_amounts_become_fen_exactly(text, fen):
    assert to_fen(text, "x") == fen


@pytest.mark.parametrize("text", ["", "1.234", "1e3", "NaN", "12,3a", "--1", "١٢"])
def test_a_bad_amount_is_named(text):
    with pytest.raises(InvoiceFileUnreadable) as caught:
        to_fen(text, "TotalTaxAm")
    assert caught.value.extra["missing"] == ["TotalTaxAm"]


@pytest.mark.parametrize(
    ("omit", "named"),
    [
        (("InvoiceNumber",), "TaxSupervisionInfo/InvoiceNumber"),
        (("IssueTime", "RequestTime"), "TaxSupervisionInfo/IssueTime"),
        (("SellerIdNum",), "SellerInformation/SellerIdNum"),
        (("BuyerIdNum",), "BuyerInformation/BuyerIdNum"),
        (("TotalAmWithoutTax",), "BasicInformation/TotalAmWithoutTax"),
        (("TotalTaxAm",), "BasicInformation/TotalTaxAm"),
        (("TotalTax-includedAmount",), "BasicInformation/TotalTax-includedAmount"),
        (("ItemName",), "IssuItemInformation/ItemName"),
    ],
)
def test_a_missing_field_is_named(omit, named):
    with pytest.raises(InvoiceFileUnreadable) as caught:
        read_invoice(xml_bytes(omit=omit))
    assert caught.value.code == "invoice_file_unreadable" and caught.value.status == 422
    assert named in caught.value.extra["missing"] and named in caught.value.message


def test_issue_time_falls_back_to_the_request_time():
    assert read_invoice(xml_bytes(omit=("IssueTime",))).issued_on == date(2026, 6, 3)


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        (SPEC.but(total="1000.01"), "TotalTax-includedAmount"),  # amount + tax ≠ total
        (SPEC.but(items=(Item(amount="900.00"),)), "IssuItemInformation"),
        (SPEC.but(number="12345"), "InvoiceNumber"),
        (SPEC.but(buyer_id="not a tax id"), "BuyerIdNum"),
        (
            SPEC.but(without_tax="-943.40", tax="-56.60", total="-1000.00", items=()),
            "RedEInvoice/OriginalInvoiceCode",
        ),
        (SPEC.but(reverses=SPEC.number), "TotalTax-includedAmount"),  # red but positive
    ],
)
def test_an_inconsistent_invoice_is_refused(spec, named):
    with pytest.raises(InvoiceFileUnreadable) as caught:
        read_invoice(xml_bytes(spec))
    assert named in caught.value.extra["missing"]


@pytest.mark.parametrize(
    "data",
    [
        b"GIF89a not an invoice",
        b"",
        b"<EInvoice><unclosed></EInvoice>",
        b"<Invoice/>",
        b"PK\x03\x04 truncated zip",
        b"%PDF-1.4 garbage without objects",
    ],
)
def test_malformed_files_are_refused_with_a_named_error(data):
    with pytest.raises((InvoiceFileUnreadable, InvoiceFileRefused)) as caught:
        read_invoice(data)
    assert caught.value.status == 422 and caught.value.field == "invoice_file"


def test_a_scanned_pdf_without_text_is_refused_naming_the_text_layer():
    with pytest.raises(InvoiceFileUnreadable) as caught:
        read_invoice(pdf_bytes(text_layer=False))
    assert caught.value.extra["missing"] == ["text layer"]


def test_an_ofd_with_neither_xml_nor_tags_names_both():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='x'/>")
    with pytest.raises(InvoiceFileUnreadable) as caught:
        read_invoice(buf.getvalue())
    assert caught.value.extra["missing"] == ["EInvoice", "CustomTags.xml"]
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    with pytest.raises(InvoiceFileUnreadable, match=r"OFD\.xml"):
        read_invoice(plain.getvalue())


# --------------------------------------------------------------------------- hostile files

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE EInvoice [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<EInvoice><TaxSupervisionInfo><InvoiceNumber>&lol9;</InvoiceNumber></TaxSupervisionInfo></EInvoice>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE EInvoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<EInvoice><SellerInformation><SellerName>&xxe;</SellerName></SellerInformation></EInvoice>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["entities", "xxe"])
def test_entity_expansion_and_external_entities_are_refused(data):
    with pytest.raises(InvoiceFileRefused) as caught:
        read_invoice(data)
    assert caught.value.code == "invoice_file_refused" and "DTD" in caught.value.message


def test_entities_inside_an_ofd_are_refused_too():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='x'/>")
        z.writestr("Doc_0/Attachs/original_invoice.xml", BILLION_LAUGHS)
    with pytest.raises(InvoiceFileRefused):
        read_invoice(buf.getvalue())


def test_an_oversize_xml_is_refused():
    data = xml_bytes().replace(b"<Header>", b"<Header><Pad>" + b"x" * MAX_XML_BYTES + b"</Pad>")
    with pytest.raises(InvoiceFileRefused, match="larger than"):
        read_invoice(data)


def _zip_with(name: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='x'/>")
        z.writestr(name, payload)
    return buf.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    bomb = _zip_with("Doc_0/Attachs/original_invoice.xml", b"\0" * (50 * 1024 * 1024))
    assert len(bomb) < 100_000  # 50 MiB of zeros deflate to next to nothing
    with pytest.raises(InvoiceFileRefused, match="inflates"):
        read_invoice(bomb)


def test_a_zip_that_lies_about_its_size_is_still_stopped_while_reading():
    """The member header claims a small size; the reader counts what actually comes out."""
    payload = b"<EInvoice>" + b" " * (6 * 1024 * 1024) + b"</EInvoice>"
    data = bytearray(_zip_with("Doc_0/Attachs/original_invoice.xml", payload))
    # Patch the claimed uncompressed size (local header and central directory) to 4 KiB.
    real = len(payload).to_bytes(4, "little")
    assert data.count(real) == 2
    data = data.replace(real, (4096).to_bytes(4, "little"))
    with pytest.raises((InvoiceFileRefused, InvoiceFileUnreadable)):
        read_invoice(bytes(data))


def test_zip_paths_that_escape_are_refused():
    with pytest.raises(InvoiceFileRefused, match="escapes"):
        read_invoice(_zip_with("../../etc/cron.d/x.xml", b"<x/>"))


def test_too_many_members_are_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", "<x/>")
        for n in range(600):
            z.writestr(f"m/{n}.txt", "")
    with pytest.raises(InvoiceFileRefused, match="members"):
        read_invoice(buf.getvalue())


# --------------------------------------------------------------------------- categories


@pytest.mark.parametrize(
    ("category", "name", "fits"),
    [
        (ServiceCategory.TESTING, "*现代服务*检验检测服务", True),
        (ServiceCategory.RND, "*研发和技术服务*技术开发", True),
        (ServiceCategory.IP, "*文化创意服务*专利代理", True),
        (ServiceCategory.TESTING, "*文化创意服务*专利代理", False),
        (ServiceCategory.TECH_TRANSACTION, "*无形资产*技术转让", True),
        (ServiceCategory.INSTRUMENT_SHARING, "*经营租赁*仪器机时", True),
        (ServiceCategory.TESTING, "*计算机*笔记本电脑", False),
        (ServiceCategory.TESTING, "检测服务", False),  # no classification at all
    ],
)
def test_item_lines_must_fit_the_service_category(category, name, fits):
    outside = items_outside(category, [{"name": name}])
    assert (outside == []) is fits
    assert items_outside(category, []) != []  # no lines: nothing shows the service


# --------------------------------------------------------------------------- fuzzing

_SEEDS = [xml_bytes(), ofd_bytes(), ofd_bytes(embed_xml=False), pdf_bytes()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_SEEDS),
    cuts=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=8)), max_size=4),
)
def test_damaged_files_are_refused_with_a_named_error_never_a_crash(seed, cuts):
    """Any damage to a real invoice file (bytes replaced, truncated) ends in a parsed
    invoice or one of the two named errors — never another exception (a 500)."""
    data = bytearray(seed)
    for offset, junk in cuts:
        at = offset % max(len(data), 1)
        data[at : at + len(junk)] = junk
    try:
        read_invoice(bytes(data))
    except (InvoiceFileUnreadable, InvoiceFileRefused) as refused:
        assert refused.status == 422


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_refused_with_a_named_error(data):
    with pytest.raises((InvoiceFileUnreadable, InvoiceFileRefused)):
        read_invoice(data)  # random bytes are never a readable invoice
