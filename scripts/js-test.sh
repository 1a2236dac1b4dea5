#!/usr/bin/env bash
# kya's JS test suite, as users get the package: builds and packs it (scripts/js-package.sh),
# `npm install`s the tarball into a temporary project, copies the tests and examples there
# and runs them with Node's own runner (`node --test`). The tests talk to the cargo-built
# `kya` binary and example merchant (KYA_BIN_DIR, default target/debug). Skipped with a
# NOTICE when the wasm32-unknown-unknown target is not installed (scripts/install-tools.sh
# tries to add it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "NOTICE: JS tests skipped: the wasm32-unknown-unknown target cannot be installed here"
  exit 0
fi
tarball="$(bash "$ROOT/scripts/js-package.sh")"
PROJECT="$(mktemp -d "${TMPDIR:-/tmp}/kya-js-project.XXXXXX")"
trap 'rm -rf "$PROJECT"' EXIT
echo '{ "name": "kya-js-consumer", "private": true, "type": "module" }' > "$PROJECT/package.json"
(cd "$PROJECT" && npm install --no-audit --no-fund --loglevel=error "$tarball" >&2)
cp "$ROOT"/bindings/js/tests/*.mjs "$ROOT"/bindings/js/tests/*.ts "$PROJECT/"
cp -r "$ROOT/bindings/js/examples" "$PROJECT/examples"
cd "$PROJECT"
KYA_ROOT="$ROOT" KYA_BIN_DIR="${KYA_BIN_DIR:-$ROOT/target/debug}" \
  KYA_TSC="$ROOT/bindings/js/tests/node_modules/typescript/bin/tsc" \
  node --test --test-concurrency=1 "$@" ./*.test.mjs
