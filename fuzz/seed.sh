#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seeds taken from test-vectors/ (never committed: the
# corpora grow while fuzzing; see .gitignore). Safe to run repeatedly: seeds are named by
# content hash, so nothing is duplicated.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tv="$here/../test-vectors"
corpus="$here/corpus"

put() { # put TARGET FILE...   copy files as seeds
  local t="$1"; shift
  mkdir -p "$corpus/$t"
  for f in "$@"; do
    [ -f "$f" ] || continue
    cp "$f" "$corpus/$t/seed-$(sha256sum "$f" | cut -c1-16)"
  done
}
put_str() { # put_str TARGET < lines   one seed per line of stdin
  local t="$1" line
  mkdir -p "$corpus/$t"
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    printf '%s' "$line" > "$corpus/$t/seed-$(printf '%s' "$line" | sha256sum | cut -c1-16)"
  done
}

kya_json=("$tv"/kya/*.json "$tv"/kya/credentials/*.json "$tv"/kya/chains/*.json)
credentials=("$tv"/kya/credentials/*.json "$tv"/w3c/vc-di-eddsa/eddsa-jcs-2022/signedJCS.json)

# Identifiers: every DID and verification method in the vectors, plus did:pkh forms.
{
  grep -ohE '"did:[a-z0-9]+:[^"]*"' -r "$tv" | tr -d '"' | sort -u
  echo 'did:pkh:eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'
  echo 'did:pkh:eip155:31337:0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
  echo 'did:pkh:eip155:1:0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED'
  echo 'did:web:shop.example'
} | put_str did_parse
grep -ohE '"z[1-9A-HJ-NP-Za-km-z]{40,120}"' -r "$tv" | tr -d '"' | sort -u | put_str multikey
put multikey "$tv"/kya/keys.json "$tv"/w3c/vc-di-eddsa/keyPair.json

put jcs "$tv"/w3c/jcs/input/*.json "${kya_json[@]}"
put proof_verify "${credentials[@]}" "$tv"/w3c/vc-di-eddsa/unsigned.json
put credential "${credentials[@]}"
put grant_json "$tv"/kya/attenuation.json "$tv"/kya/requests.json "$tv"/kya/credentials/*.json

# kya-verify targets: chains (as sent), and whatever else the vectors hold for them.
put chain_verify "$tv"/kya/chains/*.json
put presentation_verify "$tv"/kya/chains/*.json "${credentials[@]}"
[ -d "$tv/kya/presentations" ] && put presentation_verify "$tv"/kya/presentations/*.json
[ -d "$tv/kya/snapshots" ] && put snapshot_load "$tv"/kya/snapshots/*.json
[ -d "$tv/kya/http" ] && put http_verify "$tv"/kya/http/*
true
