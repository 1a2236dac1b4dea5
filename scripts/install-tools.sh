#!/usr/bin/env bash
# Installs the pinned Solidity toolchain into <repo>/.tools/ from npm only.
#   .tools/bin/{forge,anvil,cast}  Foundry binaries (npm @foundry-rs/*-linux-amd64)
#   .tools/bin/solc                node shim around the npm `solc` library (solcjs)
#   .tools/npm/node_modules/@openzeppelin/contracts
#   kya-x402/interop/node_modules  the official x402 packages (@x402/core, @x402/evm), npm ci
#   redis-server, redis-cli     Debian 12's Redis 7.0 (apt, as root, when missing)
#   nginx                       Debian 12's nginx 1.22 (apt, as root, when missing)
# Idempotent: a stamp file records the pinned set; a second run is a no-op.
set -euo pipefail

# Redis for the shared nonce store and ledger (kya-redis) and its tests: Debian 12's
# package, pinned to the 7.0 series. Installed only when missing; never started as a service
# (tests start their own servers on free loopback ports).
REDIS_SERIES="7.0"
redis_ok() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
    && redis-server --version | grep -q "v=$REDIS_SERIES\."
}
# Debian packages, as root, without starting their services (tests start their own servers
# on free loopback ports).
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  local policy="/usr/sbin/policy-rc.d" added_policy=""
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && added_policy=1
  fi
  local status=0
  apt-get install -y -qq --no-install-recommends "$@" >&2 || status=$?
  if [[ -n "$added_policy" ]]; then rm -f "$policy"; fi
  return "$status"
}
can_apt() { [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; }

if ! redis_ok; then
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    echo "install-tools: using $(redis-server --version) (kya is tested with $REDIS_SERIES)" >&2
  elif can_apt; then
    echo "install-tools: installing redis-server $REDIS_SERIES (Debian package)" >&2
    apt_install "redis-server=5:$REDIS_SERIES.*" "redis-tools=5:$REDIS_SERIES.*"
  else
    echo "install-tools: redis-server and redis-cli ($REDIS_SERIES) are required: install Debian's redis-server package (as root: apt-get install redis-server)" >&2
    exit 1
  fi
fi

FOUNDRY_VERSION="1.7.1"
SOLC_VERSION="0.8.30"
OZ_VERSION="5.4.0"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
PREFIX="$TOOLS/npm"
BIN="$TOOLS/bin"
STAMP="$TOOLS/.stamp"
WANT="foundry=$FOUNDRY_VERSION solc=$SOLC_VERSION oz=$OZ_VERSION shim=3"

tools_ok() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] || return 1
  local t
  for t in forge anvil cast solc; do [[ -x "$BIN/$t" ]] || return 1; done
  [[ -f "$PREFIX/node_modules/@openzeppelin/contracts/package.json" ]] || return 1
}

if ! tools_ok; then
  command -v node >/dev/null || { echo "install-tools: node (>= 20) is required" >&2; exit 1; }
  command -v npm >/dev/null || { echo "install-tools: npm is required" >&2; exit 1; }
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "install-tools: only linux x86_64 is supported (npm @foundry-rs/*-linux-amd64)" >&2; exit 1 ;;
  esac
  mkdir -p "$PREFIX" "$BIN"
  # A private package.json keeps npm from walking up to some other project.
  [[ -f "$PREFIX/package.json" ]] || echo '{ "name": "kya-tools", "private": true }' > "$PREFIX/package.json"
  echo "install-tools: installing foundry $FOUNDRY_VERSION, solc $SOLC_VERSION, @openzeppelin/contracts $OZ_VERSION" >&2
  npm install --prefix "$PREFIX" --no-audit --no-fund --save-exact --loglevel=error \
    "@foundry-rs/forge-linux-amd64@$FOUNDRY_VERSION" \
    "@foundry-rs/anvil-linux-amd64@$FOUNDRY_VERSION" \
    "@foundry-rs/cast-linux-amd64@$FOUNDRY_VERSION" \
    "solc@$SOLC_VERSION" \
    "@openzeppelin/contracts@$OZ_VERSION" >&2
  for t in forge anvil cast; do
    ln -sfn "../npm/node_modules/@foundry-rs/$t-linux-amd64/bin/$t" "$BIN/$t"
    chmod +x "$PREFIX/node_modules/@foundry-rs/$t-linux-amd64/bin/$t"
  done
  cat > "$BIN/solc" <<'SHIM'
