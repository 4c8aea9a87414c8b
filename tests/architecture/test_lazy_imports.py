"""A started worker does not carry the heavy libraries it rarely uses.

The idle application was ≈ 145 MiB resident, most of it libraries a worker may never touch:
pypdf (with cryptography, fontTools and Pillow) for PDF invoices, reportlab for certificates,
xlsxwriter for XLSX exports, zxcvbn's dictionaries for password changes, Alembic (with Mako and
Pygments) for migrations and the readiness probe, and the Redis client where there is no
Redis. Each is imported inside the function that uses it, which brought the idle application
to ≈ 97 MiB and keeps an export of a million records under 150 MiB for the whole process
(benchmarks/bench_audit_export.py). This test starts the application in a fresh interpreter and
fails if any of them is loaded again at start-up (a module-level import slipping back in).
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.architecture.test_layers import ROOT

#: Loaded only by the code that needs them (the module and the function that import each).
LAZY = {
    "pypdf": "marketplace/einvoice.py: _from_pdf",
    "cryptography": "pypdf's encryption support (imported with it)",
    "fontTools": "pypdf's text extraction (imported with it)",
    "PIL": "pypdf's images (imported with it)",
    "reportlab": "vouchers/certificate.py: render_pdf and its helpers",
    "xlsxwriter": "marketplace/exports.py: write_xlsx",
    "zxcvbn": "marketplace/auth/passwords.py: _guessability",
    "alembic": "marketplace/migrate.py, ops/health.py, ops/backup.py: the functions that migrate",
    "mako": "Alembic's templates (imported with it)",
    "redis": "marketplace/jobs, auth/throttle.py, ops/health.py: only with REDIS_URL",
    "rq": "marketplace/jobs: only with REDIS_URL",
}

_PROGRAM = """
import json, sys, tempfile
from marketplace import create_app
with tempfile.TemporaryDirectory() as instance:
    app = create_app({
        "MARKETPLACE_ENV": "testing",
        "DATABASE_URL": "sqlite:///" + instance + "/idle.db",
        "SECRET_KEY": "lazy-import-test-secret-key-0123456789",
        "INSTANCE_DIR": instance,
    })
    with app.test_request_context("/"):
        pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_create_app_leaves_the_heavy_libraries_unloaded() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "marketplace" in loaded and "flask" in loaded  # the program did start the app
    early = {name: LAZY[name] for name in sorted(loaded & LAZY.keys())}
    assert not early, f"imported at start-up, should be imported where used: {early}"
