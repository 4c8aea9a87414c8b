"""The plans behind the scaling figures: every statement of the measured searches and of one
voucher hold (``POST /api/v1/orders/<id>/accept``), explained in place on a copy of a cached
PostgreSQL world — the evidence that no sequential scan grows with the data.

    BENCH_CACHE=… BENCH_SCALE=1000000 python -m benchmarks.http.explain [report.md]

Each request is sent through the application in process (the test client, the run's keys);
a cursor hook explains each statement just before it runs, on the same connection and in
the same transaction, with its parameters: reads with ``EXPLAIN (ANALYZE, BUFFERS)``, writes
with a plain ``EXPLAIN`` (they are not run twice). A sequential scan of a table that grows
with the world (services, enterprises, providers, party_attributes, instrument_listings) is
flagged; the plans go to stdout or the Markdown file given.
"""

from __future__ import annotations

import re
import sys
import tempfile
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.http import run, servers
from benchmarks.http.world import World

#: Tables that grow with the world's sizes: a sequential scan of one of them is the cost
#: the scaling goal forbids.
GROWING = ("services", "enterprises", "providers", "party_attributes", "instrument_listings")
_SEQ = re.compile(r"Seq Scan on (\w+)")


def _explainer(plans: list[tuple[str, list[str]]]) -> Any:
    def before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if many:  # executemany: a batch of one statement (the audit and ledger rows)
            parameters = parameters[0] if parameters else parameters
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb not in ("SELECT", "WITH", "UPDATE", "INSERT", "DELETE"):
            return
        how = "EXPLAIN (ANALYZE, BUFFERS) " if verb in ("SELECT", "WITH") else "EXPLAIN "
        if verb in ("SELECT", "WITH") and re.search(r"\bFOR (UPDATE|SHARE|NO KEY)", statement):
            how = "EXPLAIN "  # the locking read runs for real next; explained, not run twice
        with conn.connection.cursor() as explain:
            explain.execute(how + statement, parameters)
            plans.append((statement, [str(row[0]) for row in explain.fetchall()]))

    return before


def explain(url: str, world: World, instance: Path) -> dict[str, list[tuple[str, list[str]]]]:
    """{request: [(statement, plan lines)]} for each search term and one accept."""
    app = run.app_for(url, instance)
    engine = app.extensions["db"].engine
    out: dict[str, list[tuple[str, list[str]]]] = {}
    client = app.test_client()
    requests: list[tuple[str, str, dict[str, str]]] = [
        (
            f"search {term}",
            "/api/v1/catalogue/services?" + urllib.parse.urlencode({"q": term}),
            {},
        )
        for term in run.SEARCH_TERMS
    ]
    order, token, voucher = world.orders[-1]
    requests.append(
        (
            "POST /api/v1/orders/<id>/accept",
            f"/api/v1/orders/{order}/accept",
            {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
        )
    )
    body = {"voucher_id": voucher, "agree": True}  # as benchmarks/http/lua/accept.lua
    for name, path, headers in requests:
        # Once unexplained, so each plan is of a warm statement (the first compiles).
        if not name.startswith("POST"):
            client.get(path, headers=headers)
        plans: list[tuple[str, list[str]]] = []
        hook = _explainer(plans)
        sa.event.listen(engine, "before_cursor_execute", hook)
        try:
            if name.startswith("POST"):
                response = client.post(path, headers=headers, json=body)
            else:
                response = client.get(path, headers=headers)
        finally:
            sa.event.remove(engine, "before_cursor_execute", hook)
        assert response.status_code < 300, (name, response.status_code, response.get_data())
        out[name] = plans
    engine.dispose()
    return out


def markdown(found: dict[str, list[tuple[str, list[str]]]], label: str) -> str:
    lines = [f"# Plans at {label}", ""]
    for name, plans in found.items():
        seqs = sorted({t for _s, plan in plans for t in _SEQ.findall("\n".join(plan))})
        growing = [t for t in seqs if t in GROWING]
        lines += [
            f"## {name}",
            "",
            f"{len(plans)} statements; sequential scans: {', '.join(seqs) or 'none'}"
            f"{' — GROWING: ' + ', '.join(growing) if growing else ''}",
            "",
        ]
        for statement, plan in plans:
            lines += ["```sql", " ".join(statement.split())[:600], "```", "```", *plan, "```", ""]
    return "\n".join(lines) + "\n"


def main() -> int:
    sizes = run.sizes_from_env()[-1]
    with servers.postgres() as pg:
        if pg is None:
            print("PostgreSQL unavailable", file=sys.stderr)
            return 2
        tmp = Path(tempfile.mkdtemp(prefix="vm-bench-explain-"))
        say = run.Run()
        url, world = run.seeded_postgres(pg, sizes, tmp, say)
        try:
            found = explain(url, world, tmp / "instance")
        finally:
            pg.drop(url.rsplit("/", 1)[1])
    label = f"{sizes.services:,} services, {sizes.enterprises:,} enterprises"
    text = markdown(found, label)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    growing = [
        name
        for name, plans in found.items()
        for _s, plan in plans
        if any(t in GROWING for t in _SEQ.findall("\n".join(plan)))
    ]
    print(f"statements with a growing sequential scan: {len(growing)}", file=sys.stderr)
    return 1 if growing else 0


if __name__ == "__main__":
    raise SystemExit(main())