#!/usr/bin/env node
// solc shim for forge: answers like native solc, backed by the npm `solc` library.
// `--version` prints the native banner; `--standard-json` reads the JSON input on stdin
// and prints the compiler's JSON output (calling the library, never the solcjs CLI, which
// prints a line before its JSON). Path flags (--allow-paths, --base-path, ...) are ignored:
// forge passes every source inline in the standard JSON.
'use strict';
const path = require('path');
const fs = require('fs');
const solc = require(path.join(__dirname, '..', 'npm', 'node_modules', 'solc'));
const args = process.argv.slice(2);
// Synchronous, complete write: process.stdout.write + exit truncates pipes at 64 KiB.
function writeAll(s) {
  const buf = Buffer.from(s, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try { off += fs.writeSync(1, buf, off, buf.length - off); }
    catch (e) { if (e.code !== 'EAGAIN') throw e; }
  }
}
if (args.includes('--version') || args.includes('-v')) {
  // solc.version() is e.g. "0.8.30+commit.73712a01.Emscripten.clang"
  const v = solc.version().replace(/\.Emscripten\.clang$/, '');
  writeAll('solc, the solidity compiler commandline interface\nVersion: ' + v + '.Linux.g++\n');
  process.exit(0);
}
if (args.includes('--standard-json')) {
  const input = fs.readFileSync(0, 'utf8');
  const findImports = (p) => {
    // Fallback only: forge normally inlines all sources.
    for (const base of [process.cwd()]) {
      const f = path.resolve(base, p);
      if (fs.existsSync(f)) return { contents: fs.readFileSync(f, 'utf8') };
    }
    return { error: 'File not found: ' + p };
  };
  writeAll(solc.compile(input, { import: findImports }));
  process.exit(0);
}
process.stderr.write('solc shim: only --version and --standard-json are supported (got: ' + args.join(' ') + ')\n');
process.exit(1);
SHIM
  chmod +x "$BIN/solc"
  echo "$WANT" > "$STAMP"
fi

