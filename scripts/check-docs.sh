#!/usr/bin/env bash
# Fails on what a merge can leave behind unnoticed: committed conflict markers, and two ADRs that
# share a number (a newcomer cannot cite "ADR 0004" when three files are called that).
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
markers=$(git grep -nE '^(<<<<<<< |>>>>>>> |=======$)' -- . ':!package-lock.json' || true)
if [ -n "$markers" ]; then
  echo "Merge-conflict markers are committed:" >&2
  echo "$markers" >&2
  status=1
fi
dups=$(ls docs/adr | grep -oE '^[0-9]+' | sort | uniq -d | tr '\n' ' ')
if [ -n "$dups" ]; then
  echo "ADR numbers used more than once in docs/adr: $dups" >&2
  status=1
fi
exit $status
