"""Performance harness (``make bench``). Not part of the test run: tests assert behaviour,
benchmarks measure speed and memory against stated targets."""
