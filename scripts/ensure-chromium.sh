#!/usr/bin/env bash
# The web console's end-to-end tests (test/console/) drive Debian's Chromium at /usr/bin/chromium.
# Install it when it is absent (Debian's package; needs root, as on the project's machines).
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the console tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "The console tests need Chromium at /usr/bin/chromium: apt-get install chromium" >&2
exit 1
