#!/usr/bin/env bash
# Measures the gas a user pays per KYA registry operation: deploys both contracts on a fresh
# local anvil (hardfork prague, like foundry.toml's evm_version), sends each operation as a real
# transaction with `cast send`, and prints the receipt's gasUsed — the full transaction figure
# (21,000 base + calldata + execution, after refunds), the same kind of number as the ERC-8004
# reference figures. One line per operation:  GAS <operation> <gasUsed>
#
# Scenarios (state before each measured transaction):
#   register_with_uri          a new registrant's first agent (agent count already > 0),
#                              66-character ipfs:// URI
#   register_with_uri_and_key  the same via registerWithKey, plus one Ed25519 key
#   set_agent_key              bind a first key to an existing agent
#   rotate_agent_key           rotate that key to a new one
#   bind_principal_key         a wallet binds its first issuing key
#   revoke_credential          revoke one credential digest
#   revoke_issued_credential   a wallet revokes, as issuer, one credential digest it issued
#   give_feedback_first        a new rater, first feedback ever to this agent (worst case:
#                              the agent's rater list grows from 0)
#   give_feedback_repeat       the same rater's second feedback to the agent
#   (feedback: value 87, decimals 0, tag1 "starred", tag2 "", a 29-char endpoint, a 66-char
#    ipfs:// feedbackURI and a non-zero feedbackHash)
#   anchor_checkpoint_first    a log's first checkpoint (KyaLogAnchor; logId = SHA-256 of the
#                              origin "shop.example/kya-receipts", tree size 1,000)
#   anchor_checkpoint_repeat   the same log's next checkpoint (tree size 2,000)
#   validation_request         an agent's owner asks a validator about a receipt digest
#                              (KyaValidationRegistry; 66-char ipfs:// requestURI; the agent's
#                              and the validator's first request)
#   validation_response        the validator's first answer (100, a 66-char ipfs:// responseURI,
#                              a non-zero responseHash, tag "passed")
#   transfer_with_authorization_first  an x402 `exact` settlement (KyaTestUSD, EIP-3009, the
#                              65-byte signature overload) sent by a facilitator: 12.50 kUSD from
#                              a payer to a merchant that holds no kUSD yet
#   transfer_with_authorization        the same payer's next payment to that merchant (fresh
#                              nonce; the merchant's balance slot is already non-zero)
set -euo pipefail

SOL="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$SOL/.." && pwd)"
"$ROOT/scripts/install-tools.sh" >/dev/null
BIN="$ROOT/.tools/bin"
export FOUNDRY_SOLC="$BIN/solc"
cd "$SOL"
"$BIN/forge" build --quiet

WORK="$(mktemp -d)"
ANVIL_PID=""
cleanup() {
  if [[ -n "$ANVIL_PID" ]]; then kill "$ANVIL_PID" 2>/dev/null || true; wait "$ANVIL_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
# Its own home: anvil keeps its state under $HOME/.foundry and never deletes it.
HOME="$WORK" "$BIN/anvil" --port 0 --hardfork prague --accounts 7 >"$WORK/anvil.log" 2>&1 &
ANVIL_PID=$!
RPC=""
for _ in $(seq 1 100); do
  RPC="$(sed -n 's/^Listening on \(.*\)$/http:\/\/\1/p' "$WORK/anvil.log" | head -n1)"
  [[ -n "$RPC" ]] && break
  sleep 0.1
done
[[ -n "$RPC" ]] || { echo "gas.sh: anvil did not start" >&2; cat "$WORK/anvil.log" >&2; exit 1; }

# anvil's development keys, as printed in its log ("(i) 0x<64 hex>" under "Private Keys").
KEYS=()
while read -r k; do KEYS+=("$k"); done < <(sed -n '/^Private Keys/,/^Wallet/ s/^([0-9]*) \(0x[0-9a-fA-F]\{64\}\)$/\1/p' "$WORK/anvil.log")
[[ ${#KEYS[@]} -ge 7 ]] || { echo "gas.sh: could not read anvil keys" >&2; exit 1; }
K_DEPLOY=${KEYS[0]}; K_WARM=${KEYS[1]}; K_ALICE=${KEYS[2]}; K_BOB=${KEYS[3]}; K_RATER=${KEYS[4]}; K_PRINCIPAL=${KEYS[5]}
K_VALIDATOR=${KEYS[6]}

# json_field <file> <field>: prints a top-level field of a JSON file (numbers as decimal).
json_field() {
  node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));let v=j[process.argv[2]];
    if(typeof v==="string"&&/^0x[0-9a-f]+$/i.test(v)&&process.argv[2]!=="contractAddress")v=BigInt(v).toString();
    process.stdout.write(String(v));' "$1" "$2"
}
bytecode() {
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).bytecode.object)' "$SOL/out/$1.sol/$1.json"
}
# send <key> <args...>: sends one transaction, checks it succeeded, leaves the receipt in $WORK/r.json
send() {
  local key=$1; shift
  "$BIN/cast" send --rpc-url "$RPC" --private-key "$key" --json "$@" >"$WORK/r.json"
  [[ "$(json_field "$WORK/r.json" status)" == "1" ]] || { echo "gas.sh: transaction failed: $*" >&2; cat "$WORK/r.json" >&2; exit 1; }
}
gas() { echo "GAS $1 $(json_field "$WORK/r.json" gasUsed)"; }

