//! Fixtures and measured operations of kya's peer benchmarks (`benches/peers.rs`).
//!
//! Every measured function takes the untrusted bytes as they would arrive and does all the
//! work a verifier does with them (parse, verify, decide); setup (signing, key generation,
//! building the verifier's policy) happens once, outside the timed closures.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use biscuit_auth::builder::{Fact, date, fact, int, string};
use biscuit_auth::builder_ext::AuthorizerExt as _;
use biscuit_auth::{AuthorizerBuilder, Biscuit, KeyPair, PrivateKey, PublicKey as BiscuitKey};
use ed25519_dalek::{Signature, VerifyingKey};
use kya_core::credential::UnverifiedCredential;
use kya_core::proof::PreparedProof;
use serde_json::Value;

/// `test-vectors/` of the repository.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors"))
}

/// The bytes of a file under `test-vectors/`.
pub fn vector(path: &str) -> Vec<u8> {
    let p = vectors_dir().join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// The instant every request of the benchmarks is made at (inside every vector's validity).
pub const NOW: &str = "2026-02-01T12:00:00Z";
/// Unix seconds of [`NOW`].
pub const NOW_UNIX: i64 = 1_769_947_200;

// ---------------------------------------------------------------------------------------
// Raw Ed25519: the floor every comparison is normalised against.
// ---------------------------------------------------------------------------------------

/// One signature to check: what `verify_strict` needs.
#[derive(Clone, Debug)]
pub struct RawSig {
    pub key: VerifyingKey,
    pub message: Vec<u8>,
    pub signature: Signature,
}

impl RawSig {
    /// `verify_strict`, panicking on failure (the fixtures are all valid).
    #[inline]
    pub fn verify(&self) {
        self.key
            .verify_strict(&self.message, &self.signature)
            .expect("valid signature");
    }
}

/// The signatures of the links of a chain (a JSON array, root first): each link's signed
/// message (`hashData`), its signature and its signer's key, as a verifier sees them.
pub fn chain_signatures(chain_bytes: &[u8]) -> Vec<RawSig> {
    let chain: Vec<Value> = serde_json::from_slice(chain_bytes).expect("chain json");
    chain.iter().map(credential_signature).collect()
}

/// The signature of one credential, as above.
pub fn credential_signature(credential: &Value) -> RawSig {
    let prepared = PreparedProof::from_document(credential).expect("proof");
    let key = VerifyingKey::from_bytes(&prepared.info.signer.public_key().to_bytes()).expect("key");
    RawSig {
        key,
        message: prepared.message.to_vec(),
        signature: prepared.signature,
    }
}

// ---------------------------------------------------------------------------------------
// cred1_vs_affinidi: one credential, parse from bytes + verify its eddsa-jcs-2022 proof.
// ---------------------------------------------------------------------------------------

/// kya: strict parse, typed parse, proof verification (`verify_strict`).
pub fn kya_cred1(bytes: &[u8]) -> bool {
    UnverifiedCredential::from_slice(bytes)
        .and_then(UnverifiedCredential::verify_proof)
        .is_ok()
}

/// affinidi-data-integrity: parse, split off the proof, resolve the did:key verification
/// method, verify (JCS + SHA-256 + `verify_strict`) with its synchronous API.
pub fn affinidi_cred1(bytes: &[u8]) -> bool {
    use affinidi_data_integrity::{DataIntegrityProof, VerifyOptions, did_vm::resolve_did_key};
    let Ok(mut doc) = serde_json::from_slice::<Value>(bytes) else {
        return false;
    };
    let Some(proof) = doc.as_object_mut().and_then(|o| o.remove("proof")) else {
        return false;
    };
    let Ok(proof) = serde_json::from_value::<DataIntegrityProof>(proof) else {
        return false;
    };
    let Ok(key) = resolve_did_key(&proof.verification_method) else {
        return false;
    };
    proof
        .verify_with_public_key(&doc, &key.public_key_bytes, VerifyOptions::new())
        .is_ok()
}

// ---------------------------------------------------------------------------------------
// chain2_vs_biscuit2: the biscuit side.
// ---------------------------------------------------------------------------------------

/// A 2-block biscuit expressing what `test-vectors/kya/chains/valid-2.json` expresses, and
/// the root key that verifies it.
pub struct BiscuitFixture {
    pub token: Vec<u8>,
    pub root: BiscuitKey,
}

/// The authority block: the principal lets its agent make payments (any `payments/…`
/// action) of at most 100.00 USD each, at two merchants, during 2026 (valid-2's root link).
pub const BISCUIT_AUTHORITY: &str = r#"
    principal("did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX");
    agent("did:key:z6Mko9hTggMwjSTEaJaPUfE6tqcy2xvU6BnNq3e3o8qVBiyH");
    check if action($a), $a == "payments" || $a.starts_with("payments/");
    check if amount($v, $asset), $asset == "USD", $v <= 10000;
    check if merchant($m), {"did:web:shop.example", "did:web:books.example"}.contains($m);
    check if time($t), $t >= 2026-01-01T00:00:00Z, $t < 2027-01-01T00:00:00Z;
"#;

/// The attenuation block: the agent narrows it for a sub-agent to `payments/send`, 25.00
/// USD, one merchant (valid-2's second link).
pub const BISCUIT_ATTENUATION: &str = r#"
    agent("did:key:z6MkvRXNYcE7MMduynWTgeKbDaT1iijDSC8pZqXZc8rHPrf2");
    check if action($a), $a == "payments/send" || $a.starts_with("payments/send/");
    check if amount($v, $asset), $asset == "USD", $v <= 2500;
    check if merchant($m), {"did:web:shop.example"}.contains($m);
    check if time($t), $t >= 2026-01-01T00:00:00Z, $t < 2027-01-01T00:00:00Z;
"#;

impl BiscuitFixture {
    pub fn new() -> Self {
        // Fixed keys (the same seeds as test-vectors/kya/keys.json), for repeatable tokens.
        let root = KeyPair::from(
            &PrivateKey::from_bytes(&[1; 32], biscuit_auth::Algorithm::Ed25519).expect("key"),
        );
        let next = KeyPair::from(
            &PrivateKey::from_bytes(&[2; 32], biscuit_auth::Algorithm::Ed25519).expect("key"),
        );
        let authority = Biscuit::builder()
            .code(BISCUIT_AUTHORITY)
            .expect("authority datalog")
            .build(&root)
            .expect("authority block");
        let block = biscuit_auth::builder::BlockBuilder::new()
            .code(BISCUIT_ATTENUATION)
            .expect("attenuation datalog");
        let token = authority
            .append_with_keypair(&next, block)
            .expect("attenuation block")
            .to_vec()
            .expect("serialise");
        Self {
            token,
            root: root.public(),
        }
    }
}

impl Default for BiscuitFixture {
    fn default() -> Self {
        Self::new()
    }
}

/// The request facts a merchant adds: action, amount (minor units), merchant, time.
pub fn biscuit_request_facts(action: &str, cents: i64, asset: &str, merchant: &str) -> [Fact; 4] {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX as u64);
    [
        fact("action", &[string(action)]),
        fact("amount", &[int(cents), string(asset)]),
        fact("merchant", &[string(merchant)]),
        fact("time", &[date(&at)]),
    ]
}

