#!/usr/bin/env bash
# Full check of the Solidity side: pinned tools, build, tests (unit, fuzz, invariant), gas
# snapshot and committed artifacts both up to date.
set -euo pipefail

SOL="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$SOL/.." && pwd)"
"$ROOT/scripts/install-tools.sh"
BIN="$ROOT/.tools/bin"
export FOUNDRY_SOLC="$BIN/solc"
cd "$SOL"
"$BIN/forge" build
"$BIN/forge" test
"$BIN/forge" snapshot --check
"$SOL/scripts/export-artifacts.sh" --check
