"""Reading fully digital invoice files (数电发票): XML, OFD and PDF, into exact fen.

Since 2024 Chinese invoices are issued as fully digital invoices, delivered as three files
carrying the same invoice:

* **XML** (root ``EInvoice``): the authoritative data. Read from it: the number and issue time
  (``TaxSupervisionInfo/InvoiceNumber``, ``IssueTime``, else ``BasicInformation/RequestTime``),
  the seller's and buyer's names and tax ids (``SellerInformation/SellerIdNum``,
  ``BuyerInformation/BuyerIdNum``), the totals without tax, the tax and the total with tax
  (``BasicInformation/TotalAmWithoutTax``, ``TotalTaxAm``, ``TotalTax-includedAmount``), the
  item lines (``IssuItemInformation``) and, on a red-letter invoice, the invoice it reverses
  (``SpecificInformation/RedEInvoice/OriginalInvoiceCode``).
* **OFD** (a zip, GB/T 33190): the original XML embedded as an attachment where present, else
  the OFD's tag index (``CustomTags.xml`` → the tag file, whose entries point at text objects
  of the pages).
* **PDF**: the text layer.

Every reader is defensive: XML through defusedxml with DTDs forbidden (so no entity
expansion nor external entity), each file and each zip member size-limited while it is read
(a zip's own size claims are not trusted), a bounded number of members and pages. A file that
cannot be read is refused with :class:`InvoiceFileUnreadable` naming what is missing; a
hostile one with :class:`InvoiceFileRefused`. Amounts are parsed as decimal strings to integer
fen, exactly: never through a float.

Pure functions: no database, no Flask.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from marketplace.enums import ServiceCategory
from marketplace.errors import DomainError

#: A single XML document (the invoice XML, an OFD part) is small; anything larger is refused.
MAX_XML_BYTES = 2 * 1024 * 1024
#: OFD zips: how many members, how large each may grow when inflated, and in total.
MAX_ZIP_MEMBERS = 500
MAX_ZIP_MEMBER_BYTES = 4 * 1024 * 1024
MAX_ZIP_TOTAL_BYTES = 16 * 1024 * 1024
#: A member that claims to inflate more than this many times over is a bomb, not an invoice.
MAX_ZIP_RATIO = 200
MAX_PDF_PAGES = 10
#: The longest text layer read from a PDF (characters).
MAX_PDF_TEXT = 200_000


class InvoiceFileUnreadable(DomainError):
    """The file is not an invoice the platform can read; ``missing`` names what lacks."""

    code = "invoice_file_unreadable"
    status = 422
    title = "The invoice file cannot be read"


class InvoiceFileRefused(DomainError):
    """The file is refused for its shape: too large, a zip bomb, entities, encryption."""

    code = "invoice_file_refused"
    status = 422
    title = "The invoice file is refused"


class InvoiceFileKind(StrEnum):
    XML = "xml"
    OFD = "ofd"
    PDF = "pdf"


#: What each kind is served as when downloaded again.
CONTENT_TYPES = {
    InvoiceFileKind.XML: "application/xml",
    InvoiceFileKind.OFD: "application/ofd",
    InvoiceFileKind.PDF: "application/pdf",
}


@dataclass(frozen=True, slots=True)
class InvoiceItem:
    """One item line (项目明细). Quantity, unit price and rate are kept as printed."""

    name: str
    amount_fen: int
    quantity: str = ""
    unit_price: str = ""
    tax_rate: str = ""
    tax_fen: int | None = None

    @property
    def classification(self) -> str:
        """The tax classification's short name between asterisks: ``*现代服务*检测`` → 现代服务."""
        match = re.match(r"^\*([^*]+)\*", self.name)
        return match.group(1) if match else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "amount_fen": self.amount_fen,
            "tax_rate": self.tax_rate,
            "tax_fen": self.tax_fen,
        }


@dataclass(frozen=True, slots=True)
class ParsedInvoice:
    kind: InvoiceFileKind
    #: Where the data came from: ``xml``, ``ofd-xml`` (the embedded XML), ``ofd-tags``, ``pdf``.
    source: str
    number: str
    issued_on: date
    seller_name: str
    seller_tax_id: str
    buyer_name: str
    buyer_tax_id: str
    amount_without_tax_fen: int
    tax_fen: int
    total_fen: int
    items: tuple[InvoiceItem, ...] = ()
    #: On a red-letter (负数) invoice: the number of the invoice it reverses.
    reverses_number: str | None = None
    sha256: str = field(default="", compare=False)

    @property
    def is_red_letter(self) -> bool:
        return self.reverses_number is not None

    @property
    def tax_rates(self) -> list[str]:
        return sorted({item.tax_rate for item in self.items if item.tax_rate})


