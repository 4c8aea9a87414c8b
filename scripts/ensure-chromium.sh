#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (no browser downloads). Install it when we can
# (root with apt-get, as on the CI machine); otherwise the browser tests skip with a reason
# (and fail under CI=true).
set -u
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium for the browser tests (apt-get)…"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; } >/tmp/chromium-install.log 2>&1 \
    || echo "could not install Chromium (see /tmp/chromium-install.log); browser tests will skip"
else
  echo "Chromium not installed and not root: browser tests will skip (install the 'chromium' package to run them)"
fi
exit 0
