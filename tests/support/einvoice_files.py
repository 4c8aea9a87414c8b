"""Invoice files the tests generate: the 数电发票 XML, an OFD built as a zip (with the XML
embedded, or with only its tag index pointing at page text objects), and a PDF rendered by
reportlab with a real text layer (a CJK font the PDF reader can map back to text)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field, replace
from datetime import date
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))


@dataclass(frozen=True)
class Item:
    name: str = "*现代服务*检验检测服务"
    quantity: str = "1"
    unit_price: str = "943.40"
    amount: str = "943.40"
    tax_rate: str = "6%"
    tax: str = "56.60"


@dataclass(frozen=True)
class InvoiceSpec:
    """One invoice's facts as printed (amounts in yuan, as strings, like the files)."""

    number: str = "26532000000012345678"
    issued: date = date(2026, 6, 3)
    seller_name: str = "云南省质量技术监督检验研究院"
    seller_id: str = "12530000431200128X"
    buyer_name: str = "昆明滇池智能装备有限公司"
    buyer_id: str = "91530100MA6K12345X"
    without_tax: str = "943.40"
    tax: str = "56.60"
    total: str = "1000.00"
    items: tuple[Item, ...] = field(default_factory=lambda: (Item(),))
    reverses: str | None = None

    def but(self, **changes: object) -> InvoiceSpec:
        return replace(self, **changes)  # type: ignore[arg-type]


def spec_for(
    *,
    number: str,
    total_fen: int,
    buyer_id: str,
    seller_id: str,
    issued: date,
    item_name: str = "*现代服务*检验检测服务",
    reverses: str | None = None,
) -> InvoiceSpec:
    """An invoice of ``total_fen`` with tax at 6% split to the fen (tax = total − net)."""
    net = round(total_fen * 100 / 106)
    tax = total_fen - net

    def yuan(fen: int) -> str:
        sign = "-" if fen < 0 else ""
        return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"

    return InvoiceSpec(
        number=number,
        issued=issued,
        buyer_id=buyer_id,
        seller_id=seller_id,
        without_tax=yuan(net),
        tax=yuan(tax),
        total=yuan(total_fen),
        items=(Item(name=item_name, unit_price=yuan(net), amount=yuan(net), tax=yuan(tax)),),
        reverses=reverses,
    )


def xml_bytes(spec: InvoiceSpec = InvoiceSpec(), *, omit: tuple[str, ...] = ()) -> bytes:
    """The invoice XML as issued (the fields named in ``omit`` left out)."""

    def el(tag: str, value: str) -> str:
        return "" if tag in omit else f"<{tag}>{escape(value)}</{tag}>"

    items = "".join(
        "<IssuItemInformation>"
        + el("ItemName", i.name)
        + el("Quantity", i.quantity)
        + el("UnPrice", i.unit_price)
        + el("Amount", i.amount)
        + el("TaxRate", i.tax_rate)
        + el("ComTaxAm", i.tax)
        + "</IssuItemInformation>"
        for i in spec.items
    )
    red = (
        "<SpecificInformation><RedEInvoice>"
        + el("OriginalInvoiceCode", spec.reverses)
        + "</RedEInvoice></SpecificInformation>"
        if spec.reverses
        else ""
    )
    issued = f"{spec.issued.isoformat()} 10:21:33"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<EInvoice><Header><EIid>1</EIid></Header><EInvoiceData>"
        "<SellerInformation>"
        + el("SellerIdNum", spec.seller_id)
        + el("SellerName", spec.seller_name)
        + "</SellerInformation><BuyerInformation>"
        + el("BuyerIdNum", spec.buyer_id)
        + el("BuyerName", spec.buyer_name)
        + "</BuyerInformation><BasicInformation>"
        + el("TotalAmWithoutTax", spec.without_tax)
        + el("TotalTaxAm", spec.tax)
        + el("TotalTax-includedAmount", spec.total)
        + el("RequestTime", issued)
        + "</BasicInformation>"
        + items
        + red
        + "</EInvoiceData><TaxSupervisionInfo>"
        + el("InvoiceNumber", spec.number)
        + el("IssueTime", issued)
        + "</TaxSupervisionInfo></EInvoice>"
    )
    return body.encode("utf-8")


