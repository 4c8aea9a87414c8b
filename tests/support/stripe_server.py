"""A real Stripe-compatible HTTP server for the tests: ``localstripe`` on 127.0.0.1 only.

localstripe's own CLI listens on every interface, so we import its aiohttp application and
serve a copy of its routes with aiohttp's ``AppRunner``/``TCPSite`` bound to loopback on a free
port, in a background thread with its own event loop.

What localstripe does by itself (checked against localstripe 1.15): PaymentIntents (create
with amount/currency/metadata, update, confirm, cancel, retrieve, list), test payment methods
(``pm_card_visa``, ``pm_card_chargeCustomerFail``), charges, refunds by PaymentIntent (create,
list), and ``payment_intent.succeeded`` / ``payment_intent.payment_failed`` events (list).

What it lacks, and this module adds in front of it as aiohttp middleware, following Stripe's
documentation (so the real SDK and our real gateway code talk to it unchanged):

* **Idempotency keys** (``Idempotency-Key``): localstripe ignores them. Here the first response
  to a key is saved per API key (Stripe scopes keys per account) and replayed for a repeat;
  the same key with different parameters is refused (400 ``idempotency_error``).
  :meth:`LocalStripe.forget_idempotency_keys` simulates Stripe pruning keys after 24 hours;
* **refund limits**: localstripe refunds any amount, even above the charge. Here a refund of a
  PaymentIntent without a successful charge, of a fully refunded charge
  (``charge_already_refunded``) or above the unrefunded remainder is refused as Stripe does;
* **search** (``GET /v1/payment_intents/search``): absent from localstripe; here the
  ``metadata['key']:'value'`` clauses (joined by AND) that our gateway uses are supported;
* **disputes** (``GET /v1/disputes?payment_intent=…|charge=…``): localstripe has no disputes at
  all, and nothing at Stripe lets a test open one on demand through the API. Tests put Dispute
  objects in with :meth:`LocalStripe.add_dispute` (per API key, as Stripe scopes them per
  account) and the list endpoint answers from them, in Stripe's list format.

It also records every request (method, path, Idempotency-Key), so tests can prove that each
outbound POST carried the key we derived from our own row.

Out of reach even with these additions: ``payment_intent.processing`` for cards (localstripe
only makes SEPA debits asynchronous, on a timer), refund and dispute events
(``charge.refunded``, ``refund.*``, ``charge.dispute.*``) and webhook delivery with a per-endpoint secret we control from the test; the
webhook tests therefore sign their own events (with real localstripe payloads inside) using
Stripe's signature scheme.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import threading
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

with warnings.catch_warnings():
    # localstripe registers plain functions as handlers, which aiohttp deprecates at import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from localstripe import resources as ls_resources
    from localstripe import server as ls_server

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SEARCH_CLAUSE = re.compile(r"^metadata\['([^']+)'\]:'([^']*)'$")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    idempotency_key: str | None
    api_key: str | None


@dataclass(frozen=True)
class _Saved:
    fingerprint: tuple[Any, ...]
    status: int
    body: bytes
    content_type: str


def _stripe_error(status: int, message: str, **fields: Any) -> web.Response:
    body = {"error": {"type": "invalid_request_error", "message": message, **fields}}
    return web.json_response(body, status=status)


def _as_async(handler: Callable[..., Any]) -> Handler:
    if inspect.iscoroutinefunction(handler):
        return handler

    async def wrapped(request: web.Request) -> web.StreamResponse:
        result = handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]

    return wrapped


class LocalStripe:
    """localstripe on a loopback port, with Stripe's idempotency, refund rules and search."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._saved: dict[tuple[str | None, str], _Saved] = {}
        self._disputes: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        # localstripe pickles its whole store to /tmp/localstripe.pickle on every write; we
        # neither want that file nor the cost, and the store lives only as long as the tests.
        ls_resources.store.dump_to_disk = lambda: None  # type: ignore[method-assign]

    # ------------------------------------------------------------------ lifecycle

    def _build_app(self) -> web.Application:
        # Outermost first: Stripe authenticates before it looks at idempotency or the body.
        app = web.Application(
            middlewares=[
                self._record,
                ls_server.error_middleware,
                ls_server.auth_middleware,
                self._idempotency,
                self._refund_rules,
            ]
        )
        # Before localstripe's routes, or /payment_intents/{id} would swallow "search".
        app.router.add_get("/v1/payment_intents/search", self._search_payment_intents)
        app.router.add_get("/v1/disputes", self._list_disputes)
        for route in ls_server.app.router.routes():
            canonical = route.resource.canonical if route.resource else None
            if canonical is None or route.method == "HEAD":
                continue
            app.router.add_route(route.method, canonical, _as_async(route.handler))
        return app

    def start(self) -> str:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._runner = web.AppRunner(self._build_app(), access_log=None)
                self._loop.run_until_complete(self._runner.setup())
                site = web.TCPSite(self._runner, "127.0.0.1", 0)
                self._loop.run_until_complete(site.start())
                server = site._server
                assert server is not None
                port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
                self.url = f"http://127.0.0.1:{port}"
            except BaseException as exc:  # pragma: no cover - reported to the caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="localstripe", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        if not self.url:
            raise RuntimeError("localstripe did not start")
        return self.url

    def stop(self) -> None:
        if self._thread is None:
            return

        async def shutdown() -> None:
            # localstripe schedules webhook senders (asyncio tasks sleeping 1 s); cancel them.
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()
        self._thread = None

    # ------------------------------------------------------------------ test helpers

    def forget_idempotency_keys(self, api_key: str) -> None:
        """What Stripe does to an account's keys once they are older than 24 hours."""
        with self._lock:
            for scope in [s for s in self._saved if s[0] == api_key]:
                del self._saved[scope]

    def add_dispute(self, api_key: str, dispute: dict[str, Any]) -> None:
        """What Stripe holds once a cardholder's bank disputes a charge (replaces an earlier
        state of the same dispute id)."""
        with self._lock:
            self._disputes = [
                (k, d) for k, d in self._disputes if not (k == api_key and d["id"] == dispute["id"])
            ]
            self._disputes.append((api_key, dict(dispute)))

    def posts(self, path_prefix: str = "/v1/") -> list[RecordedRequest]:
        with self._lock:
            return [
                r for r in self.requests if r.method == "POST" and r.path.startswith(path_prefix)
            ]

    # ------------------------------------------------------------------ middleware

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    idempotency_key=request.headers.get("Idempotency-Key"),
                    api_key=ls_server.get_api_key(request),
                )
            )
        return await handler(request)

    @web.middleware
    async def _idempotency(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        form = await request.post()
        fingerprint = (request.path, tuple(sorted((k, str(v)) for k, v in form.items())))
        scope = (ls_server.get_api_key(request), key)
        with self._lock:
            saved = self._saved.get(scope)
        if saved is not None:
            if saved.fingerprint != fingerprint:
                return _stripe_error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request.",
                    type="idempotency_error",
                )
            response = web.Response(
                status=saved.status, body=saved.body, content_type=saved.content_type
            )
            response.headers["Idempotent-Replayed"] = "true"
            return response
        response = await handler(request)
        if isinstance(response, web.Response) and response.body is not None:
            body = response.body if isinstance(response.body, bytes) else bytes(response.body)  # type: ignore[arg-type]
            with self._lock:
                self._saved.setdefault(
                    scope,
                    _Saved(fingerprint, response.status, body, response.content_type),
                )
        return response

    @web.middleware
    async def _refund_rules(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST" or request.path != "/v1/refunds":
            return await handler(request)
        form = await request.post()
        intent_id = form.get("payment_intent")
        if not isinstance(intent_id, str):
            return await handler(request)
        intent = ls_resources.store.get(f"payment_intent:{intent_id}")
        if intent is None:
            return await handler(request)  # localstripe answers 404
        charge = intent.latest_charge
        if intent.status != "succeeded" or charge is None:
            return _stripe_error(
                400,
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        remaining = charge.amount - charge.amount_refunded
        if remaining <= 0:
            return _stripe_error(
                400,
                f"Charge {charge.id} has already been refunded.",
                code="charge_already_refunded",
            )
        raw_amount = form.get("amount")
        amount = int(str(raw_amount)) if raw_amount is not None else remaining
        if amount > remaining:
            return _stripe_error(
                400,
                f"Refund amount (¥{amount / 100:.2f}) is greater than unrefunded amount on "
                f"charge (¥{remaining / 100:.2f})",
                param="amount",
            )
        return await handler(request)

    # ------------------------------------------------------------------ added endpoint

    async def _list_disputes(self, request: web.Request) -> web.StreamResponse:
        api_key = ls_server.get_api_key(request)
        wanted = {k: request.query[k] for k in ("payment_intent", "charge") if k in request.query}
        with self._lock:
            found = [
                d
                for k, d in self._disputes
                if k == api_key and all(d.get(f) == v for f, v in wanted.items())
            ]
        body = {"object": "list", "url": "/v1/disputes", "has_more": False, "data": found}
        return web.Response(text=json.dumps(body), content_type="application/json")

    async def _search_payment_intents(self, request: web.Request) -> web.StreamResponse:
        query = request.query.get("query", "")
        wanted: dict[str, str] = {}
        for clause in (c.strip() for c in query.split(" AND ")):
            match = _SEARCH_CLAUSE.match(clause)
            if match is None:
                return _stripe_error(400, f"unsupported search clause {clause!r}", param="query")
            wanted[match.group(1)] = match.group(2)
        found = [
            obj._export()
            for key, obj in list(ls_resources.store.items())
            if key.startswith("payment_intent:")
            and all((obj.metadata or {}).get(k) == v for k, v in wanted.items())
        ]
        body = {
            "object": "search_result",
            "url": "/v1/payment_intents/search",
            "has_more": False,
            "next_page": None,
            "data": found,
        }
        return web.Response(text=json.dumps(body), content_type="application/json")
