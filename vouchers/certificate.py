"""The e-voucher certificate: what an enterprise prints or shows a provider.

A certificate is a snapshot of the voucher (serial, holder, programme, amounts, dates, issuing
authority) and a QR code carrying the public verification URL with the voucher's signed token
(:mod:`vouchers.tokens`). The certificate itself proves nothing: whoever scans the code sees
the platform's answer as it stands *now* (genuine, usable), so a printed balance that has since
been spent cannot mislead a provider.

The PDF uses reportlab's built-in Adobe CID font ``STSong-Light`` (Adobe-GB1): every PDF
reader ships its metrics and glyphs, so nothing is downloaded or embedded and the file stays
small. The QR code is drawn as vector squares (segno's module matrix) so it prints sharply at
any size.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import segno

from marketplace import clock
from marketplace.money import format_fen
from vouchers.enums import FundingBody, ProgrammeKind
from vouchers.models import Voucher

if TYPE_CHECKING:
    # reportlab is imported where a PDF is drawn: a worker that never renders a certificate
    # does not carry it (tests/architecture/test_lazy_imports.py).
    from reportlab.pdfgen.canvas import Canvas

FONT = "STSong-Light"
#: Error correction level M (15 %) survives a crease or a smudge on paper without making the
#: code too dense for a phone camera (the URL is ~130 characters).
QR_ERROR = "m"


def issuing_authority(kind: ProgrammeKind, funding_body: FundingBody) -> str:
    """Who issues a programme's vouchers, as printed on the certificate.

    Service vouchers are run by the municipal SME service centre (POLICY 000 art. 5);
    innovation vouchers by the science and technology department of the government that funds
    them (provincial or Kunming municipal).
    """
    if kind is ProgrammeKind.SERVICE:
        return "昆明市中小企业服务中心"
    if funding_body is FundingBody.PROVINCIAL:
        return "云南省科学技术厅"
    return "昆明市科学技术局"


@dataclass(frozen=True, slots=True)
class Certificate:
    serial: str
    holder: str
    holder_credit_code: str
    programme: str
    kind: ProgrammeKind
    face_value_fen: int
    balance_fen: int
    ceiling_bps: int
    valid_from: date
    use_by: date
    claim_deadline: date
    issuing_authority: str
    status_label: str
    verify_url: str
    printed_at: datetime

    def rows(self) -> Iterator[tuple[str, str]]:
        """The facts in print order: (Chinese label, value)."""
        yield "券号", self.serial
        yield "持券企业", self.holder
        yield "统一社会信用代码", self.holder_credit_code
        yield "券种", f"{self.programme}（{self.kind.zh}）"
        yield "面值", format_fen(self.face_value_fen)
        yield (
            "余额",
            f"{format_fen(self.balance_fen)}（截至北京时间 {clock.beijing_text(self.printed_at)}）",
        )
        yield "抵扣比例", f"不超过服务价格的 {self.ceiling_bps / 100:g}%"
        yield "有效期", f"{self.valid_from.isoformat()} 至 {self.use_by.isoformat()}"
        yield "兑付截止日", self.claim_deadline.isoformat()
        yield "发放机构", self.issuing_authority
        yield "状态", self.status_label


def certificate_of(voucher: Voucher, verify_url: str, printed_at: datetime) -> Certificate:
    """The certificate of ``voucher``; ``verify_url`` is the absolute URL the QR code opens."""
    programme = voucher.programme
    return Certificate(
        serial=voucher.serial,
        holder=voucher.enterprise.name,
        holder_credit_code=voucher.enterprise.credit_code,
        programme=programme.name,
        kind=programme.kind,
        face_value_fen=voucher.face_value_fen,
        balance_fen=voucher.balance_fen,
        ceiling_bps=programme.ceiling_bps,
        valid_from=voucher.valid_from,
        use_by=voucher.use_by,
        claim_deadline=voucher.claim_deadline,
        issuing_authority=issuing_authority(programme.kind, programme.funding_body),
        status_label=voucher.status.zh,
        verify_url=verify_url,
        printed_at=printed_at,
    )


def qr_code(url: str) -> segno.QRCode:
    return segno.make_qr(url, error=QR_ERROR, boost_error=False)


def qr_svg(url: str, scale: int = 4) -> str:
    """The QR code as an inline SVG element (no XML declaration), for the certificate page."""
    buffer = io.BytesIO()
    qr_code(url).save(
        buffer, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True, nl=False
    )
    return buffer.getvalue().decode("utf-8")


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _draw_qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    """Draw the QR code with its quiet zone as a white square of ``size`` at (x, y)."""
    from reportlab.lib.colors import black, white

    matrix = [list(row) for row in qr_code(url).matrix_iter(scale=1, border=4)]
    module = size / len(matrix)
    canvas.setFillColor(white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(black)
    for r, row in enumerate(matrix):
        top = y + size - (r + 1) * module
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            # One rectangle per run of dark modules: fewer shapes, no hairline seams.
            canvas.rect(x + start * module, top, (c - start) * module, module, stroke=0, fill=1)


def _wrap(text: str, width: float, size: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (characters, not words: URLs and
    Chinese have no spaces to break at)."""
    from reportlab.pdfbase import pdfmetrics

    lines: list[str] = []
    line = ""
    for char in text:
        if line and pdfmetrics.stringWidth(line + char, FONT, size) > width:
            lines.append(line)
            line = ""
        line += char
    if line:
        lines.append(line)
    return lines


