#!/usr/bin/env bash
# Issue 17's check, repeatable: disable each requirePermission call of the core services, one at a
# time, in a copy of the built tree (dist/), and run the authorization suites against it, cheapest
# first, stopping at the first file that fails. A check no test notices is reported as SURVIVED.
# Usage (after `npx tsc -p tsconfig.json`): bash scripts/disable-permission-checks.sh [engine]
# Outside CI: about one to two minutes per check on two cores.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
engine="${1:-sqlite}"
work="$(mktemp -d /tmp/coffer-disable-checks.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# A snapshot of the built tree and the sources: rebuilding or editing the worktree meanwhile changes nothing here.
cp -r dist bin src package.json "$work/"
cp -r dist "$work/pristine"
ln -s "$root/node_modules" "$work/node_modules"
[ -d "$root/ui" ] && ln -s "$root/ui" "$work/ui"

suites=(
  dist/test/security/core-permission-checks.test.js
  dist/test/security/validity-window-tampering.test.js
  dist/test/envs/envs-permissions.test.js
  dist/test/v1/v1-auth-matrix.test.js
  dist/test/cloudflare/cloudflare-auth-isolation.test.js
  dist/test/neostore/neostore-auth-matrix.test.js
  dist/test/neostore/neostore-api-keys.test.js
  dist/test/audit/audit-route.test.js
  dist/test/security/auth-matrix.test.js
)

killed=0
survived=0
report="$root/mutation-permission-checks.txt"
: >"$report"
# The names of the failing tests of a suite, sorted (empty when it passes).
failing() { (cd "$work" && COFFER_TEST_ENGINE="$engine" node --test "$1" 2>&1) | grep -E '^ *not ok ' | sed 's/^ *not ok [0-9]* - //' | sort; }
# Tests that already fail on the unchanged code (e.g. issue 13's open holes) must not count as
# catching every removal: a removal is caught when a test fails that passes without it.
declare -A before
for suite in "${suites[@]}"; do
  before[$suite]="$(failing "$suite")"
  [ -n "${before[$suite]}" ] && echo "already failing in $(basename "$suite"): $(echo "${before[$suite]}" | tr '\n' ';')" | tee -a "$report"
done
pattern='require(Store)?Permission\('
# Every compiled core file with a call site (actor.js defines them), so a service split or added is
# covered without editing this list.
mapfile -t files < <(cd "$work/pristine" && grep -rlE "$pattern" src/core --include='*.js' | grep -v '^src/core/actor\.js$' | sort | sed 's#^#dist/#')
for file in "${files[@]}"; do
  rel="${file#dist/}"
  ts="$work/${rel%.js}.ts"
  # Call sites in the compiled file, and the matching lines of the TypeScript source (same order).
  mapfile -t js_lines < <(grep -nE "$pattern" "$work/pristine/${file#dist/}" | grep -v '^[0-9]*:import' | cut -d: -f1)
  mapfile -t ts_lines < <(grep -nE "$pattern" "$ts" | grep -v '^[0-9]*:import' | cut -d: -f1)
  for i in "${!js_lines[@]}"; do
    line="${js_lines[$i]}"
    where="${rel%.js}.ts:${ts_lines[$i]:-?}"
    cp "$work/pristine/${file#dist/}" "$work/$file"
    sed -i -E "${line}s/require(Store)?Permission\(/((..._args) => undefined)(/" "$work/$file"
    verdict="SURVIVED"
    for suite in "${suites[@]}"; do
      now="$(failing "$suite")"
      if [ -n "$(comm -13 <(echo "${before[$suite]}") <(echo "$now"))" ]; then
        verdict="caught by $(basename "$suite")"
        break
      fi
    done
    cp "$work/pristine/${file#dist/}" "$work/$file"
    if [ "$verdict" = "SURVIVED" ]; then survived=$((survived + 1)); else killed=$((killed + 1)); fi
    echo "$where: $(sed -n "${ts_lines[$i]:-1}p" "$ts" | sed 's/^ *//') → $verdict" | tee -a "$report"
  done
done
echo "disabled checks: $((killed + survived)), caught: $killed, not caught: $survived" | tee -a "$report"
[ "$survived" -eq 0 ]