/// biscuit-auth: parse + verify the token's signatures, then authorise the request (every
/// block's checks, the authorizer's `allow if true` policy).
pub fn biscuit_authorize(token: &[u8], root: &BiscuitKey, facts: &[Fact; 4]) -> bool {
    let Ok(biscuit) = Biscuit::from(token, root) else {
        return false;
    };
    let mut builder = AuthorizerBuilder::new();
    for f in facts {
        builder = match builder.fact(f.clone()) {
            Ok(b) => b,
            Err(_) => return false,
        };
    }
    let Ok(mut authorizer) = builder.allow_all().build(&biscuit) else {
        return false;
    };
    // biscuit's default run limit is 1 ms of wall time, which a loaded 2-core machine can
    // exceed; as in biscuit's own benchmarks, allow more (the limit is checked, not spent).
    authorizer
        .authorize_with_limits(biscuit_auth::AuthorizerLimits {
            max_time: Duration::from_secs(1),
            ..Default::default()
        })
        .is_ok()
}

// ---------------------------------------------------------------------------------------
// kya-verify: chains, decisions, signed requests.
// ---------------------------------------------------------------------------------------

use kya_core::credential::{AgentAuthorization, AgentDelegation};
use kya_core::grant::{Grant, Request};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_verify::clock::FixedClock;
use kya_verify::policy::Policy;

