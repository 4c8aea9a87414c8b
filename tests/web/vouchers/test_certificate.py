"""Issue 13, point 1: the e-voucher certificate (page and PDF with a QR code) and the public
verification page a provider opens by scanning it.

The PDF test does what a provider's phone does: it renders the downloaded PDF to pixels
(pdfium), decodes the QR code from the picture (zxing-cpp), and opens the URL it carries.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pypdfium2
import pytest
import zxingcpp

from marketplace import clock
from marketplace.db import utcnow
from marketplace.enums import Role, ServiceCategory
from providers.enums import PricingMode, ProviderStatus
from vouchers import expiry, holds, tokens
from vouchers.enums import VoucherStatus

NOW = utcnow()
YEAR = clock.local_date(NOW).year


@pytest.fixture
def sme(create_user, auth):
    user = create_user(Role.ENTERPRISE)
    auth.login(user)
    return user


@pytest.fixture
def programme(funded_programme):
    return funded_programme(year=YEAR)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _decode_qr(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        assert len(document) == 1
        image = document[0].render(scale=2).to_pil()
    finally:
        document.close()
    return [found.text for found in zxingcpp.read_barcodes(image)]


def _pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        return page.get_textpage().get_text_range()
    finally:
        document.close()


def test_the_pdf_certificate_carries_a_qr_code_that_opens_genuine(
    app, client, session, sme, programme, issue_voucher
):
    sme.enterprise.name = "昆明滇池材料科技有限公司"
    voucher = issue_voucher(sme.enterprise, programme, amount_fen=1_200_000, now=NOW)
    response = client.get(f"/enterprise/vouchers/{voucher.id}/certificate.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert f'filename="voucher-{voucher.serial}.pdf"' in response.headers["Content-Disposition"]
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF-")
    assert b"/STSong-Light" in pdf  # the standard CJK CID font, nothing downloaded

    text = _pdf_text(pdf)
    assert voucher.serial in text
    assert "¥12,000.00" in text  # face value
    assert "昆明滇池材料科技有限公司" in text
    assert "云南省科学技术厅" in text  # provincial innovation voucher
    assert str(voucher.claim_deadline) in text

    (url,) = _decode_qr(pdf)
    base = app.config["SETTINGS"].base_url.rstrip("/")
    assert url.startswith(base + "/verify/")
    token = url.removeprefix(base + "/verify/")
    assert tokens.voucher_for_token(session, app.config["SECRET_KEY"], token).id == voucher.id

    client.post("/logout")  # whoever scans it: anonymous
    page = _text(client.get(urlsplit(url).path))
    assert "真实有效，可以使用" in page
    assert voucher.serial in page
    assert "昆明" in page and "昆明滇池材料科技有限公司" not in page  # holder masked
    assert "¥" not in page.split('<footer class="footer">')[0]  # no amounts for the anonymous


def test_the_certificate_page_shows_every_fact_and_an_inline_qr_code(
    client, sme, programme, issue_voucher
):
    voucher = issue_voucher(sme.enterprise, programme, amount_fen=300_000, now=NOW)
    voucher_page = _text(client.get(f"/enterprise/vouchers/{voucher.id}"))
    assert f"/enterprise/vouchers/{voucher.id}/certificate" in voucher_page
    page = _text(client.get(f"/enterprise/vouchers/{voucher.id}/certificate"))
    for fact in (
        voucher.serial,
        sme.enterprise.name,
        sme.enterprise.credit_code,
        programme.name,
        "¥3,000.00",
        str(voucher.valid_from),
        str(voucher.use_by),
        str(voucher.claim_deadline),
        "云南省科学技术厅",
        "北京时间",
    ):
        assert fact in page, fact
    assert re.search(r'data-testid="certificate-qr"><svg[^>]*>.*</svg>', page, re.S)
    english = _text(client.get(f"/enterprise/vouchers/{voucher.id}/certificate?lang=en"))
    assert "E-voucher certificate" in english and "Beijing time" in english


def test_another_enterprises_certificate_is_not_found(
    client, sme, programme, create_enterprise, issue_voucher
):
    other = issue_voucher(create_enterprise(), programme, now=NOW)
    assert client.get(f"/enterprise/vouchers/{other.id}/certificate").status_code == 404
    assert client.get(f"/enterprise/vouchers/{other.id}/certificate.pdf").status_code == 404
    client.post("/logout")
    assert client.get(f"/enterprise/vouchers/{other.id}/certificate.pdf").status_code == 302


def test_a_forged_token_is_not_genuine(
    app, client, session, programme, issue_voucher, create_enterprise
):
    voucher = issue_voucher(create_enterprise(), programme, now=NOW)
    token = tokens.verification_token(app.config["SECRET_KEY"], voucher)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = client.get(f"/verify/{forged}")
    assert response.status_code == 404
    assert "不是本平台签发" in _text(response)
    assert voucher.serial not in _text(response)


def test_a_revoked_voucher_is_genuine_but_not_usable(
    app, client, session, programme, issue_voucher, create_enterprise
):
    voucher = issue_voucher(create_enterprise(), programme, now=NOW)
    expiry.revoke_voucher(session, voucher.id, reason="欺诈", actor_id=None, idempotency_key="r1")
    assert voucher.status is VoucherStatus.REVOKED
    token = tokens.verification_token(app.config["SECRET_KEY"], voucher)
    page = _text(client.get(f"/verify/{token}"))
    assert "真券，但目前不能使用" in page
    assert "已被撤销" in page
    english = _text(client.get(f"/verify/{token}?lang=en"))
    assert "Genuine, not usable now" in english and "revoked" in english


@pytest.fixture
def scanned(app, session, programme, issue_voucher, create_enterprise):
    """A voucher of ¥10,000 with ¥2,000 held by another order, and its token."""
    voucher = issue_voucher(create_enterprise(), programme, amount_fen=1_000_000, now=NOW)
    holds.place_hold(session, voucher, "order-x", 200_000, 400_000, "h1", NOW)
    return voucher, tokens.verification_token(app.config["SECRET_KEY"], voucher)


def test_an_admitted_provider_sees_what_the_voucher_covers_for_its_services(
    client, auth, create_user, create_provider, create_service, scanned
):
    _voucher, token = scanned
    provider = create_provider(status=ProviderStatus.ADMITTED)
    cheap = create_service(provider, title="力学性能检测", price_fen=80_000)
    dear = create_service(provider, title="整机可靠性试验", price_fen=5_000_000)
    quoted = create_service(provider, title="失效分析", pricing=PricingMode.QUOTE)
    create_service(provider, title="已下架服务", is_active=False)
    auth.login(create_user(Role.PROVIDER, provider=provider))
    page = _text(client.get(f"/verify/{token}"))
    assert "真实有效，可以使用" in page
    # balance 8,000 after the hold; cap 30,000 − 2,000 held
    assert re.search(r'data-testid="can-cover"><strong>¥8,000.00<', page)
    table = page.split('data-testid="covers"')[1].split("</table>")[0]
    row = table.split(cheap.title)[1].split("</tr>")[0]
    assert "¥800.00" in row and row.count("¥400.00") == 2  # 50 % ceiling: voucher 400, pay 400
    row = table.split(dear.title)[1].split("</tr>")[0]
    assert "¥8,000.00" in row and "¥42,000.00" in row  # the balance limits it
    assert quoted.title in table and "已下架服务" not in table


def test_a_provider_not_admitted_and_an_sme_see_no_amounts(
    client, auth, create_user, create_provider, scanned
):
    _voucher, token = scanned
    auth.login(create_user(Role.PROVIDER, provider=create_provider(status=ProviderStatus.PENDING)))
    page = _text(client.get(f"/verify/{token}"))
    assert "真实有效" in page and 'data-testid="can-cover"' not in page
    client.post("/logout")
    auth.login(create_user(Role.ENTERPRISE))
    assert 'data-testid="can-cover"' not in _text(client.get(f"/verify/{token}"))


def test_an_administrator_sees_the_amount(client, auth, create_user, scanned):
    _voucher, token = scanned
    auth.login(create_user(Role.AUDITOR))
    assert 'data-testid="can-cover"><strong>¥8,000.00<' in _text(client.get(f"/verify/{token}"))


def test_verify_by_serial_needs_a_provider_or_administrator_sign_in(
    client, auth, create_user, create_provider, scanned
):
    voucher, _token = scanned
    typed = " " + voucher.serial.lower() + " "
    response = client.get("/verify", query_string={"q": typed})
    assert response.status_code == 403
    assert voucher.serial not in _text(response).split("<footer")[0].replace(typed.strip(), "")
    auth.login(create_user(Role.PROVIDER, provider=create_provider()))
    page = _text(client.get("/verify", query_string={"q": typed}))
    assert "真实有效，可以使用" in page and 'data-testid="serial">' + voucher.serial in page
    missing = client.get("/verify", query_string={"q": "IV2099XXXXXXXX"})
    assert missing.status_code == 404 and "没有该券号" in _text(missing)


def test_a_pasted_token_or_link_goes_to_its_verification(client, scanned):
    _voucher, token = scanned
    assert client.get("/verify").status_code == 200
    response = client.get("/verify", query_string={"q": f"  {token} "})
    assert response.status_code == 302 and response.location.endswith(f"/verify/{token}")
    link = f"http://127.0.0.1:5000/verify/{token}"
    response = client.get("/verify", query_string={"q": link})
    assert response.status_code == 302 and response.location.endswith(f"/verify/{token}")


def test_the_verification_page_may_use_the_camera_and_no_other_page_may(client, scanned):
    _voucher, token = scanned
    assert "camera=(self)" in client.get(f"/verify/{token}").headers["Permissions-Policy"]
    assert "camera=()" in client.get("/").headers["Permissions-Policy"]


def test_an_expired_voucher_says_so(
    app, client, session, programme, issue_voucher, create_enterprise
):
    voucher = issue_voucher(create_enterprise(), programme, now=NOW)
    token = tokens.verification_token(app.config["SECRET_KEY"], voucher)
    checked = tokens.verify(session, app.config["SECRET_KEY"], token, NOW + timedelta(days=800))
    assert not checked.usable and checked.reason == "voucher_expired"


def test_services_outside_the_programme_are_not_offered(
    client,
    auth,
    create_user,
    create_provider,
    create_service,
    funded_programme,
    issue_voucher,
    create_enterprise,
    app,
):
    programme = funded_programme(year=YEAR, eligible_categories=[ServiceCategory.TESTING.value])
    voucher = issue_voucher(create_enterprise(), programme, now=NOW)
    provider = create_provider(status=ProviderStatus.ADMITTED)
    create_service(provider, title="检测服务甲", category=ServiceCategory.TESTING)
    create_service(provider, title="专利代理乙", category=ServiceCategory.IP)
    auth.login(create_user(Role.PROVIDER, provider=provider))
    token = tokens.verification_token(app.config["SECRET_KEY"], voucher)
    page = _text(client.get(f"/verify/{token}"))
    assert "检测服务甲" in page and "专利代理乙" not in page
