"""Invoice verification with the tax authority (发票查验), behind one interface.

The platform asks whether an invoice exists as read from its file: number, issue date, total
with tax and both parties' tax ids. The answer is one of :class:`Verification`.

**The real adapter** (:class:`HttpInvoiceVerifier`) speaks a small JSON contract over HTTPS to
``INVOICE_VERIFY_URL``. The national verification service of the State Taxation
Administration (全国增值税发票查验平台) offers no machine API to third parties; platforms
reach it through a licensed verification gateway (a 税务数字账户 / 乐企 connection or a
commercial 发票查验 provider), which is what the URL points at in production, with the
credentials it issued (``INVOICE_VERIFY_APP_ID``, ``INVOICE_VERIFY_SECRET``):

``POST {INVOICE_VERIFY_URL}/v1/verify`` with ``{"number", "issued_on" (YYYY-MM-DD),
"total_fen", "buyer_tax_id", "seller_tax_id"}``, headers ``X-App-Id``, ``X-Timestamp`` (Unix
seconds) and ``X-Signature`` = hex HMAC-SHA256(secret, ``"<timestamp>\\n<body>"``). The answer
is ``{"result": "verified" | "not_found" | "mismatch" | "reversed", "detail": "…"}``. A gateway
that answers otherwise, slowly or not at all gives ``unavailable``: the invoice is checked
again later (``flask invoices verify-pending``) and meanwhile flagged for a check by hand.

**For tests and the demo** :class:`LocalVerificationServer` implements the same contract on
loopback and answers from the invoices it was given (``POST /v1/invoices``), as localstripe
does for Stripe: ``flask invoices verification-server`` runs it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib import error, request

TIMEOUT_SECONDS = 5
#: A request signed longer ago than this is refused by the server (replays).
MAX_CLOCK_SKEW_SECONDS = 300


class Verification(StrEnum):
    """What the tax authority said about an invoice (or that it was not asked yet)."""

    UNCHECKED = "unchecked"
    VERIFIED = "verified"
    NOT_FOUND = "not_found"
    MISMATCH = "mismatch"
    REVERSED = "reversed"
    UNAVAILABLE = "unavailable"

    @property
    def settled(self) -> bool:
        """An answer that will not change by asking again."""
        return self in (
            Verification.VERIFIED,
            Verification.NOT_FOUND,
            Verification.MISMATCH,
            Verification.REVERSED,
        )


@dataclass(frozen=True)
class InvoiceQuery:
    number: str
    issued_on: date
    total_fen: int
    buyer_tax_id: str
    seller_tax_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "issued_on": self.issued_on.isoformat(),
            "total_fen": self.total_fen,
            "buyer_tax_id": self.buyer_tax_id,
            "seller_tax_id": self.seller_tax_id,
        }


@dataclass(frozen=True)
class VerificationResult:
    status: Verification
    detail: str = ""


class InvoiceVerifier(Protocol):
    def verify(self, query: InvoiceQuery) -> VerificationResult: ...


class NoVerifier:
    """No gateway configured: every invoice stays unchecked (flagged for a check by hand)."""

    def verify(self, query: InvoiceQuery) -> VerificationResult:
        return VerificationResult(
            Verification.UNCHECKED, "未配置发票查验 / no verification configured"
        )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


class HttpInvoiceVerifier:
    """The verification gateway over HTTP(S) (see the module docstring for the contract)."""

    def __init__(self, base_url: str, app_id: str, secret: str, timeout: float = TIMEOUT_SECONDS):
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.secret = secret
        self.timeout = timeout

    def verify(self, query: InvoiceQuery) -> VerificationResult:
        body = json.dumps(query.as_json(), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        req = request.Request(
            f"{self.base_url}/v1/verify",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-App-Id": self.app_id,
                "X-Timestamp": timestamp,
                "X-Signature": sign(self.secret, timestamp, body),
            },
        )
        try:
            with request.urlopen(req, timeout=self.timeout) as response:
                answer = json.loads(response.read(64 * 1024))
        except (error.URLError, OSError, ValueError) as exc:
            return VerificationResult(
                Verification.UNAVAILABLE, f"查验服务不可用 / unavailable: {exc}"[:300]
            )
        try:
            status = Verification(answer["result"])
        except (KeyError, TypeError, ValueError):
            return VerificationResult(
                Verification.UNAVAILABLE, "查验服务答复无法识别 / unreadable answer"
            )
        if status is Verification.UNCHECKED or status is Verification.UNAVAILABLE:
            return VerificationResult(Verification.UNAVAILABLE, str(answer.get("detail", ""))[:300])
        return VerificationResult(status, str(answer.get("detail", ""))[:300])


def verifier_from_settings(settings: Any) -> InvoiceVerifier:
    url = getattr(settings, "invoice_verify_url", None)
    if not url:
        return NoVerifier()
    return HttpInvoiceVerifier(url, settings.invoice_verify_app_id, settings.invoice_verify_secret)


# --------------------------------------------------------------------------- the local server


class LocalVerificationServer:
    """The contract on 127.0.0.1, answering from the invoices it was given (tests, demo).

    ``POST /v1/invoices`` (signed like a query) registers an invoice as the tax authority
    would know it, with ``"reversed": true`` for one a red-letter invoice cancelled.
    """

    def __init__(self, app_id: str, secret: str, host: str = "127.0.0.1", port: int = 0):
        self.app_id, self.secret = app_id, secret
        self.invoices: dict[str, dict[str, Any]] = {}
        self.queries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, query: InvoiceQuery, *, reversed_: bool = False) -> None:
        with self._lock:
            self.invoices[query.number] = {**query.as_json(), "reversed": reversed_}

    def answer(self, asked: dict[str, Any]) -> dict[str, str]:
        with self._lock:
            self.queries.append(asked)
            known = self.invoices.get(str(asked.get("number")))
        if known is None:
            return {"result": "not_found", "detail": "税务机关无此发票 / no such invoice"}
        differing = [
            k
            for k in ("issued_on", "total_fen", "buyer_tax_id", "seller_tax_id")
            if known[k] != asked.get(k)
        ]
        if differing:
            return {"result": "mismatch", "detail": "不一致 / differs: " + ", ".join(differing)}
        if known["reversed"]:
            return {"result": "reversed", "detail": "已红冲 / reversed"}
        return {"result": "verified", "detail": "查验相符 / verified"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: tests read results, not logs
                return

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 64 * 1024))
                timestamp = self.headers.get("X-Timestamp", "")
                expected = sign(server.secret, timestamp, body)
                fresh = (
                    timestamp.isdigit()
                    and abs(time.time() - int(timestamp)) <= MAX_CLOCK_SKEW_SECONDS
                )
                if (
                    self.headers.get("X-App-Id") != server.app_id
                    or not fresh
                    or not hmac.compare_digest(expected, self.headers.get("X-Signature", ""))
                ):
                    self._reply(401, {"error": "bad signature"})
                    return
                try:
                    payload = json.loads(body)
                except ValueError:
                    self._reply(400, {"error": "not JSON"})
                    return
                if self.path == "/v1/verify":
                    self._reply(200, server.answer(payload))
                elif self.path == "/v1/invoices":
                    query = InvoiceQuery(
                        number=payload["number"],
                        issued_on=date.fromisoformat(payload["issued_on"]),
                        total_fen=int(payload["total_fen"]),
                        buyer_tax_id=payload["buyer_tax_id"],
                        seller_tax_id=payload["seller_tax_id"],
                    )
                    server.add(query, reversed_=bool(payload.get("reversed")))
                    self._reply(201, {"number": query.number})
                else:
                    self._reply(404, {"error": "no such path"})

        return Handler

    def start(self) -> LocalVerificationServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