# --------------------------------------------------------------------------- amounts

#: ASCII digits only (``re.ASCII``): ``\d`` would also take other scripts' digits.
_AMOUNT = re.compile(r"^(-?)(\d{1,13})(?:\.(\d{1,2}))?$", re.ASCII)


def to_fen(text: str | None, name: str) -> int:
    """``"1,234.5"`` → 123450, exactly (decimal string arithmetic; ¥ and commas allowed)."""
    raw = (text or "").strip().replace(",", "").replace("¥", "").replace("￥", "").strip()
    match = _AMOUNT.match(raw)
    if match is None:
        raise InvoiceFileUnreadable(
            f"金额 {name} 无法识别（{raw[:40]!r}） / the amount {name} is not a number of yuan "
            f"with at most two decimals ({raw[:40]!r})",
            field="invoice_file",
            extra={"missing": [name]},
        )
    sign, yuan, fraction = match.groups()
    fen = int(yuan) * 100 + int((fraction or "").ljust(2, "0"))
    return -fen if sign else fen


# --------------------------------------------------------------------------- dispatch


def sniff(data: bytes) -> InvoiceFileKind | None:
    """The kind by content, never by name."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if data.startswith(b"%PDF-"):
        return InvoiceFileKind.PDF
    if data.startswith(b"PK\x03\x04"):
        return InvoiceFileKind.OFD
    if head.startswith(b"<"):
        return InvoiceFileKind.XML
    return None


def read_invoice(data: bytes) -> ParsedInvoice:
    """Read one invoice file (XML, OFD or PDF, by content).

    Raises InvoiceFileUnreadable (not an invoice, or fields missing: ``extra["missing"]``),
    InvoiceFileRefused (hostile or oversize)."""
    kind = sniff(data)
    if kind is None:
        raise InvoiceFileUnreadable(
            "发票文件须为 XML、OFD 或 PDF / an invoice file is XML, OFD or PDF",
            field="invoice_file",
            extra={"missing": ["EInvoice"]},
        )
    if kind is InvoiceFileKind.XML:
        parsed = _from_xml(_xml_root(data), kind, "xml")
    elif kind is InvoiceFileKind.OFD:
        parsed = _from_ofd(data)
    else:
        parsed = _from_pdf(data)
    return _with_hash(parsed, data)


def read_invoice_files(files: Sequence[bytes]) -> tuple[ParsedInvoice, list[ParsedInvoice]]:
    """The invoice from one to three files of the same invoice: the XML or OFD is preferred
    over the PDF, and every file given must agree with it (number and total with tax).

    Returns (the invoice, every file's reading in the order given)."""
    if not files:
        raise InvoiceFileUnreadable(
            "请上传发票文件 / upload the invoice file", field="invoice_file", extra={"missing": []}
        )
    readings = [read_invoice(data) for data in files]
    structured = [r for r in readings if r.kind is not InvoiceFileKind.PDF]
    chosen = structured[0] if structured else readings[0]
    for other in readings:
        if (other.number, other.total_fen) != (chosen.number, chosen.total_fen):
            raise InvoiceFileUnreadable(
                f"上传的发票文件不是同一张发票（{chosen.number} / {other.number}） / the files "
                f"are not the same invoice ({chosen.number} / {other.number})",
                field="invoice_file",
                extra={"missing": []},
            )
    if len({r.sha256 for r in readings}) != len(readings):
        raise InvoiceFileRefused(
            "同一文件上传了两次 / the same file was given twice", field="invoice_file"
        )
    return chosen, readings


def _with_hash(parsed: ParsedInvoice, data: bytes) -> ParsedInvoice:
    return ParsedInvoice(
        **{name: getattr(parsed, name) for name in ParsedInvoice.__slots__ if name != "sha256"},
        sha256=hashlib.sha256(data).hexdigest(),
    )


# --------------------------------------------------------------------------- XML


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _xml_root(data: bytes) -> Element:
    if len(data) > MAX_XML_BYTES:
        raise InvoiceFileRefused(
            f"XML 文件超过 {MAX_XML_BYTES // 1024} KiB / the XML file is larger than "
            f"{MAX_XML_BYTES // 1024} KiB",
            field="invoice_file",
        )
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise InvoiceFileRefused(
            "XML 文件含 DTD 或实体声明，不予接受 / XML with a DTD or entity declarations is "
            "refused",
            field="invoice_file",
        ) from None
    except (ParseError, ValueError):
        raise InvoiceFileUnreadable(
            "XML 文件格式错误 / the XML file is not well-formed",
            field="invoice_file",
            extra={"missing": ["EInvoice"]},
        ) from None


def _first(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    for child in element.iter():
        if _local(child.tag) == name:
            return child
    return None


def _text(element: Element | None, *path: str) -> str:
    node = element
    for name in path:
        node = _first(node, name)
    return (node.text or "").strip() if node is not None else ""


class _Fields:
    """Collects required fields, then refuses once, naming every missing one."""

    def __init__(self) -> None:
        self.missing: list[str] = []

    def need(self, value: str, name: str) -> str:
        if not value:
            self.missing.append(name)
        return value

    def check(self) -> None:
        if self.missing:
            names = "、".join(self.missing)
            raise InvoiceFileUnreadable(
                f"发票文件缺少：{names} / the invoice file lacks: {', '.join(self.missing)}",
                field="invoice_file",
                extra={"missing": list(self.missing)},
            )


_DATE = re.compile(r"(\d{4})\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})", re.ASCII)


def _date(text: str, name: str) -> date:
    match = _DATE.search(text)
    try:
        if match is None:
            raise ValueError
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise InvoiceFileUnreadable(
            f"日期 {name} 无法识别 / the date {name} cannot be read",
            field="invoice_file",
            extra={"missing": [name]},
        ) from None


def _from_xml(root: Element, kind: InvoiceFileKind, source: str) -> ParsedInvoice:
    if _local(root.tag) != "EInvoice":
        raise InvoiceFileUnreadable(
            f"XML 根元素须为 EInvoice（实为 {_local(root.tag)[:40]}） / the XML's root must be "
            f"EInvoice (it is {_local(root.tag)[:40]})",
            field="invoice_file",
            extra={"missing": ["EInvoice"]},
        )
    f = _Fields()
    supervision = _first(root, "TaxSupervisionInfo")
    basic = _first(root, "BasicInformation")
    number = f.need(_text(supervision, "InvoiceNumber"), "TaxSupervisionInfo/InvoiceNumber")
    issued = _text(supervision, "IssueTime") or _text(basic, "RequestTime")
    f.need(issued, "TaxSupervisionInfo/IssueTime")
    seller = _first(root, "SellerInformation")
    buyer = _first(root, "BuyerInformation")
    seller_id = f.need(_text(seller, "SellerIdNum"), "SellerInformation/SellerIdNum")
    buyer_id = f.need(_text(buyer, "BuyerIdNum"), "BuyerInformation/BuyerIdNum")
    without = f.need(_text(basic, "TotalAmWithoutTax"), "BasicInformation/TotalAmWithoutTax")
    tax = f.need(_text(basic, "TotalTaxAm"), "BasicInformation/TotalTaxAm")
    total = f.need(
        _text(basic, "TotalTax-includedAmount"), "BasicInformation/TotalTax-includedAmount"
    )
    f.check()
    items = []
    for node in root.iter():
        if _local(node.tag) != "IssuItemInformation":
            continue
        name = _text(node, "ItemName")
        if not name:
            raise InvoiceFileUnreadable(
                "发票明细缺少 IssuItemInformation/ItemName / an item line lacks its "
                "IssuItemInformation/ItemName",
                field="invoice_file",
                extra={"missing": ["IssuItemInformation/ItemName"]},
            )
        tax_text = _text(node, "ComTaxAm")
        items.append(
            InvoiceItem(
                name=name,
                amount_fen=to_fen(_text(node, "Amount"), "IssuItemInformation/Amount"),
                quantity=_text(node, "Quantity"),
                unit_price=_text(node, "UnPrice"),
                tax_rate=_text(node, "TaxRate"),
                tax_fen=to_fen(tax_text, "IssuItemInformation/ComTaxAm") if tax_text else None,
            )
        )
    red = _first(_first(root, "SpecificInformation"), "RedEInvoice")
    reverses = _text(red, "OriginalInvoiceCode") or _text(red, "OriginalInvoiceNumber")
    return _checked(
        ParsedInvoice(
            kind=kind,
            source=source,
            number=number,
            issued_on=_date(issued, "IssueTime"),
            seller_name=_text(seller, "SellerName"),
            seller_tax_id=seller_id.upper(),
            buyer_name=_text(buyer, "BuyerName"),
            buyer_tax_id=buyer_id.upper(),
            amount_without_tax_fen=to_fen(without, "TotalAmWithoutTax"),
            tax_fen=to_fen(tax, "TotalTaxAm"),
            total_fen=to_fen(total, "TotalTax-includedAmount"),
            items=tuple(items),
            reverses_number=reverses or None,
        ),
        red is not None,
    )


_NUMBER = re.compile(r"^(\d{8}|\d{20})$", re.ASCII)
_TAX_ID = re.compile(r"^[0-9A-Z]{15,20}$", re.ASCII)


def _checked(invoice: ParsedInvoice, red_section: bool) -> ParsedInvoice:
    """Facts every invoice must satisfy, whatever file it came from."""
    problems = []
    if not _NUMBER.match(invoice.number):
        problems.append(("InvoiceNumber", "发票号码须为8或20位数字 / 8 or 20 digits"))
    for name, value in (
        ("SellerIdNum", invoice.seller_tax_id),
        ("BuyerIdNum", invoice.buyer_tax_id),
    ):
        if not _TAX_ID.match(value):
            problems.append((name, "纳税人识别号为15–20位字母数字 / 15–20 letters or digits"))
    if invoice.amount_without_tax_fen + invoice.tax_fen != invoice.total_fen:
        problems.append(
            (
                "TotalTax-includedAmount",
                "价税合计不等于金额加税额 / the total with tax is not the amount plus the tax",
            )
        )
    if invoice.items and sum(i.amount_fen for i in invoice.items) != invoice.amount_without_tax_fen:
        problems.append(
            (
                "IssuItemInformation",
                "明细金额之和不等于合计金额 / the item lines do not add up to the total without tax",
            )
        )
    negative = invoice.total_fen < 0
    if negative and invoice.reverses_number is None:
        problems.append(
            (
                "RedEInvoice/OriginalInvoiceCode",
                "负数发票须注明被红冲的发票 / a red-letter invoice names the invoice it reverses",
            )
        )
    if not negative and (invoice.reverses_number is not None or red_section):
        problems.append(
            (
                "TotalTax-includedAmount",
                "红字发票金额须为负数 / a red-letter invoice's amounts are negative",
            )
        )
    if invoice.total_fen == 0:
        problems.append(("TotalTax-includedAmount", "金额为零 / the total is zero"))
    if invoice.reverses_number is not None and not _NUMBER.match(invoice.reverses_number):
        problems.append(
            ("RedEInvoice/OriginalInvoiceCode", "被红冲发票号码须为8或20位数字 / 8 or 20 digits")
        )
    if problems:
        raise InvoiceFileUnreadable(
            "发票内容有误："
            + "；".join(f"{n}（{m.split(' / ')[0]}）" for n, m in problems)
            + " / the invoice is inconsistent: "
            + "; ".join(f"{n} ({m.split(' / ')[-1]})" for n, m in problems),
            field="invoice_file",
            extra={"missing": [n for n, _m in problems]},
        )
    return invoice


# --------------------------------------------------------------------------- OFD


class _SafeZip:
    """A zip read under limits that do not trust the zip's own size claims."""

    def __init__(self, data: bytes) -> None:
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            NotImplementedError,  # a damaged header may claim an unsupported zip version
            RuntimeError,
            OSError,
            ValueError,
            EOFError,
        ):
            raise InvoiceFileUnreadable(
                "OFD 文件无法打开（不是有效的 zip） / the OFD file cannot be opened (not a zip)",
                field="invoice_file",
                extra={"missing": ["OFD.xml"]},
            ) from None
        if len(infos) > MAX_ZIP_MEMBERS:
            raise self._refused(f"more than {MAX_ZIP_MEMBERS} members")
        self.names = {}
        for info in infos:
            name = info.filename.replace("\\", "/")
            if name.startswith("/") or ".." in name.split("/"):
                raise self._refused(f"a member path escapes the archive ({name[:60]!r})")
            if info.flag_bits & 0x1:
                raise self._refused("encrypted members")
            if info.file_size > MAX_ZIP_MEMBER_BYTES or (
                info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO
            ):
                raise self._refused(f"a member inflates too far ({name[:60]!r})")
            self.names[name.lstrip("./")] = info
        self.read_total = 0

    @staticmethod
    def _refused(why: str) -> InvoiceFileRefused:
        return InvoiceFileRefused(
            f"OFD 文件不予接受（压缩包异常：{why}） / the OFD file is refused ({why})",
            field="invoice_file",
        )

    def read(self, name: str) -> bytes:
        info = self.names[name]
        limit = min(MAX_ZIP_MEMBER_BYTES, MAX_ZIP_TOTAL_BYTES - self.read_total)
        try:
            with self.zip.open(info) as fh:
                data = fh.read(limit + 1)
        except (
            zipfile.BadZipFile,
            zlib.error,
            NotImplementedError,
            RuntimeError,
            OSError,
            EOFError,
            ValueError,
        ):
            raise InvoiceFileUnreadable(
                f"OFD 文件的 {name[:60]} 无法解压 / {name[:60]} in the OFD cannot be inflated",
                field="invoice_file",
                extra={"missing": [name[:60]]},
            ) from None
        if len(data) > limit:
            raise self._refused(f"{name[:60]!r} inflates beyond the limit")
        self.read_total += len(data)
        return data

    def find(self, suffix: str) -> list[str]:
        return sorted(n for n in self.names if n.lower().endswith(suffix.lower()))


def _from_ofd(data: bytes) -> ParsedInvoice:
    archive = _SafeZip(data)
    if "OFD.xml" not in archive.names:
        raise InvoiceFileUnreadable(
            "不是 OFD 文件（缺少 OFD.xml） / not an OFD file (no OFD.xml)",
            field="invoice_file",
            extra={"missing": ["OFD.xml"]},
        )
    # The original XML, embedded as an attachment, is the invoice itself: prefer it.
    for name in archive.find(".xml"):
        if name == "OFD.xml" or "/Pages/" in name or name.endswith(("Content.xml", "Tags.xml")):
            continue
        raw = archive.read(name)
        if b"EInvoice" not in raw[:4096]:
            continue
        root = _xml_root(raw)
        if _local(root.tag) == "EInvoice":
            return _from_xml(root, InvoiceFileKind.OFD, "ofd-xml")
    return _from_ofd_tags(archive)


#: The OFD tag index's names (GB/T 38540 e-invoice profile) → our fields.
_OFD_TAGS = {
    "InvoiceNo": "number",
    "IssueDate": "issued",
    "BuyerName": "buyer_name",
    "BuyerTaxID": "buyer_id",
    "SellerName": "seller_name",
    "SellerTaxID": "seller_id",
    "TaxExclusiveTotalAmount": "without",
    "TaxTotalAmount": "tax",
    "TaxInclusiveTotalAmount": "total",
}


def _from_ofd_tags(archive: _SafeZip) -> ParsedInvoice:
    index_names = archive.find("CustomTags.xml")
    if not index_names:
        raise InvoiceFileUnreadable(
            "OFD 文件既无原始 XML 也无标签索引 / the OFD carries neither the original XML nor "
            "a tag index (CustomTags.xml)",
            field="invoice_file",
            extra={"missing": ["EInvoice", "CustomTags.xml"]},
        )
    texts = _ofd_text_objects(archive)
    values: dict[str, str] = {}
    for index_name in index_names:
        base = index_name.rsplit("/", 1)[0] + "/" if "/" in index_name else ""
        for loc in _xml_root(archive.read(index_name)).iter():
            if _local(loc.tag) != "FileLoc" or not (loc.text or "").strip():
                continue
            target = _ofd_path(base, (loc.text or "").strip())
            if target not in archive.names:
                continue
            for node in _xml_root(archive.read(target)).iter():
                key = _OFD_TAGS.get(_local(node.tag))
                if key is None or key in values:
                    continue
                refs = [r for r in node.iter() if _local(r.tag) == "ObjectRef"]
                if refs:
                    value = "".join(texts.get((r.text or "").strip(), "") for r in refs)
                else:
                    value = "".join(node.itertext())
                values[key] = value.strip()
    f = _Fields()
    for tag, key in _OFD_TAGS.items():
        if key not in ("buyer_name", "seller_name"):
            f.need(values.get(key, ""), tag)
    f.check()
    return _checked(
        ParsedInvoice(
            kind=InvoiceFileKind.OFD,
            source="ofd-tags",
            number=values["number"],
            issued_on=_date(values["issued"], "IssueDate"),
            seller_name=values.get("seller_name", ""),
            seller_tax_id=values["seller_id"].upper(),
            buyer_name=values.get("buyer_name", ""),
            buyer_tax_id=values["buyer_id"].upper(),
            amount_without_tax_fen=to_fen(values["without"], "TaxExclusiveTotalAmount"),
            tax_fen=to_fen(values["tax"], "TaxTotalAmount"),
            total_fen=to_fen(values["total"], "TaxInclusiveTotalAmount"),
        ),
        False,
    )


def _ofd_path(base: str, loc: str) -> str:
    loc = loc.replace("\\", "/")
    return loc.lstrip("/") if loc.startswith("/") else (base + loc).lstrip("./")


def _ofd_text_objects(archive: _SafeZip) -> dict[str, str]:
    """Text object id → its text, over every page's content."""
    found: dict[str, str] = {}
    for name in archive.find("Content.xml"):
        for node in _xml_root(archive.read(name)).iter():
            if _local(node.tag) == "TextObject" and node.get("ID"):
                codes = [c.text or "" for c in node.iter() if _local(c.tag) == "TextCode"]
                found[str(node.get("ID"))] = "".join(codes)
    return found


# --------------------------------------------------------------------------- PDF

_PDF_PATTERNS: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"发\s*票\s*号\s*码\s*[:：]?\s*(\d{20}|\d{8})"),
    "issued": re.compile(
        r"开\s*票\s*日\s*期\s*[:：]?\s*(\d{4}\s*[-年]\s*\d{1,2}\s*[-月]\s*\d{1,2})"
    ),
    "buyer": re.compile(
        r"购\s*买\s*方.*?名\s*称\s*[:：]\s*(\S+).*?纳税人识别号\s*[:：]\s*([0-9A-Z]{15,20})", re.S
    ),
    "seller": re.compile(
        r"销\s*售\s*方.*?名\s*称\s*[:：]\s*(\S+).*?纳税人识别号\s*[:：]\s*([0-9A-Z]{15,20})", re.S
    ),
    "totals": re.compile(r"合\s*计\s*[¥￥]\s*(-?[\d,]+\.\d{2})\s*[¥￥]\s*(-?[\d,]+\.\d{2})"),
    "total": re.compile(r"价税合计.*?[（(]\s*小写\s*[)）]\s*[¥￥]?\s*(-?[\d,]+\.\d{2})", re.S),
    "reverses": re.compile(
        r"(?:被红冲蓝字数电票号码|对应蓝字发票号码|被红冲发票号码)\s*[:：]\s*(\d{20}|\d{8})"
    ),
}
_PDF_ITEM = re.compile(
    r"^(\*[^*\s]+\*\S*)\s+(?:(\S+)\s+)?(?:(-?\d+(?:\.\d+)?)\s+)?(?:(-?\d+(?:\.\d+)?)\s+)?"
    r"(-?\d+\.\d{2})\s+(\d{1,2}%|免税|不征税)\s+(-?\d+\.\d{2})\s*$"
)


