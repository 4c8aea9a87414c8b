"""The world the HTTP benchmark drives, seeded reproducibly and cached.

* The catalogue: ``services`` services with Chinese titles from admitted providers, in bulk
  through the models' tables (``benchmarks.seed.seed_catalogue``: the same search text the
  catalogue service builds), so search measures a realistic index.
* ``enterprises`` enterprises, in bulk; ``smes`` of them have a user, an API token and a
  voucher issued through the real services (apply → approve: quota, ledger, audit).
* ``orders`` orders requested and quoted through the real services (``request_service`` →
  ``quote``), spread evenly over the SMEs: what the SMEs accept during the run.

Seeding takes minutes at 100,000 services, so the seeded database is cached between runs,
keyed by the schema (the migration files), the seeding code and the sizes: a SQLite file, and
on PostgreSQL a database kept on the server as the template each run copies. The plain API
tokens (shown once by the service) are kept beside it in the cache's JSON.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from benchmarks.seed import (
    TESTING_PRICE_FEN,
    add_enterprises,
    add_testing_centre,
    add_user,
    api_headers,
    issue_vouchers,
    programme_of,
    seed_catalogue,
    seeding,
)
from marketplace.auth.models import User
from marketplace.clock import local_date
from marketplace.db import utcnow
from marketplace.enums import Role

ROOT = Path(__file__).resolve().parents[2]
#: What the cache key covers besides the sizes: the schema and the code that seeds.
KEYED_SOURCES = [
    *sorted((ROOT / "migrations" / "versions").glob("*.py")),
    ROOT / "benchmarks" / "seed.py",
    Path(__file__),
]
#: The price of every benchmark order (fen) and each SME's voucher: enough for all its orders.
ORDER_PRICE_FEN = TESTING_PRICE_FEN
VOUCHER_FEN = 2_000_000


@dataclass(frozen=True)
class Sizes:
    services: int = 100_000
    enterprises: int = 10_000
    smes: int = 200
    orders: int = 4_000

    def key(self) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode())
        for path in KEYED_SOURCES:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]


@dataclass
class World:
    """What the load scripts need: per order to accept, its SME's token and voucher."""

    sizes: Sizes
    #: (order id, plain API token of its SME, the SME's voucher id)
    orders: list[tuple[int, str, int]]
    #: every SME's plain API token (wallet and order list)
    tokens: list[str]
    listed_services: int
    seconds: float

    def dump(self, path: Path) -> None:
        data = asdict(self)
        path.write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> World:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            sizes=Sizes(**data["sizes"]),
            orders=[(int(o), str(t), int(v)) for o, t, v in data["orders"]],
            tokens=list(data["tokens"]),
            listed_services=int(data["listed_services"]),
            seconds=float(data["seconds"]),
        )


def seed_world(app: Flask, sizes: Sizes, *, log: Callable[[str], object] = print) -> World:
    """Seed ``sizes`` into the (migrated, empty) database of ``app``."""
    from marketplace.orders import services as orders

    started = time.perf_counter()
    rng = random.Random(16_016)
    now = utcnow() - timedelta(hours=1)
    with app.app_context():
        per_provider = 10
        with seeding() as session:
            stats = seed_catalogue(
                session, admitted=max(1, sizes.services // per_provider), per_provider=per_provider
            )
        log(f"catalogue: {stats.services:,} services, {stats.listed:,} listed")
        with seeding() as session:
            programme = programme_of(session, local_date(now).year)
            provider, service_ids = add_testing_centre(
                session, programme.id, email="bench-http-lab@bench.example.cn"
            )
            seller = add_user(
                session, Role.PROVIDER, "bench-http-lab@bench.example.cn", provider=provider
            )
            enterprise_ids: list[int] = []
            for start in range(0, sizes.enterprises, 50_000):
                enterprise_ids += add_enterprises(
                    session, min(50_000, sizes.enterprises - start), rng=rng
                )
            sme_enterprises = enterprise_ids[: sizes.smes]
            voucher_ids = issue_vouchers(
                session, programme, sme_enterprises, VOUCHER_FEN, now - timedelta(minutes=30)
            )
            smes = []
            tokens = []
            for n, enterprise_id in enumerate(sme_enterprises):
                user = add_user(
                    session,
                    Role.ENTERPRISE,
                    f"bench-http-sme-{n}@bench.example.cn",
                    enterprise_id=enterprise_id,
                )
                smes.append(user.id)
                tokens.append(api_headers(session, user)["Authorization"].split(" ", 1)[1])
            seller_id = seller.id
        log(f"{sizes.enterprises:,} enterprises, {sizes.smes} SMEs with a voucher and a token")
        order_rows: list[tuple[int, str, int]] = []
        # Round-robin over the SMEs, so consecutive accepts hold different vouchers.
        plan = [(n % sizes.smes, n % len(service_ids)) for n in range(sizes.orders)]
        for start in range(0, len(plan), 500):
            with seeding() as session:
                lab = session.get(User, seller_id)
                assert lab is not None
                for sme_index, service_index in plan[start : start + 500]:
                    sme = session.get(User, smes[sme_index])
                    assert sme is not None
                    order = orders.request_service(
                        session, sme, service_ids[service_index], note="请安排检测。", now=now
                    )
                    orders.quote(session, order.id, lab, price_fen=ORDER_PRICE_FEN, now=now)
                    order_rows.append((order.id, tokens[sme_index], voucher_ids[sme_index]))
        log(f"{len(order_rows):,} orders requested and quoted")
    return World(
        sizes=sizes,
        orders=order_rows,
        tokens=tokens,
        listed_services=stats.listed,
        seconds=time.perf_counter() - started,
    )


def count_orders(session: Session, ids: Sequence[int], status: str) -> int:
    from marketplace.orders.models import Order

    return int(
        session.scalar(
            sa.select(sa.func.count()).where(Order.id.in_(list(ids)), Order.status == status)
        )
        or 0
    )