send "$K_DEPLOY" --create "$(bytecode KyaIdentityRegistry)"
ID="$(json_field "$WORK/r.json" contractAddress)"
send "$K_DEPLOY" --create "$(bytecode KyaReputationRegistry)$("$BIN/cast" abi-encode 'f(address)' "$ID" | sed 's/^0x//')"
REP="$(json_field "$WORK/r.json" contractAddress)"
send "$K_DEPLOY" --create "$(bytecode KyaLogAnchor)"
ANCHOR="$(json_field "$WORK/r.json" contractAddress)"
send "$K_DEPLOY" --create "$(bytecode KyaValidationRegistry)$("$BIN/cast" abi-encode 'f(address)' "$ID" | sed 's/^0x//')"
VAL="$(json_field "$WORK/r.json" contractAddress)"

URI="ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"   # 66 characters
[[ ${#URI} -eq 66 ]] || { echo "gas.sh: URI is ${#URI} characters" >&2; exit 1; }
FB_URI="ipfs://bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"   # 66 characters
ENDPOINT="https://agent.example.com/mcp"
K1=0x$(printf 'a1%.0s' {1..32})
K2=0x$(printf 'b2%.0s' {1..32})
K3=0x$(printf 'c3%.0s' {1..32})
PK=0x$(printf 'd4%.0s' {1..32})
DIGEST=0x$(printf 'e5%.0s' {1..32})
FB_HASH=0x$(printf 'f6%.0s' {1..32})

# Warm-up: someone else registers first, so the agent counter is already non-zero.
send "$K_WARM" "$ID" 'register(string)' "$URI"

send "$K_ALICE" "$ID" 'register(string)' "$URI";                        gas register_with_uri       # agent 1
send "$K_BOB" "$ID" 'registerWithKey(string,bytes32)' "$URI" "$K1";     gas register_with_uri_and_key # agent 2
send "$K_ALICE" "$ID" 'setAgentKey(uint256,bytes32)' 1 "$K2";           gas set_agent_key
send "$K_ALICE" "$ID" 'rotateAgentKey(uint256,bytes32,bytes32)' 1 "$K2" "$K3"; gas rotate_agent_key
send "$K_PRINCIPAL" "$ID" 'bindPrincipalKey(bytes32)' "$PK";            gas bind_principal_key
send "$K_ALICE" "$ID" 'revokeCredential(uint256,bytes32)' 1 "$DIGEST";  gas revoke_credential
send "$K_PRINCIPAL" "$ID" 'revokeIssuedCredential(bytes32)' "$DIGEST";  gas revoke_issued_credential
FB='giveFeedback(uint256,int128,uint8,string,string,string,string,bytes32)'
send "$K_RATER" "$REP" "$FB" 1 87 0 starred "" "$ENDPOINT" "$FB_URI" "$FB_HASH"; gas give_feedback_first
send "$K_RATER" "$REP" "$FB" 1 91 0 starred "" "$ENDPOINT" "$FB_URI" "$FB_HASH"; gas give_feedback_repeat

LOG_ID=0x$(printf '%s' "shop.example/kya-receipts" | sha256sum | cut -c1-64)
ROOT1=0x$(printf 'root 1000' | sha256sum | cut -c1-64)
ROOT2=0x$(printf 'root 2000' | sha256sum | cut -c1-64)
send "$K_PRINCIPAL" "$ANCHOR" 'anchorCheckpoint(bytes32,uint64,bytes32)' "$LOG_ID" 1000 "$ROOT1"; gas anchor_checkpoint_first
send "$K_PRINCIPAL" "$ANCHOR" 'anchorCheckpoint(bytes32,uint64,bytes32)' "$LOG_ID" 2000 "$ROOT2"; gas anchor_checkpoint_repeat

VALIDATOR="$("$BIN/cast" wallet address --private-key "$K_VALIDATOR")"
RECEIPT=0x$(printf 'a receipt' | sha256sum | cut -c1-64)
RESP_HASH=0x$(printf 'a verdict' | sha256sum | cut -c1-64)
send "$K_ALICE" "$VAL" 'validationRequest(address,uint256,string,bytes32)' "$VALIDATOR" 1 "$URI" "$RECEIPT"; gas validation_request
send "$K_VALIDATOR" "$VAL" 'validationResponse(bytes32,uint8,string,bytes32,string)' "$RECEIPT" 100 "$FB_URI" "$RESP_HASH" passed; gas validation_response

# x402 settlement: the facilitator (K_WARM) submits the payer's (K_BOB) EIP-3009 authorization.
send "$K_DEPLOY" --create "$(bytecode KyaTestUSD)"
USD="$(json_field "$WORK/r.json" contractAddress)"
PAYER="$("$BIN/cast" wallet address --private-key "$K_BOB")"
send "$K_DEPLOY" "$USD" 'mint(address,uint256)' "$PAYER" 100000000
DOMAIN="$("$BIN/cast" call --rpc-url "$RPC" "$USD" 'DOMAIN_SEPARATOR()(bytes32)')"
TYPEHASH="$("$BIN/cast" keccak 'TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)')"
NOW="$("$BIN/cast" block --rpc-url "$RPC" latest -f timestamp)"
pay_once() { # pay_once <nonce>
  local vb=$((NOW + 3600)) struct digest sig
  struct="$("$BIN/cast" keccak "$("$BIN/cast" abi-encode 'f(bytes32,address,address,uint256,uint256,uint256,bytes32)' \
    "$TYPEHASH" "$PAYER" "$VALIDATOR" 12500000 0 "$vb" "$1")")"
  digest="$("$BIN/cast" keccak "0x1901${DOMAIN#0x}${struct#0x}")"
  sig="$("$BIN/cast" wallet sign --no-hash --private-key "$K_BOB" "$digest")"
  send "$K_WARM" "$USD" 'transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)' \
    "$PAYER" "$VALIDATOR" 12500000 0 "$vb" "$1" "$sig"
}
pay_once "0x$(printf '01%.0s' {1..32})"; gas transfer_with_authorization_first
pay_once "0x$(printf '02%.0s' {1..32})"; gas transfer_with_authorization
