#!/usr/bin/env bash
# Runs every test of micrun on a Debian 12 machine as root: installs missing apt packages,
# npm ci (which builds the libmica addon and the bundles), builds the firmware fixtures,
# type-checks, then runs the unit and e2e suites (real containerd, micad-sim, qemu).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
ensure_node
ensure_apt_packages
npm ci --no-audit --no-fund
npm run --silent build:firmware
npm run --silent typecheck
npx vitest run "$@"
