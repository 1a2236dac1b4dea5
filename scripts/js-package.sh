#!/usr/bin/env bash
# Builds kya's npm package (bindings/js) from the workspace and packs it:
#   1. kya-js for wasm32-unknown-unknown (release: the package users get),
#   2. the pinned wasm-bindgen (.tools/wasm-bindgen/<version>, scripts/install-tools.sh)
#      writes the ES module glue and TypeScript types (--target web) into the package's wasm/,
#   3. the hand-written entry points (bindings/js/package) beside it,
#   4. `npm pack` → target/js-package/kya-<version>.tgz, whose path is printed.
# The staged package folder is target/js-package/kya.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_BINDGEN_VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/bindings/js/bindgen/Cargo.toml" | head -n1)"
BINDGEN="$ROOT/.tools/wasm-bindgen/$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
OUT="$ROOT/target/js-package"
STAGE="$OUT/kya"
[[ -x "$BINDGEN" ]] || { echo "js-package: $BINDGEN is missing: run scripts/install-tools.sh first" >&2; exit 1; }
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
cargo build --locked --release -p kya-js --target wasm32-unknown-unknown >&2
rm -rf "$OUT"
mkdir -p "$STAGE/wasm"
"$BINDGEN" "$ROOT/target/wasm32-unknown-unknown/release/kya_js.wasm" \
  --target web --out-dir "$STAGE/wasm" --out-name kya_js >&2
cp "$ROOT"/bindings/js/package/*.js "$ROOT"/bindings/js/package/*.d.ts \
  "$ROOT/bindings/js/package/package.json" "$ROOT/bindings/js/README.md" \
  "$ROOT/LICENSE-APACHE" "$ROOT/LICENSE-MIT" "$STAGE/"
tarball="$(cd "$STAGE" && npm pack --silent --pack-destination "$OUT")"
echo "$OUT/$tarball"
