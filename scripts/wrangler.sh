#!/usr/bin/env bash
# `npm run wrangler -- ARGS…`: Cloudflare's wrangler, unchanged, on the Node 22 packaged in
# tools/wrangler (wrangler needs Node >= 22.12; Coffer itself runs on Node 20). Telemetry is off
# unless WRANGLER_SEND_METRICS is set: pointed at a Coffer, wrangler has nothing to report to Cloudflare.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/ensure-wrangler.sh"
node="$root/tools/wrangler/node_modules/node-linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')/bin/node"
if [ ! -x "$node" ]; then
  if node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)'; then
    node="$(command -v node)"
  else
    echo "wrangler needs Node >= 22.12: the packaged one exists for Linux x64 and arm64 only" >&2
    exit 1
  fi
fi
export WRANGLER_SEND_METRICS="${WRANGLER_SEND_METRICS:-false}"
exec "$node" "$root/tools/wrangler/node_modules/wrangler/bin/wrangler.js" "$@"
