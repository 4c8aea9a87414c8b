"""``python -m benchmarks.http``: only the HTTP part of ``make bench``."""

from benchmarks.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main(["--http-only"]))