# The official x402 TypeScript packages for kya-x402's interoperability tests: exactly the
# versions of kya-x402/interop/package-lock.json (npm ci), re-installed when the lock changes.
X402_DIR="$ROOT/kya-x402/interop"
if [[ -f "$X402_DIR/package-lock.json" ]]; then
  X402_WANT="$(sha256sum "$X402_DIR/package-lock.json" | cut -d' ' -f1)"
  X402_STAMP="$X402_DIR/node_modules/.kya-stamp"
  if [[ ! -f "$X402_STAMP" || "$(cat "$X402_STAMP")" != "$X402_WANT" ]]; then
    command -v npm >/dev/null || { echo "install-tools: npm is required" >&2; exit 1; }
    echo "install-tools: installing the official x402 packages (kya-x402/interop, npm ci)" >&2
    (cd "$X402_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$X402_WANT" > "$X402_STAMP"
  fi
fi

echo "forge: $BIN/forge ($("$BIN/forge" --version | head -n1))"
echo "anvil: $BIN/anvil"
echo "cast:  $BIN/cast"
echo "solc:  $BIN/solc ($("$BIN/solc" --version | tail -n1))"
echo "redis: $(command -v redis-server) ($(redis-server --version | cut -d' ' -f3))"
echo "openzeppelin: $PREFIX/node_modules/@openzeppelin/contracts ($OZ_VERSION)"

# nginx (Debian's package) for the gateway's auth_request test (kya-cli/tests/gateway_nginx.rs):
# installed when missing, on Debian as root; elsewhere the test says how to get it (and fails
# under CI).
NGINX_SERIES="1.22"
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  if can_apt; then
    echo "install-tools: installing nginx $NGINX_SERIES (Debian package)" >&2
    apt_install "nginx=$NGINX_SERIES.*"
  else
    echo "install-tools: nginx is missing (the gateway's nginx test needs it: apt-get install nginx)" >&2
  fi
fi
echo "nginx: $(command -v nginx || echo /usr/sbin/nginx)"

# Python for the `kya` package (bindings/python): a venv under .tools/python with the pinned
# closure of bindings/python/requirements-dev.txt (maturin, pytest, httpx, requests, fastapi,
# uvicorn and their dependencies, every one `==`), installed with --no-deps so that nothing
# unpinned is resolved, then `pip check`ed. Needs python3 (>= 3.9) with venv; the pins are
# those of Debian 12's CPython 3.11.
PY_REQS="$ROOT/bindings/python/requirements-dev.txt"
PY_VENV="$TOOLS/python"
PY_STAMP="$PY_VENV/.stamp"
if [[ -f "$PY_REQS" ]]; then
  PY_WANT="$(sha256sum "$PY_REQS" | cut -d' ' -f1)"
  if [[ ! -x "$PY_VENV/bin/python" || ! -f "$PY_STAMP" || "$(cat "$PY_STAMP")" != "$PY_WANT" ]]; then
    command -v python3 >/dev/null || { echo "install-tools: python3 (>= 3.9, with venv) is required" >&2; exit 1; }
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
      if can_apt; then
        apt_install python3-venv
      else
        echo "install-tools: python3's venv module is missing (apt-get install python3-venv)" >&2; exit 1
      fi
    fi
    echo "install-tools: creating $PY_VENV with the pinned Python tools" >&2
    rm -rf "$PY_VENV"
    python3 -m venv "$PY_VENV"
    "$PY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      --only-binary :all: -r "$PY_REQS" >&2
    "$PY_VENV/bin/python" -m pip check >&2
    echo "$PY_WANT" > "$PY_STAMP"
  fi
  echo "python: $PY_VENV/bin/python ($("$PY_VENV/bin/python" --version), maturin $("$PY_VENV/bin/maturin" --version | cut -d' ' -f2))"
fi

# JavaScript package (bindings/js): the wasm32-unknown-unknown target (rustup), the pinned
# wasm-bindgen command (bindings/js/bindgen: wasm-bindgen-cli-support at the exact version of
# the workspace's wasm-bindgen crate, built from crates.io by `cargo install --locked` with its
# own lock file, cached under .tools/wasm-bindgen/<version>), and the test suite's npm tools
# (typescript, exact versions in bindings/js/tests/package-lock.json, `npm ci`). Without the
# wasm32 target the JS tests are skipped with a NOTICE (as CI's wasm32 check is).
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  if ! timeout 300 rustup target add wasm32-unknown-unknown >&2; then
    echo "NOTICE: install-tools: the wasm32-unknown-unknown target cannot be installed here; the JS package cannot be built" >&2
  fi
fi
WB_VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/bindings/js/bindgen/Cargo.toml" | head -n1)"
WB_ROOT="$TOOLS/wasm-bindgen/$WB_VERSION"
if [[ ! -x "$WB_ROOT/bin/wasm-bindgen" ]] || ! "$WB_ROOT/bin/wasm-bindgen" --version | grep -qx "wasm-bindgen $WB_VERSION"; then
  echo "install-tools: building wasm-bindgen $WB_VERSION (cargo install --locked, bindings/js/bindgen)" >&2
  WB_TARGET="$(mktemp -d)"
  CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" cargo install --locked --force --path "$ROOT/bindings/js/bindgen" \
    --root "$WB_ROOT" --target-dir "$WB_TARGET" >&2
  rm -rf "$WB_TARGET"
fi
echo "wasm-bindgen: $WB_ROOT/bin/wasm-bindgen ($("$WB_ROOT/bin/wasm-bindgen" --version))"
JS_DEV="$ROOT/bindings/js/tests"
if [[ -f "$JS_DEV/package-lock.json" ]]; then
  JS_WANT="$(sha256sum "$JS_DEV/package-lock.json" | cut -d' ' -f1)"
  JS_STAMP="$JS_DEV/node_modules/.kya-stamp"
  if [[ ! -f "$JS_STAMP" || "$(cat "$JS_STAMP")" != "$JS_WANT" ]]; then
    echo "install-tools: installing the JS test tools (npm ci, bindings/js/tests)" >&2
    (cd "$JS_DEV" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$JS_WANT" > "$JS_STAMP"
  fi
  echo "typescript: $JS_DEV/node_modules/typescript ($(node -p "require('$JS_DEV/node_modules/typescript/package.json').version"))"
fi