def render_pdf(certificate: Certificate) -> bytes:
    """The certificate as a one-page A4 PDF."""
    from reportlab.lib.colors import HexColor, black
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    _register_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"电子券凭证 {certificate.serial}")
    canvas.setAuthor(certificate.issuing_authority)
    canvas.setSubject(certificate.programme)
    width, height = A4
    accent = HexColor("#b8312f")

    # Frame
    canvas.setStrokeColor(accent)
    canvas.setLineWidth(2)
    canvas.rect(15 * mm, 15 * mm, width - 30 * mm, height - 30 * mm)
    canvas.setLineWidth(0.5)
    canvas.rect(17 * mm, 17 * mm, width - 34 * mm, height - 34 * mm)

    # Heading
    canvas.setFillColor(accent)
    canvas.setFont(FONT, 26)
    canvas.drawCentredString(width / 2, height - 42 * mm, "电子券凭证")
    canvas.setFillColor(black)
    canvas.setFont(FONT, 14)
    canvas.drawCentredString(width / 2, height - 52 * mm, certificate.kind.zh)

    # Facts
    y = height - 70 * mm
    label_x, value_x = 30 * mm, 72 * mm
    for label, value in certificate.rows():
        canvas.setFont(FONT, 11)
        canvas.setFillColor(HexColor("#555555"))
        canvas.drawString(label_x, y, label)
        canvas.setFillColor(black)
        canvas.setFont(FONT, 13)
        for line in _wrap(value, width - value_x - 30 * mm, 13):
            canvas.drawString(value_x, y, line)
            y -= 7 * mm
        y -= 2 * mm

    # QR code and how to use it
    qr_size = 55 * mm
    qr_y = 40 * mm
    _draw_qr(canvas, certificate.verify_url, (width - qr_size) / 2, qr_y + 22 * mm, qr_size)
    canvas.setFont(FONT, 11)
    canvas.drawCentredString(width / 2, qr_y + 16 * mm, "服务机构扫码核验真伪及可用额度")
    canvas.setFont(FONT, 7)
    line_y = qr_y + 11 * mm
    for line in _wrap(certificate.verify_url, width - 60 * mm, 7):
        canvas.drawCentredString(width / 2, line_y, line)
        line_y -= 3.5 * mm
    canvas.setFont(FONT, 8)
    canvas.setFillColor(HexColor("#555555"))
    canvas.drawCentredString(
        width / 2,
        22 * mm,
        "本凭证仅用于核验，不能用于支付；余额以扫码核验时平台显示为准。",
    )
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
