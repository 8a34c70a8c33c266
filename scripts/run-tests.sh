#!/usr/bin/env bash
# npm test: every suite on SQLite, then the HTTP suites again on PostgreSQL (COFFER_TEST_ENGINE=postgres
# gives each test server a fresh schema, test/support/test-server.ts). Suites that are SQLite by nature
# (crash safety and WAL, direct file scans and edits of the data directory, the CLI and `coffer serve`
# processes over a data directory) run once, on SQLite; those about PostgreSQL itself (test/storage,
# test/multi-node, audit-postgres) and test/storage/upgrade.test.ts pick their engines themselves.
# wrangler.test.js runs once: its subject is what wrangler sends over HTTP, not the engine (~3 min a run).
# Pass file names to run only those, on both engines: bash scripts/run-tests.sh dist/test/v1/x.test.js
set -uo pipefail
cd "$(dirname "$0")/.."

# The spec reporter ends with the failing tests and their errors: the tail of a CI log says what broke.
run() { node --enable-source-maps --test --test-concurrency=2 --test-reporter=spec "$@"; }

if [ "$#" -gt 0 ]; then
  sqlite_files=("$@")
  postgres_files=("$@")
else
  mapfile -t sqlite_files < <(find dist/test -name '*.test.js' | sort)
  mapfile -t postgres_files < <(
    {
      find dist/test/neostore dist/test/cloudflare dist/test/envs dist/test/v1 dist/test/vault \
        dist/test/security dist/test/observability dist/test/webhooks -name '*.test.js' -not -name 'wrangler.test.js'
      ls dist/test/audit/audit-{anchoring,anchors,blocked-address,facades,fail-closed,native-api,route}.test.js
      ls dist/test/hardening/{auth-abuse,hostile-input}.test.js
      # `run --watch` against a server (SSE) and on the database directly (the change feed's polling).
      ls dist/test/cli/run-watch.test.js
    } | sort
  )
fi

status=0
echo "# engine: sqlite (${#sqlite_files[@]} files)"
COFFER_TEST_ENGINE=sqlite run "${sqlite_files[@]}" || status=1
echo "# engine: postgres (${#postgres_files[@]} files)"
COFFER_TEST_ENGINE=postgres run "${postgres_files[@]}" || status=1
exit "$status"