def _from_pdf(data: bytes) -> ParsedInvoice:
    # pypdf (with the cryptography, fontTools and Pillow it pulls in: ≈ 17 MiB resident) is
    # imported by the one reader of PDF invoices, not by every worker that imports the models.
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InvoiceFileRefused(
                "加密的 PDF 不予接受 / an encrypted PDF is refused", field="invoice_file"
            )
        if len(reader.pages) > MAX_PDF_PAGES:
            raise InvoiceFileRefused(
                f"PDF 超过 {MAX_PDF_PAGES} 页 / the PDF has more than {MAX_PDF_PAGES} pages",
                field="invoice_file",
            )
        text = ""
        for page in reader.pages:
            text += (page.extract_text() or "") + "\n"
            if len(text) > MAX_PDF_TEXT:
                raise InvoiceFileRefused(
                    "PDF 文本过长 / the PDF's text is too long", field="invoice_file"
                )
    except InvoiceFileRefused:
        raise
    except Exception:
        # pypdf raises many kinds of errors on broken files (its own, ValueError, KeyError,
        # RecursionError …); for an uploaded file every one of them means "cannot be read".
        raise InvoiceFileUnreadable(
            "PDF 文件无法读取 / the PDF cannot be read",
            field="invoice_file",
            extra={"missing": ["text layer"]},
        ) from None
    return _pdf_fields(text)


