#!/usr/bin/env bash
# Cloudflare's wrangler (test/cloudflare/wrangler.test.ts, `npm run wrangler`) and the Node 22 it needs
# live in tools/wrangler, with their own package.json and lockfile: the Node package links a `node`
# bin, which in the project's node_modules would shadow the project's Node 20 in every npm script.
# Install them from that lockfile (npm registry only) when missing or when the lockfile changed.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../tools/wrangler" && pwd)"
stamp="$dir/node_modules/.coffer-installed-lock.json"
if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then
  exit 0
fi
echo "Installing wrangler and its Node 22 into tools/wrangler (npm ci; wrangler's EBADENGINE warnings" \
  "are expected: it runs on the packaged Node 22, not on this Node)" >&2
# Bounded: a registry that stops answering must not hang the test run.
timeout 1200 npm ci --prefix "$dir" --no-audit --no-fund 1>&2
cp "$dir/package-lock.json" "$stamp"