/// The merchant every benchmark request goes to.
pub const MERCHANT: &str = "did:web:shop.example";

/// The key of test-vectors/kya/keys.json with seed `n…n`.
pub fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

/// The did:key of a key.
pub fn did(k: &SecretKey) -> DidKey {
    DidKey::from_public_key(k.public_key())
}

/// [`NOW`] as a timestamp.
pub fn now() -> Timestamp {
    NOW.parse().expect("timestamp")
}

/// The merchant's verifier policy: trusts the principal (seed 1), is `did:web:shop.example`.
pub fn merchant_policy() -> Policy {
    Policy::builder()
        .trust_root(Did::Key(did(&key(1))))
        .audience(MERCHANT)
        .build()
}

/// The merchant's clock, fixed at [`NOW`].
pub fn merchant_clock() -> FixedClock {
    FixedClock::new(now())
}

/// A request for `payments/send` of `amount` USD at the merchant, at [`NOW`].
pub fn payment_request(amount: &str) -> Request {
    Request::new("payments/send".parse().expect("action"), now())
        .with_amount(
            amount.parse().expect("amount"),
            "USD".parse().expect("asset"),
        )
        .with_audience(MERCHANT)
}

/// The 2-link chain the biscuit token mirrors, constraint for constraint: the principal
/// (seed 1) lets its agent (seed 2) make payments of at most 100.00 USD at two merchants
/// during 2026; the agent delegates `payments/send`, 25.00 USD, one merchant, to a
/// sub-agent (seed 3). No budget or rate (biscuit has no stateful constraint to match).
pub fn chain2_bytes() -> Vec<u8> {
    let (principal, agent, sub) = (key(1), key(2), key(3));
    let from: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
    let until: Timestamp = "2027-01-01T00:00:00Z".parse().expect("time");
    let grant = |json: &str| -> Grant { serde_json::from_str(json).expect("grant") };
    let root = AgentAuthorization::builder(Did::Key(did(&principal)), did(&agent))
        .id("urn:uuid:00000000-0000-4000-8000-0000000000b1")
        .valid_from(from)
        .valid_until(until)
        .grant(grant(
            r#"{"action": "payments", "maxAmount": {"value": "100.00", "asset": "USD"},
                "audience": ["did:web:shop.example", "did:web:books.example"]}"#,
        ))
        .sign(&principal, from)
        .expect("root");
    let leaf = AgentDelegation::builder(&root, did(&sub))
        .expect("delegation")
        .id("urn:uuid:00000000-0000-4000-8000-0000000000b2")
        .grant(grant(
            r#"{"action": "payments/send", "maxAmount": {"value": "25.00", "asset": "USD"},
                "audience": ["did:web:shop.example"]}"#,
        ))
        .sign(&agent, from)
        .expect("leaf");
    serde_json::to_vec(&[root.document(), leaf.document()]).expect("chain")
}

/// The merchant's verifier (the one kya verifier), caching nothing: every chain is
/// verified afresh.
pub fn merchant_verifier() -> Verifier {
    let policy = Policy::builder()
        .trust_root(Did::Key(did(&key(1))))
        .audience(MERCHANT)
        .cache_capacity(0)
        .build();
    Verifier::new(policy).with_clock(Arc::new(merchant_clock()))
}

/// kya: parse + verify a chain from bytes, then decide a request against it.
pub fn kya_chain_decide(bytes: &[u8], verifier: &Verifier, request: &Request) -> bool {
    match verifier.verify_chain(bytes) {
        Ok(agent) => verifier
            .decide(&agent, request)
            .is_ok_and(|d| d.is_allowed()),
        Err(_) => false,
    }
}

