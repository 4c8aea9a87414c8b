"""Voucher money at volume: placing and releasing holds (what accepting and cancelling an order
does to a voucher) in a loop, one transaction each, and ``flask ledger verify`` over a ledger
of 100,000 entries.

The vouchers are issued through the real services to 200 SMEs; the loop spreads its holds over
them. The ledger is then topped up to 100,000 entries with complete hold → release pairs on the
same vouchers (bulk inserts, see benchmarks/seed.py), so verify walks a ledger that is large
and still consistent: it must find no breach."""

from __future__ import annotations

import itertools
import math
import time

from flask import Flask

from benchmarks.harness import Result, measure, note
from benchmarks.seed import (
    add_enterprises,
    add_hold_history,
    issue_vouchers,
    ledger_entry_count,
    programme_of,
    seeding,
    voucher_refs,
)
from marketplace.clock import local_date
from marketplace.db import get_db, unit_of_work, utcnow
from vouchers import holds
from vouchers.verify import verify_ledger

VOUCHERS = 200
LEDGER_ENTRIES = 100_000
#: Holds: a call for applications brings bursts of orders (5,000 SMEs accepting within an hour
#: is 1.4 a second). One connection must place and release at least 20 holds a second (two
#: commits each), p95 under 100 ms so the accept step stays quick, 4 MiB.
CYCLE_TARGETS = {"p95": 100.0, "peak_kib": 4 * 1024}
CYCLE_FLOORS = {"ops_per_s": 20.0}
#: `ledger verify` runs nightly from cron and by hand before a payout: 100,000 entries within
#: 5 s and 64 MiB, so a whole year's ledger (about a million entries) verifies within a minute.
#: Few runs, so the time bound is on the median.
VERIFY_TARGETS = {"median": 5_000.0, "peak_kib": 64 * 1024}


def run(app: Flask) -> list[Result]:
    import random

    now = utcnow()
    start = time.perf_counter()
    with app.app_context(), seeding() as session:
        programme = programme_of(session, local_date(now).year)
        enterprises = add_enterprises(session, VOUCHERS, rng=random.Random(11))
        voucher_ids = issue_vouchers(session, programme, enterprises, 2_000_000, now)
    note(
        f"holds: {VOUCHERS} vouchers of ¥20,000 issued through the services in "
        f"{time.perf_counter() - start:.1f} s"
    )
    serial = itertools.count()
    stamp = f"{utcnow():%Y%m%d%H%M%S%f}"

    def cycle() -> None:
        n = next(serial)
        voucher_id = voucher_ids[n % len(voucher_ids)]
        key = f"bench-{stamp}-{n}"
        with unit_of_work() as session:
            hold_id = holds.place_hold(
                session, voucher_id, f"order:{key}", 10_000, 20_000, f"{key}:hold"
            ).id
        with unit_of_work() as session:
            holds.release_hold(session, hold_id, f"{key}:release", reason="cancelled")

    with app.app_context():
        results = [
            measure(
                "hold place + release (2 transactions, 4 ledger entries)",
                cycle,
                repeat=400,
                warmup=10,
                traced=20,
                targets=CYCLE_TARGETS,
                floors=CYCLE_FLOORS,
            )
        ]
        start = time.perf_counter()
        with unit_of_work() as session:
            existing = ledger_entry_count(session)
            pairs = max(0, math.ceil((LEDGER_ENTRIES - existing) / 4))
            refs = voucher_refs(session, voucher_ids)
            written = add_hold_history(session, refs, pairs, now)
            total = ledger_entry_count(session)
        note(
            f"ledger: {existing:,} entries from the services, {written:,} added as {pairs:,} "
            f"hold → release pairs in {time.perf_counter() - start:.1f} s; {total:,} in all"
        )

        def verify() -> None:
            session = get_db().new_session()
            try:
                report = verify_ledger(session)
            finally:
                session.rollback()
                session.close()
            if not report.ok:
                raise RuntimeError(f"ledger verify found {report.breach_count} breaches")

        results.append(
            measure(
                f"ledger verify over {total:,} entries",
                verify,
                repeat=3,
                warmup=1,
                traced=1,
                targets=VERIFY_TARGETS,
            )
        )
    return results
