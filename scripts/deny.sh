#!/usr/bin/env bash
# Supply-chain check: licenses (allow-list), bans (ed25519-dalek < 2, did-key, openssl, and
# duplicate versions as warnings) and sources (crates.io only), per deny.toml.
# Installs cargo-deny, pinned, when missing. Advisories are not checked here: the RustSec
# database cannot be fetched offline (see the note in deny.toml for how to run them).
set -euo pipefail
CARGO_DENY_VERSION=0.20.2
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
  echo "installing cargo-deny $CARGO_DENY_VERSION (pinned; ~10 min on 2 cores)…"
  cargo install --locked "cargo-deny@$CARGO_DENY_VERSION"
fi
exec cargo deny --locked check licenses bans sources
