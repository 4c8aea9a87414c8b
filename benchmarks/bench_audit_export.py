"""The audit trail exported at volume: 1,000,000 records written as the auditor's CSV (names,
labels, Beijing time, diff) through the one writer (marketplace/exports.py), streamed in
batches. Targets: at least 50,000 rows a second, peak memory under 150 MiB.

The records are bulk-inserted (like the ledger's history in bench_ledger): what is measured is
the export, not the seeding. Memory is traced (tracemalloc) over a separate pass on the first
200,000 rows, since tracing slows every allocation; the batches make memory independent of
the row count, which the note compares (peak over 100,000 vs 200,000 rows).
"""

from __future__ import annotations

import os
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from benchmarks.harness import Result, note
from marketplace import exports
from marketplace.audit.models import AuditEvent
from marketplace.db import get_db, unit_of_work, utcnow
from marketplace.disclosure import audit_trail
from marketplace.web.admin.audit import HEADER, export_rows

#: BENCH_AUDIT_RECORDS shrinks it for a quick look; the target is stated for a million.
RECORDS = int(os.environ.get("BENCH_AUDIT_RECORDS", "1000000"))
CHUNK = 20_000
MIN_ROWS_PER_S = 50_000
MAX_PEAK_KIB = 150 * 1024
KINDS = ("order", "voucher", "enterprise", "provider", "claim")


def _seed(count: int) -> int:
    table = AuditEvent.__table__
    start = utcnow() - timedelta(days=30)
    with unit_of_work() as session:
        existing = int(session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
    for offset in range(existing, count, CHUNK):
        rows = [
            {
                "occurred_at": start + timedelta(seconds=n),
                "actor_id": None,
                "actor_role": "system",
                "client_address": "10.0.0.1",
                "action": f"{KINDS[n % 5]}.updated",
                "subject_type": KINDS[n % 5],
                "subject_id": n % 997 + 1,
                "detail": {"from_status": "agreed", "to_status": "paid", "amount_fen": n},
                "nonce": f"{n:032x}",
                "mac": f"{n:064x}",
            }
            for n in range(offset, min(offset + CHUNK, count))
        ]
        with unit_of_work() as session:
            session.execute(sa.insert(AuditEvent), rows)
    return count - existing


def _export(limit: int | None, path: str) -> int:
    session = get_db().new_session()
    try:
        stmt = audit_trail.from_query({})
        if limit is not None:
            stmt = stmt.where(AuditEvent.id <= limit)
        counted = 0

        def rows() -> Iterator[list[Any]]:
            nonlocal counted
            for row in export_rows(session, stmt, "zh"):
                counted += 1
                yield row

        exports.write_file(path, exports.Format.CSV, HEADER["zh"], rows(), sheet="audit")
        return counted
    finally:
        session.rollback()
        session.close()


def run(app: Flask) -> list[Result]:
    with app.app_context():
        started = time.perf_counter()
        added = _seed(RECORDS)
        note(
            f"audit export: {added:,} records bulk-inserted in {time.perf_counter() - started:.0f} s"
        )
        handle, path = tempfile.mkstemp(suffix=".csv")
        os.close(handle)
        try:
            started = time.perf_counter()
            written = _export(None, path)
            seconds = time.perf_counter() - started
            size = os.path.getsize(path)
            with unit_of_work() as session:
                first_id = int(session.scalar(sa.select(sa.func.min(AuditEvent.id))) or 0)
            peaks = {}
            for rows in (100_000, 200_000):
                tracemalloc.start()
                _export(first_id + rows - 1, path)
                peaks[rows] = tracemalloc.get_traced_memory()[1] / 1024
                tracemalloc.stop()
        finally:
            os.unlink(path)
    rate = written / seconds
    note(
        f"audit export: {written:,} rows, {size / 1024 / 1024:.0f} MiB of CSV in {seconds:.1f} s "
        f"= {rate:,.0f} rows/s; traced peak {peaks[100_000] / 1024:.1f} MiB over 100,000 rows, "
        f"{peaks[200_000] / 1024:.1f} MiB over 200,000"
    )
    return [
        Result(
            f"audit trail CSV export of {written:,} records (ms per 1,000 rows)",
            "ms",
            [seconds * 1000 / (written / 1000)],
            max(peaks.values()),
            targets={"peak_kib": MAX_PEAK_KIB, "median": 1000 * 1000 / MIN_ROWS_PER_S},
        )
    ]