_OFD_XML = b'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.1"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>'
NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def ofd_bytes(spec: InvoiceSpec = InvoiceSpec(), *, embed_xml: bool = True) -> bytes:
    """An OFD (zip): OFD.xml, a page whose text objects print the invoice, the tag index
    pointing at them, and (``embed_xml``) the original XML as an attachment."""
    values = {
        "InvoiceNo": spec.number,
        "IssueDate": f"{spec.issued.year}年{spec.issued.month:02d}月{spec.issued.day:02d}日",
        "BuyerName": spec.buyer_name,
        "BuyerTaxID": spec.buyer_id,
        "SellerName": spec.seller_name,
        "SellerTaxID": spec.seller_id,
        "TaxExclusiveTotalAmount": spec.without_tax,
        "TaxTotalAmount": spec.tax,
        "TaxInclusiveTotalAmount": spec.total,
    }
    objects = "".join(
        f'<ofd:TextObject ID="{100 + n}"><ofd:TextCode X="0" Y="0">{escape(v)}</ofd:TextCode>'
        "</ofd:TextObject>"
        for n, v in enumerate(values.values())
    )
    content = (
        f"<ofd:Page {NS}><ofd:Content><ofd:Layer>{objects}</ofd:Layer></ofd:Content></ofd:Page>"
    )
    tags = "".join(
        f'<ofd:{tag}><ofd:ObjectRef PageRef="1">{100 + n}</ofd:ObjectRef></ofd:{tag}>'
        for n, tag in enumerate(values)
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("OFD.xml", _OFD_XML)
        z.writestr("Doc_0/Document.xml", f"<ofd:Document {NS}/>")
        z.writestr("Doc_0/Pages/Page_0/Content.xml", content)
        z.writestr(
            "Doc_0/Tags/CustomTags.xml",
            f"<ofd:CustomTags {NS}><ofd:CustomTag NameSpace='einvoice'>"
            "<ofd:FileLoc>CustomTag.xml</ofd:FileLoc></ofd:CustomTag></ofd:CustomTags>",
        )
        z.writestr("Doc_0/Tags/CustomTag.xml", f"<ofd:eInvoice {NS}>{tags}</ofd:eInvoice>")
        if embed_xml:
            z.writestr("Doc_0/Attachs/original_invoice.xml", xml_bytes(spec))
    return buf.getvalue()


def pdf_bytes(spec: InvoiceSpec = InvoiceSpec(), *, text_layer: bool = True) -> bytes:
    """The invoice's PDF as the tax platform lays it out, with its text layer."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.setFont("STSong-Light", 9)
    lines = [
        "电子发票（普通发票）" if not spec.reverses else "电子发票（普通发票）（红字）",
        f"发票号码：{spec.number}",
        f"开票日期：{spec.issued.year}年{spec.issued.month:02d}月{spec.issued.day:02d}日",
        f"购买方信息 名称：{spec.buyer_name}",
        f"统一社会信用代码/纳税人识别号：{spec.buyer_id}",
        f"销售方信息 名称：{spec.seller_name}",
        f"统一社会信用代码/纳税人识别号：{spec.seller_id}",
        "项目名称 规格型号 单位 数量 单价 金额 税率/征收率 税额",
        *(
            f"{i.name} 次 {i.quantity} {i.unit_price} {i.amount} {i.tax_rate} {i.tax}"
            for i in spec.items
        ),
        f"合 计 ¥{spec.without_tax} ¥{spec.tax}",
        f"价税合计（大写） 壹仟圆整 （小写）¥{spec.total}",
    ]
    if spec.reverses:
        lines.append(f"被红冲蓝字数电票号码：{spec.reverses}")
    if text_layer:
        for n, line in enumerate(lines):
            pdf.drawString(40, 800 - 16 * n, line)
    else:
        pdf.rect(40, 700, 200, 80)  # a scan: marks, no text
    pdf.save()
    return buf.getvalue()
