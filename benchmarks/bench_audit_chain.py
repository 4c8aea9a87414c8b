"""The audit chain's cost on the hot path: voucher holds placed and released (two
transactions, two audit records) with the tamper-evident trail as it runs in production (a
keyed MAC per record, the sealing job queued after commits: inline here, since there is no
Redis, so its work is timed too) and without it (no MAC, no sealing: the trail as it was).

The two variants run in alternating blocks on the same vouchers, so drift in the machine's
load falls on both alike. Target: throughput with the chain at least 90 % of without.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from benchmarks.harness import Result, measure, note
from benchmarks.seed import add_enterprises, issue_vouchers, programme_of, seeding
from marketplace.audit import chain
from marketplace.audit import services as audit_services
from marketplace.clock import local_date
from marketplace.db import unit_of_work, utcnow
from vouchers import holds

VOUCHERS = 50
BLOCKS = 6
PER_BLOCK = 60
#: With the chain, a hold cycle keeps at least this share of the throughput without it.
MIN_RATIO = 0.90


@contextmanager
def without_chain() -> Iterator[None]:
    """The trail as before the chain: no MAC computed, no sealing queued."""
    saved_mac, saved_schedule = chain.mac_of, audit_services._schedule_seal
    chain.mac_of = lambda _key, fields: str(fields["nonce"]) * 2  # type: ignore[assignment]
    audit_services._schedule_seal = lambda _session: None  # type: ignore[assignment]
    try:
        yield
    finally:
        chain.mac_of = saved_mac
        audit_services._schedule_seal = saved_schedule


def run(app: Flask) -> list[Result]:
    now = utcnow()
    start = time.perf_counter()
    with app.app_context(), seeding() as session:
        programme = programme_of(session, local_date(now).year)
        enterprises = add_enterprises(session, VOUCHERS, rng=random.Random(14))
        voucher_ids = issue_vouchers(session, programme, enterprises, 2_000_000, now)
    note(f"audit chain: {VOUCHERS} vouchers issued in {time.perf_counter() - start:.1f} s")
    serial = itertools.count()
    stamp = f"{utcnow():%Y%m%d%H%M%S%f}"

    def cycle() -> None:
        n = next(serial)
        voucher_id = voucher_ids[n % len(voucher_ids)]
        key = f"chain-{stamp}-{n}"
        with unit_of_work() as session:
            hold_id = holds.place_hold(
                session, voucher_id, f"order:{key}", 10_000, 20_000, f"{key}:hold"
            ).id
        with unit_of_work() as session:
            holds.release_hold(session, hold_id, f"{key}:release", reason="cancelled")

    samples: dict[str, list[float]] = {"with": [], "without": []}

    def block(variant: str) -> None:
        result = measure(f"block {variant}", cycle, repeat=PER_BLOCK, warmup=2, traced=0)
        samples[variant] += result.samples

    with app.app_context():
        for number in range(BLOCKS):
            # Alternate which variant goes first, so neither always runs on a warmer cache.
            order = ("with", "without") if number % 2 == 0 else ("without", "with")
            for variant in order:
                if variant == "without":
                    with without_chain():
                        block(variant)
                else:
                    block(variant)
        with unit_of_work() as session:
            chain.seal(session)
    without = Result(
        "hold place + release, audit trail without the chain", "ms", samples["without"], math.nan
    )
    baseline = without.metrics["ops_per_s"]
    with_chain = Result(
        "hold place + release, with the audit chain (MAC + sealing job)",
        "ms",
        samples["with"],
        math.nan,
        floors={"ops_per_s": round(MIN_RATIO * baseline, 2)},
    )
    ratio = with_chain.metrics["ops_per_s"] / baseline
    note(
        f"audit chain: {with_chain.metrics['ops_per_s']:.1f} hold cycles/s with the chain, "
        f"{baseline:.1f} without: {ratio:.1%} (target ≥ {MIN_RATIO:.0%}), "
        f"{BLOCKS} alternating blocks of {PER_BLOCK}"
    )
    return [without, with_chain]