/// kya: parse + verify a chain from bytes (no decision): one agent credential when the
/// chain has one link.
pub fn kya_chain_verify(bytes: &[u8], verifier: &Verifier) -> bool {
    verifier.verify_chain(bytes).is_ok()
}

// ---------------------------------------------------------------------------------------
// Signed requests (RFC 9421, kya_verify::http).
// ---------------------------------------------------------------------------------------

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kya_verify::Verifier;
use kya_verify::http::{
    ChainFrom, ChainTransport, HttpPolicy, HttpRequest, KyaGate, RequestSigner, Route, SignOptions,
};
use kya_verify::nonce::{MemoryNonceStore, NonceQuotas};

/// A merchant gate and an agent that signs requests to it with a chain.
pub struct HttpFixture {
    pub gate: KyaGate,
    pub chain: Value,
    pub agent: SecretKey,
    pub transport: ChainTransport,
    counter: AtomicU64,
}

impl HttpFixture {
    /// The gate (trusting seed 1, audience [`MERCHANT`], clock at [`NOW`], caching at most
    /// `cache_capacity` verified chains: 0 verifies every chain afresh) and the leaf agent of
    /// `chain_bytes` (a key of test-vectors/kya/keys.json).
    pub fn new(chain_bytes: &[u8], transport: ChainTransport, cache_capacity: usize) -> Self {
        let chain: Value = serde_json::from_slice(chain_bytes).expect("chain");
        let leaf = chain
            .as_array()
            .and_then(|a| a.last())
            .and_then(|l| l.pointer("/credentialSubject/id"))
            .and_then(Value::as_str)
            .expect("leaf subject")
            .to_owned();
        let agent = (1..=6u8)
            .map(key)
            .find(|k| did(k).to_string() == leaf)
            .expect("leaf key among the vector keys");
        // The clock stands still, so nonces never expire: room for every iteration's.
        let policy = Policy::builder()
            .trust_root(Did::Key(did(&key(1))))
            .audience(MERCHANT)
            .cache_capacity(cache_capacity)
            .build();
        let verifier = Verifier::new(policy)
            .with_clock(Arc::new(merchant_clock()))
            .with_ledger(Arc::new(Headroom))
            .with_nonce_store(Arc::new(MemoryNonceStore::new(NonceQuotas::flat(
                50_000_000,
            ))));
        let gate = KyaGate::new(Arc::new(verifier), merchant_http());
        Self {
            gate,
            chain,
            agent,
            transport,
            counter: AtomicU64::new(0),
        }
    }

    /// A freshly signed `POST https://shop.example/pay` for 9.99 USD, with a new nonce.
    pub fn signed_request(&self) -> HttpRequest {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let signer = RequestSigner::new(&self.agent, &self.chain)
            .expect("signer")
            .transport(self.transport);
        let (_, mut request) =
            HttpRequest::from_url("POST", "https://shop.example/pay").expect("url");
        request = request
            .header("content-type", "application/json")
            .body(br#"{"order":"A-1001","amount":"9.99","currency":"USD"}"#.to_vec());
        let action = "payments/send".parse().expect("action");
        let amount = kya_verify::http::parse_amount_header("9.99 USD").expect("money");
        signer
            .sign(
                &mut request,
                &SignOptions {
                    action: Some(&action),
                    amount: Some(&amount),
                    created: now().add_seconds(-1),
                    expires: now().add_seconds(120),
                    nonce: &format!("bench-nonce-{n:016}"),
                },
            )
            .expect("sign");
        request
    }

    /// The chain's JCS bytes as the signer sends them (body of a registration call).
    pub fn chain_bytes(&self) -> Vec<u8> {
        RequestSigner::new(&self.agent, &self.chain)
            .expect("signer")
            .chain_bytes()
            .to_vec()
    }

    /// The request's own signature as a raw check: the RFC 9421 signature base, the
    /// signature and the agent key.
    pub fn request_signature(&self, request: &HttpRequest) -> RawSig {
        let checked = self
            .gate
            .http()
            .check_request(request, self.gate.policy(), now(), ChainFrom::Headers)
            .expect("request parses");
        RawSig {
            key: VerifyingKey::from_bytes(&self.agent.public_key().to_bytes()).expect("key"),
            message: checked.signature_base().to_vec(),
            signature: *checked.signature(),
        }
    }
}

/// A ledger with unlimited headroom: the chains' budgets and rates are charged (the gate
/// asks, as a merchant's would) but never run out over a benchmark's thousands of requests.
/// The benches measure verification and deciding, not a budget's exhaustion.
struct Headroom;

impl kya_verify::Ledger for Headroom {
    fn try_charge_all(
        &self,
        _: &kya_core::Did,
        _: &[kya_verify::Charge],
        _: Timestamp,
    ) -> Result<(), kya_verify::ChargeError> {
        Ok(())
    }

