#!/usr/bin/env bash
# Builds the `kya` Python wheel (bindings/python, abi3: one wheel for CPython >= 3.9) with the
# pinned maturin into target/python-wheels/, then `pip install`s that wheel into the
# .tools/python venv, as a user would. `--release` builds with optimisations (benchmarks).
# Run scripts/install-tools.sh first (cargo xtask install does).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.tools/python"
OUT="$ROOT/target/python-wheels"
[[ -x "$VENV/bin/maturin" ]] || { echo "python-wheel: run scripts/install-tools.sh first" >&2; exit 1; }
profile=()
[[ "${1:-}" == "--release" ]] && profile=(--release)
rm -rf "$OUT"
"$VENV/bin/maturin" build --locked "${profile[@]}" --manifest-path "$ROOT/bindings/python/Cargo.toml" \
  --interpreter "$VENV/bin/python" --compatibility linux --out "$OUT" >&2
wheel="$(ls "$OUT"/kya-*.whl)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$wheel" >&2
echo "$wheel"