def _pdf_fields(text: str) -> ParsedInvoice:
    found = {key: pattern.search(text) for key, pattern in _PDF_PATTERNS.items()}
    labels = {
        "number": "发票号码",
        "issued": "开票日期",
        "buyer": "购买方纳税人识别号",
        "seller": "销售方纳税人识别号",
        "totals": "合计",
        "total": "价税合计（小写）",
    }
    f = _Fields()
    for key, label in labels.items():
        f.need("x" if found[key] else "", label)
    if not any(found.values()):
        raise InvoiceFileUnreadable(
            "PDF 没有可读的文字层（扫描件请改传 XML 或 OFD） / the PDF has no readable text "
            "layer (for a scan, upload the XML or OFD)",
            field="invoice_file",
            extra={"missing": ["text layer"]},
        )
    f.check()
    match = {k: v for k, v in found.items() if v is not None}
    items = []
    for line in text.splitlines():
        item = _PDF_ITEM.match(line.strip())
        if item:
            name, _unit, quantity, price, amount, rate, tax = item.groups()
            items.append(
                InvoiceItem(
                    name=name,
                    amount_fen=to_fen(amount, "金额"),
                    quantity=quantity or "",
                    unit_price=price or "",
                    tax_rate=rate,
                    tax_fen=to_fen(tax, "税额"),
                )
            )
    reverses = match["reverses"].group(1) if "reverses" in match else None
    return _checked(
        ParsedInvoice(
            kind=InvoiceFileKind.PDF,
            source="pdf",
            number=match["number"].group(1),
            issued_on=_date(match["issued"].group(1), "开票日期"),
            buyer_name=match["buyer"].group(1),
            buyer_tax_id=match["buyer"].group(2),
            seller_name=match["seller"].group(1),
            seller_tax_id=match["seller"].group(2),
            amount_without_tax_fen=to_fen(match["totals"].group(1), "合计金额"),
            tax_fen=to_fen(match["totals"].group(2), "合计税额"),
            total_fen=to_fen(match["total"].group(1), "价税合计"),
            items=tuple(items),
            reverses_number=reverses,
        ),
        False,
    )


