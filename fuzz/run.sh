#!/usr/bin/env bash
# Runs every kya fuzz target.
#
#   bash fuzz/run.sh --smoke              each target ~25 s (CI, when nightly exists)
#   bash fuzz/run.sh --minutes N          each target N minutes (a long run)
#   bash fuzz/run.sh --seconds N          each target N seconds
#   options: --target NAME (repeatable) only these targets; --core-only  skip the
#            kya-verify targets (builds without the `verify` feature)
#
# Needs the nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz, which is
# installed pinned (`cargo install --locked cargo-fuzz@$CARGO_FUZZ_VERSION`) when missing.
# When either cannot be had, prints a notice and exits 0: fuzzing is skipped, not failed.
# Exits 1 if any target finds a crash (artifacts under fuzz/artifacts/<target>/).
# Executions per target are printed at the end and written to $FUZZ_SUMMARY if set.
set -uo pipefail
CARGO_FUZZ_VERSION=0.13.2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

secs=""
targets=()
features=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) secs="${FUZZ_SMOKE_SECS:-25}" ;;
    --minutes) secs=$(( ${2:?--minutes N} * 60 )); shift ;;
    --seconds) secs="${2:?--seconds N}"; shift ;;
    --target) targets+=("${2:?--target NAME}"); shift ;;
    --core-only) features=(--no-default-features) ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$secs" ] || { echo "usage: run.sh --smoke | --minutes N | --seconds N [--target T]..." >&2; exit 2; }

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "NOTICE: fuzzing skipped: no nightly toolchain (rustup toolchain install nightly)"
  exit 0
fi
if ! cargo +nightly fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION (pinned)…"
  if ! cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION" >/dev/null 2>&1; then
    echo "NOTICE: fuzzing skipped: cargo-fuzz $CARGO_FUZZ_VERSION could not be installed"
    exit 0
  fi
fi

# cargo-fuzz has no --locked: check that fuzz/Cargo.lock is current the same way instead.
if ! cargo +nightly metadata --locked --format-version 1 --manifest-path "$here/Cargo.toml" >/dev/null; then
  echo "fuzz/Cargo.lock is out of date (cargo +nightly generate-lockfile --manifest-path fuzz/Cargo.toml)" >&2
  exit 1
fi
bash "$here/seed.sh"
echo "building fuzz targets (nightly, -O, debug assertions on)…"
buildlog="$(mktemp)"
if ! cargo +nightly fuzz build -O "${features[@]}" >"$buildlog" 2>&1; then
  tail -40 "$buildlog"; rm -f "$buildlog"
  echo "fuzz build failed" >&2
  exit 1
fi
rm -f "$buildlog"
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
  if [ ${#features[@]} -gt 0 ]; then
    # Without `verify`, only the kya-core targets exist.
    mapfile -t targets < <(printf '%s\n' "${targets[@]}" | grep -vE '^(chain|presentation|http|snapshot|decision|ed25519)_')
  fi
fi

summary="$(mktemp)"
failed=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="$(mktemp)"
  echo "== $t: ${secs}s"
  # One process per target (no -fork/-jobs): the machine is shared with builds and tests.
  cargo +nightly fuzz run -O "${features[@]}" "$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  runs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)"
  cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')"
  if [ $rc -ne 0 ]; then
    failed=1
    echo "!! $t FAILED (exit $rc); last lines:"
    tail -30 "$log"
    ls -1 "artifacts/$t" 2>/dev/null | sed 's/^/   artifact: /'
    printf '%-24s %12s execs  cov %6s  CRASH\n' "$t" "${runs:-?}" "${cov:-?}" >>"$summary"
  else
    printf '%-24s %12s execs  cov %6s  ok\n' "$t" "${runs:-?}" "${cov:-?}" >>"$summary"
  fi
  rm -f "$log"
done
echo "== fuzz summary (${secs}s per target)"
cat "$summary"
[ -n "${FUZZ_SUMMARY:-}" ] && cp "$summary" "$FUZZ_SUMMARY"
rm -f "$summary"
exit $failed
