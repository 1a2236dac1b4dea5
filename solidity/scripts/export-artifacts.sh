#!/usr/bin/env bash
# Builds the contracts and writes the ABI + creation bytecode the Rust side binds to:
#   solidity/artifacts/KyaIdentityRegistry.json
#   solidity/artifacts/KyaReputationRegistry.json
#   solidity/artifacts/KyaLogAnchor.json
#   solidity/artifacts/KyaValidationRegistry.json
#   solidity/artifacts/KyaTestUSD.json
# each { "abi": [...], "bytecode": "0x..." }, deterministic (stable key order and ABI order,
# 2-space indent, trailing newline). With --check, writes nothing and exits 1 if the committed
# files differ from a fresh build.
set -euo pipefail

CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

CONTRACTS="KyaIdentityRegistry KyaReputationRegistry KyaLogAnchor KyaValidationRegistry KyaTestUSD"
SOL="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$SOL/.." && pwd)"
"$ROOT/scripts/install-tools.sh" >/dev/null
BIN="$ROOT/.tools/bin"
export FOUNDRY_SOLC="$BIN/solc"
cd "$SOL"
"$BIN/forge" build --quiet

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
for c in $CONTRACTS; do
  node - "$SOL/out/$c.sol/$c.json" "$TMP/$c.json" <<'JS'
const fs = require('fs');
const [src, dst] = process.argv.slice(2);
const art = JSON.parse(fs.readFileSync(src, 'utf8'));
// Deep copy with sorted object keys, so the output never depends on producer key order.
const canon = (v) => Array.isArray(v) ? v.map(canon)
  : (v && typeof v === 'object') ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]))
  : v;
const sig = (e) => `${e.type} ${e.name || ''}(${(e.inputs || []).map((i) => i.type).join(',')})`;
const abi = art.abi.map(canon).sort((a, b) => (sig(a) < sig(b) ? -1 : sig(a) > sig(b) ? 1 : 0));
const bytecode = art.bytecode.object.startsWith('0x') ? art.bytecode.object : '0x' + art.bytecode.object;
if (!/^0x[0-9a-f]+$/.test(bytecode)) throw new Error(`${src}: no bytecode`);
fs.writeFileSync(dst, JSON.stringify({ abi, bytecode }, null, 2) + '\n');
JS
done

if [[ $CHECK -eq 1 ]]; then
  status=0
  for c in $CONTRACTS; do
    if ! cmp -s "$TMP/$c.json" "$SOL/artifacts/$c.json"; then
      echo "export-artifacts: solidity/artifacts/$c.json is stale; run solidity/scripts/export-artifacts.sh" >&2
      status=1
    fi
  done
  [[ $status -eq 0 ]] && echo "export-artifacts: artifacts are up to date"
  exit $status
fi

mkdir -p "$SOL/artifacts"
for c in $CONTRACTS; do
  cp "$TMP/$c.json" "$SOL/artifacts/$c.json"
  echo "wrote solidity/artifacts/$c.json"
done
