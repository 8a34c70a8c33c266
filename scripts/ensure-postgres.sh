#!/usr/bin/env bash
# The storage contract suite and the multi-node tests need PostgreSQL (COFFER_TEST_DATABASE_URL,
# default postgres://postgres@127.0.0.1:5432/test). Start the local cluster when it is not up, and
# wait for it; say clearly what is missing otherwise.
set -euo pipefail

url="${COFFER_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
hostport="${url#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$hostport" ] && port=5432

ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -h "$host" -p "$port" -q
  else
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
  fi
}

ready && exit 0
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "Starting PostgreSQL for the tests"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  for _ in $(seq 1 60); do
    ready && exit 0
    sleep 1
  done
fi
echo "PostgreSQL is not reachable at $host:$port; the PostgreSQL tests need it (set COFFER_TEST_DATABASE_URL)." >&2
exit 1
