#!/usr/bin/env bash
# Runs every test of micrun on a Debian 12 machine as root: installs missing apt packages,
# npm ci (which builds the libmica addon and the bundles), builds the firmware fixtures,
# type-checks, then runs the unit and e2e suites (real containerd, micad-sim, qemu).
# Extra arguments go to vitest (e.g. `bash scripts/test.sh test/e2e/cri.test.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
source scripts/lib/containerd-versions.sh
ensure_node
ensure_apt_packages
# containerd 1.7 and 2.x for the e2e matrix (Debian 12's 1.6 comes from ensure_apt_packages).
MICRUN_CONTAINERD_MATRIX=$(ensure_containerd_versions)
export MICRUN_CONTAINERD_MATRIX
npm ci --no-audit --no-fund
npm run --silent build:firmware
npm run --silent typecheck

# The JSON report feeds the summary below; it goes to a temp file, never into the tree.
results=$(mktemp "${TMPDIR:-/tmp}/micrun-vitest-XXXXXX.json")
trap 'rm -f "$results"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
# Plain closing lines with the counts, in total and per containerd version, whatever the
# reporter printed above.
node scripts/lib/test-summary.mjs "$results" || true
exit "$status"
