"""The certificate's issuing authority and its PDF, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pypdfium2
import zxingcpp

from vouchers.certificate import Certificate, issuing_authority, qr_svg, render_pdf
from vouchers.enums import FundingBody, ProgrammeKind


def test_issuing_authority_follows_the_programme():
    assert (
        issuing_authority(ProgrammeKind.SERVICE, FundingBody.MUNICIPAL) == "昆明市中小企业服务中心"
    )
    assert (
        issuing_authority(ProgrammeKind.SERVICE, FundingBody.PROVINCIAL) == "昆明市中小企业服务中心"
    )
    assert issuing_authority(ProgrammeKind.INNOVATION, FundingBody.PROVINCIAL) == "云南省科学技术厅"
    assert issuing_authority(ProgrammeKind.INNOVATION, FundingBody.MUNICIPAL) == "昆明市科学技术局"


def _certificate(url: str) -> Certificate:
    return Certificate(
        serial="SV2026ABCDEFGH",
        holder="昆明一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十有限公司",
        holder_credit_code="91530100MA6K000000",
        programme="2026年度创业创新服务券",
        kind=ProgrammeKind.SERVICE,
        face_value_fen=3_000_000,
        balance_fen=1,
        ceiling_bps=5_000,
        valid_from=date(2026, 1, 1),
        use_by=date(2026, 12, 31),
        claim_deadline=date(2027, 3, 31),
        issuing_authority="昆明市中小企业服务中心",
        status_label="可使用",
        verify_url=url,
        printed_at=datetime(2026, 3, 1, 6, 5, tzinfo=UTC),
    )


def test_a_long_url_and_a_long_name_still_give_one_readable_page():
    url = "https://voucher.example.cn/verify/" + "Ab-_9" * 40
    pdf = render_pdf(_certificate(url))
    document = pypdfium2.PdfDocument(pdf)
    try:
        assert len(document) == 1
        text = document[0].get_textpage().get_text_range()
        image = document[0].render(scale=2).to_pil()
    finally:
        document.close()
    assert "¥0.01" in text and "2026-03-01 14:05" in text  # printed in Beijing time
    assert "昆明市中小企业服务中心" in text and "创业创新服务券" in text
    assert [found.text for found in zxingcpp.read_barcodes(image)] == [url]


def test_the_inline_svg_is_an_svg_element_only():
    svg = qr_svg("http://127.0.0.1:5000/verify/x.y")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "<script" not in svg