    fn refund_all(
        &self,
        _: &kya_core::Did,
        _: &[kya_verify::Charge],
        _: Timestamp,
    ) -> Result<(), kya_verify::StoreUnavailable> {
        Ok(())
    }
}

/// The merchant's HTTP side: its authority and the route the benches' requests take.
fn merchant_http() -> HttpPolicy {
    HttpPolicy::default()
        .authority("shop.example")
        .route(Route::new("/pay", "payments/send".parse().expect("action")))
}

/// kya: verify a signed request (signature, content digest, window, nonce, chain) and decide.
pub fn kya_admit(gate: &KyaGate, request: &HttpRequest) -> bool {
    gate.admit(request).is_ok()
}

/// A 3-link chain shaped like test-vectors/kya/chains/valid-3.json (principal seed 1 →
/// agent 2 → sub-agent 3 → sub-sub-agent 4, narrowing payments from 100.00 to 10.00 USD),
/// with ids numbered `n`, so that every `n` gives a distinct chain (for the cache memory
/// measurement).
pub fn chain3_numbered(n: u32) -> Vec<u8> {
    let from: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
    let grant = |json: &str| -> Grant { serde_json::from_str(json).expect("grant") };
    let id = |link: u32| format!("urn:uuid:00000000-0000-4000-8000-{:08x}{link:04x}", n);
    let root = AgentAuthorization::builder(Did::Key(did(&key(1))), did(&key(2)))
        .id(id(1))
        .valid_from(from)
        .valid_until("2027-01-01T00:00:00Z".parse().expect("time"))
        .grant(grant(
            r#"{"action": "payments", "maxAmount": {"value": "100.00", "asset": "USD"},
                "audience": ["did:web:shop.example", "did:web:books.example"],
                "budget": {"value": "500.00", "asset": "USD", "periodSeconds": 86400}}"#,
        ))
        .grant(grant(
            r#"{"action": "catalog/read", "resource": ["https://shop.example/api/"]}"#,
        ))
        .sign(&key(1), from)
        .expect("root");
    let middle = AgentDelegation::builder(&root, did(&key(3)))
        .expect("delegation")
        .id(id(2))
        .valid_until("2026-07-01T00:00:00Z".parse().expect("time"))
        .grant(grant(
            r#"{"action": "payments/send", "maxAmount": {"value": "25.00", "asset": "USD"},
                "audience": ["did:web:shop.example"],
                "budget": {"value": "100.00", "asset": "USD", "periodSeconds": 86400}}"#,
        ))
        .sign(&key(2), from)
        .expect("middle");
    let leaf = AgentDelegation::builder(&middle, did(&key(4)))
        .expect("delegation")
        .id(id(3))
        .valid_until("2026-03-01T00:00:00Z".parse().expect("time"))
        .grant(grant(
            r#"{"action": "payments/send", "maxAmount": {"value": "10.00", "asset": "USD"},
                "audience": ["did:web:shop.example"],
                "budget": {"value": "20.00", "asset": "USD", "periodSeconds": 86400},
                "rate": {"count": 5, "periodSeconds": 60}}"#,
        ))
        .sign(&key(3), from)
        .expect("leaf");
    serde_json::to_vec(&[root.document(), middle.document(), leaf.document()]).expect("chain")
}