# --------------------------------------------------------------------------- categories

#: The tax classifications (商品和服务税收分类 short names, between the asterisks of an item
#: name) an invoice for each service category may carry. Services the programmes fund are
#: modern services (现代服务: R&D and technical, information technology, assurance and
#: consulting, cultural and creative — where IP services sit — and leasing for instrument
#: time); technology transactions may also be sales of intangible assets (无形资产).
_SERVICES = frozenset(
    {"现代服务", "研发和技术服务", "信息技术服务", "鉴证咨询服务", "专业技术服务"}
)
ITEM_CLASSES: dict[ServiceCategory, frozenset[str]] = {
    category: _SERVICES for category in ServiceCategory
}
ITEM_CLASSES[ServiceCategory.IP] = _SERVICES | {"文化创意服务", "知识产权服务"}
ITEM_CLASSES[ServiceCategory.INSTRUMENT_SHARING] = _SERVICES | {"经营租赁", "租赁服务"}
ITEM_CLASSES[ServiceCategory.TECH_TRANSACTION] = _SERVICES | {"无形资产", "技术转让"}
ITEM_CLASSES[ServiceCategory.TRANSFORMATION] = _SERVICES | {"无形资产", "技术转让"}
ITEM_CLASSES[ServiceCategory.FINANCING] = _SERVICES | {"金融服务", "直接收费金融服务"}


def items_outside(category: ServiceCategory, items: Iterable[dict[str, Any]]) -> list[str]:
    """The item names whose tax classification does not fit ``category`` (none: they fit).

    An invoice with no item lines at all fits nothing: its lines are what shows the service."""
    allowed = ITEM_CLASSES[category]
    names = [str(item.get("name", "")) for item in items]
    if not names:
        return ["（无明细 / no item lines）"]
    return [
        name for name in names if InvoiceItem(name=name, amount_fen=0).classification not in allowed
    ]
