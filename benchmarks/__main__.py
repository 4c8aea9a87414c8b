"""Run every ``benchmarks/bench_*.py`` on a fresh SQLite database (or BENCH_DATABASE_URL),
print a Markdown table, write it to benchmarks/reports/latest.md and exit non-zero when a target
is missed."""

from __future__ import annotations

import importlib
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import report
from marketplace import create_app, migrate

HERE = Path(__file__).resolve().parent


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="vm-bench-"))
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    app = create_app(
        {
            "MARKETPLACE_ENV": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": "benchmark-secret-key-0123456789-abcdef",
            "INSTANCE_DIR": str(tmp),
            "RATELIMIT_ENABLED": False,
        }
    )
    only = sys.argv[1:]
    results = []
    for path in sorted(HERE.glob("bench_*.py")):
        if only and path.stem not in only:
            continue
        module = importlib.import_module(f"benchmarks.{path.stem}")
        results.extend(module.run(app))
    table = report(results)
    header = (
        f"# Benchmarks\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · Python {platform.python_version()}"
        f" · {os.cpu_count()} cores · database: {url.split(':')[0]}\n\n"
    )
    (HERE / "reports").mkdir(exist_ok=True)
    (HERE / "reports" / "latest.md").write_text(header + table + "\n", encoding="utf-8")
    print(header + table)
    failures = [f for r in results for f in r.failures()]
    for failure in failures:
        print("TARGET MISSED:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
