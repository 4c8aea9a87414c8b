#!/usr/bin/env bash
# `make bench` drives the application with Debian's wrk (no downloads by the project). Install
# it when we can (root with apt-get, as on the CI machine and the developers' machines);
# otherwise say what to install and fail, since the benchmark cannot run without it.
set -u
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing wrk for the benchmark (apt-get)…"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >/tmp/wrk-install.log 2>&1 \
    && exit 0
  echo "could not install wrk (see /tmp/wrk-install.log)" >&2
  exit 1
fi
echo "wrk is not installed and we are not root: install the 'wrk' package to run make bench" >&2
exit 1
