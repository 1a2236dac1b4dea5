//! Shared resources as levers, and stores that cannot answer: an agent spends only its own
//! share of any store; nothing is stored for a signature that did not verify; cheap refusals
//! come first; an unavailable store or a missing ledger is never an allow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use kya_core::credential::AgentDelegation;
use kya_core::grant::{Action, Amount, Asset, Money};
use kya_core::{SecretKey, Timestamp};
use kya_verify::admission::SeparateStores;
use kya_verify::http::{
    AdmitError, ChainTransport, HttpPolicy, HttpRequest, KyaGate, MemoryChainStore, Refusal,
    RequestSigner, Route, SignOptions,
};
use kya_verify::{
    Admission, AdmissionStore, Charge, ChargeError, Code, Ledger, MemoryLedger, MemoryNonceStore,
    NonceKey, NonceQuotas, NonceStore, NonceVerdict, PresentationOptions, StoreUnavailable,
    Verifier, present,
};
use serde_json::Value;

fn presentation(holder: &SecretKey, chain: &[Value], nonce: &str) -> Vec<u8> {
    let options = PresentationOptions {
        audience: "did:web:shop.example".into(),
        nonce: nonce.into(),
        created: now(),
        expires: now().add_seconds(120),
    };
    serde_json::to_vec(&present(chain, holder, &options).unwrap()).unwrap()
}

fn verifier_with(nonces: Arc<dyn NonceStore>) -> Verifier {
    Verifier::new(policy())
        .with_clock(Arc::new(clock()))
        .with_nonce_store(nonces)
}

/// A second chain from the same principal to another leaf (agent 3).
fn other_chain() -> Vec<Value> {
    let links = chain(1);
    let leaf = AgentDelegation::builder(&links[0], did(&agent(3)))
        .unwrap()
        .grant(child_grant())
        .sign(&agent(0), t0())
        .unwrap();
    vec![links[0].document().clone(), leaf.document().clone()]
}

#[test]
fn one_agent_cannot_exhaust_the_nonce_store_for_others() {
    let nonces = Arc::new(MemoryNonceStore::new(
        NonceQuotas::default()
            .total(1000)
            .per_principal(1000)
            .per_agent(5),
    ));
    let v = verifier_with(nonces);
    let greedy = docs(&chain(2));
    for i in 0..5 {
        v.verify_presentation(&presentation(&agent(1), &greedy, &format!("g-{i}")))
            .unwrap();
    }
    assert_err(
        v.verify_presentation(&presentation(&agent(1), &greedy, "g-5")),
        "nonce_quota_exceeded",
        None,
    );
    // Another agent is not affected.
    v.verify_presentation(&presentation(&agent(3), &other_chain(), "o-1"))
        .unwrap();
}

#[test]
fn a_signature_that_does_not_verify_stores_no_nonce() {
    let nonces = Arc::new(MemoryNonceStore::new(NonceQuotas::flat(100)));
    let v = verifier_with(nonces.clone());
    let good = docs(&chain(2));
    // Signed by a key that is not the holder's: refused, and nothing is remembered.
    let forged = presentation(&agent(7), &good, "n-1");
    assert!(v.verify_presentation(&forged).is_err());
    assert!(nonces.is_empty());
    // The real agent may still use that nonce.
    v.verify_presentation(&presentation(&agent(1), &good, "n-1"))
        .unwrap();
    assert_eq!(nonces.len(), 1);
}

/// An untrusted issuer costs no signature or narrowing work: its chain is refused as
/// untrusted even when its links also carry bad signatures and widened grants (which would
/// be reported first if those costlier checks ran first).
#[test]
fn an_untrusted_chain_is_refused_before_signatures_and_narrowing() {
    // A stranger builds a coherent chain of its own keys (it signs what it likes): the root
    // issued by itself, the delegation widened but correctly linked and signed.
    let stranger = SecretKey::from_seed(&[0x77; 32]);
    let mut d = docs(&chain(2));
    d[0]["issuer"] = Value::String(did(&stranger).to_string());
    d[0] = resign(d[0].clone(), &stranger, t0());
    let parent_digest =
        kya_core::CredentialDigest::of_canonical(&kya_core::json::canonicalize(&d[0]).unwrap());
    d[1]["parentCredential"]["digestMultibase"] = parent_digest.to_multibase().into();
    d[1]["credentialSubject"]["grants"][0]["maxAmount"]["value"] = "1000000.00".into();
    d[1] = resign(d[1].clone(), &agent(0), t0());
    let e = verify_chain(&bytes(&d), &policy(), &clock(), None).unwrap_err();
    assert_eq!(e.code(), "untrusted_root", "{e}");
    // Trusted, the same chain is refused for its widening: the checks above were skipped.
    let trusting = kya_verify::Policy::builder()
        .trust_root(kya_core::Did::Key(did(&stranger)))
        .audience("did:web:shop.example")
        .build();
    let e = verify_chain(&bytes(&d), &trusting, &clock(), None).unwrap_err();
    assert_eq!(e.code(), "grant_widened", "{e}");
}

#[test]
fn a_proof_past_its_own_expires_is_refused() {
    let links = chain(2);
    let mut leaf = links[1].document().clone();
    leaf.as_object_mut().unwrap().remove("proof");
    let options = kya_core::ProofOptions {
        verification_method: did(&agent(0)).verification_method_id(),
        proof_purpose: "assertionMethod".into(),
        created: Some(t0()),
        expires: Some(now().add_seconds(-61)),
        challenge: None,
        domain: None,
    };
    let leaf = kya_core::proof::sign(&leaf, &options, &agent(0)).unwrap();
    let d = vec![links[0].document().clone(), leaf];
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), None),
        "proof_expired",
        Some(1),
    );
}

/// A registry view that reflects the chain as of `at`.
fn as_of(at: Timestamp) -> Arc<kya_verify::MemoryRegistry> {
    let r = Arc::new(kya_verify::MemoryRegistry::new());
    r.set_as_of(Some(at));
    r
}

#[test]
fn a_stale_registry_view_is_refused() {
    let d = bytes(&docs(&chain(2)));
    let old = as_of(now().add_seconds(-330 * 86_400));
    let e = assert_err(
        verify_chain(&d, &policy(), &clock(), Some(old)),
        "registry_stale",
        None,
    );
    assert!(e.to_string().contains("86400"), "{e}");
    let fresh = as_of(now().add_seconds(-3600));
    assert!(verify_chain(&d, &policy(), &clock(), Some(fresh)).is_ok());
}

struct DownNonces;
impl NonceStore for DownNonces {
    fn check_and_store(
        &self,
        _: NonceKey<'_>,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<NonceVerdict, StoreUnavailable> {
        Err(StoreUnavailable::new("nonce store", "connection refused"))
    }
}

struct DownLedger;
impl Ledger for DownLedger {
    fn try_charge_all(
        &self,
        _: &kya_core::Did,
        _: &[Charge],
        _: Timestamp,
    ) -> Result<(), ChargeError> {
        Err(ChargeError::Unavailable(StoreUnavailable::new(
            "ledger",
            "timed out",
        )))
    }

    fn refund_all(
        &self,
        _: &kya_core::Did,
        _: &[Charge],
        _: Timestamp,
    ) -> Result<(), StoreUnavailable> {
        Err(StoreUnavailable::new("ledger", "timed out"))
    }
}

const AUTHORITY: &str = "shop.example";

fn budget_chain() -> Vec<Value> {
    let links = chain(1);
    let leaf = AgentDelegation::builder(&links[0], did(&agent(1)))
        .unwrap()
        .grant(grant(
            r#"{"action": "payments/send", "maxAmount": {"value": "25.00", "asset": "USD"},
                "audience": ["did:web:shop.example"],
                "budget": {"value": "30.00", "asset": "USD", "periodSeconds": 86400}}"#,
        ))
        .sign(&agent(0), t0())
        .unwrap();
    vec![links[0].document().clone(), leaf.document().clone()]
}

fn signed_pay(chain: &[Value], transport: ChainTransport, nonce: &str) -> HttpRequest {
    signed_pay_by(&agent(1), chain, transport, nonce)
}

/// [`signed_pay`] by `signer`, the leaf agent of `chain`.
fn signed_pay_by(
    signer: &SecretKey,
    chain: &[Value],
    transport: ChainTransport,
    nonce: &str,
) -> HttpRequest {
    let (_, mut request) =
        HttpRequest::from_url("POST", &format!("https://{AUTHORITY}/pay")).unwrap();
    request.body = b"{}".to_vec();
    if transport == ChainTransport::Body {
        request.path = "/kya/chains".into();
    }
    let amount = Money::new(
        Amount::parse("10.00").unwrap(),
        Asset::parse("USD").unwrap(),
    );
    RequestSigner::new(signer, &Value::Array(chain.to_vec()))
        .unwrap()
        .transport(transport)
        .sign(
            &mut request,
            &SignOptions {
                action: None,
                amount: Some(&amount),
                created: now(),
                expires: now().add_seconds(60),
                nonce,
            },
        )
        .unwrap();
    request
}

fn gate(verifier: Verifier) -> KyaGate {
    KyaGate::new(
        Arc::new(verifier),
        HttpPolicy::default()
            .authority(AUTHORITY)
            .route(Route::new("/pay", Action::parse("payments/send").unwrap())),
    )
}

#[test]
fn an_unavailable_store_is_never_an_allow_and_answers_503() {
    let chain = budget_chain();
    // Nonce store down: not verified, 503, store_unavailable.
    let g = gate(verifier_with(Arc::new(DownNonces)));
    let refusal = g
        .admit(&signed_pay(&chain, ChainTransport::Inline, "n-1"))
        .unwrap_err();
    assert_eq!(refusal.status(), 503);
    assert_eq!(refusal.reasons()[0].code, Code::StoreUnavailable);
    assert!(matches!(
        verifier_with(Arc::new(DownNonces)).verify_presentation(&presentation(
            &agent(1),
            &chain,
            "p-1"
        )),
        Err(kya_verify::VerifyError::StoreUnavailable(_))
    ));
    // Ledger down: nothing charged, nothing allowed, 503.
    let g = gate(
        verifier_with(Arc::new(MemoryNonceStore::default())).with_ledger(Arc::new(DownLedger)),
    );
    let refusal = g
        .admit(&signed_pay(&chain, ChainTransport::Inline, "n-2"))
        .unwrap_err();
    assert_eq!(refusal.status(), 503);
    assert_eq!(refusal.reasons()[0].code, Code::StoreUnavailable);
}

#[test]
fn without_a_ledger_a_budget_is_never_allowed() {
    let chain = budget_chain();
    let g = gate(verifier_with(Arc::new(MemoryNonceStore::default())));
    let refusal = g
        .admit(&signed_pay(&chain, ChainTransport::Inline, "n-1"))
        .unwrap_err();
    assert_eq!(refusal.status(), 403);
    assert_eq!(refusal.reasons()[0].code, Code::LedgerRequired);
    // With a ledger, the budget (30) admits 10 + 10 + 10 and then refuses.
    let g = gate(
        verifier_with(Arc::new(MemoryNonceStore::default()))
            .with_ledger(Arc::new(MemoryLedger::default())),
    );
    for i in 0..3 {
        g.admit(&signed_pay(
            &chain,
            ChainTransport::Inline,
            &format!("m-{i}"),
        ))
        .unwrap();
    }
    let refusal = g
        .admit(&signed_pay(&chain, ChainTransport::Inline, "m-3"))
        .unwrap_err();
    assert!(matches!(refusal, Refusal::Denied { .. }));
    assert_eq!(refusal.reasons()[0].code, Code::BudgetExhausted);
}

#[test]
fn chain_registration_needs_the_leafs_signature_and_fits_its_share() {
    let chain = budget_chain();
    let g = gate(verifier_with(Arc::new(MemoryNonceStore::default())))
        .chain_store(Arc::new(MemoryChainStore::new(1 << 20, 4096)));
    // Unsigned: nothing stored.
    let (_, mut unsigned) =
        HttpRequest::from_url("POST", &format!("https://{AUTHORITY}/kya/chains")).unwrap();
    unsigned.body = serde_json::to_vec(&chain).unwrap();
    assert!(g.register_chain(&unsigned).is_err());
    // Signed by the leaf: stored, and named by its digest.
    let (agent_v, digest) = g
        .register_chain(&signed_pay(&chain, ChainTransport::Body, "r-1"))
        .unwrap();
    assert_eq!(agent_v.chain_digest(), digest);
    assert_eq!(
        digest,
        kya_verify::ChainDigest::of_chain(&Value::Array(chain.clone())).unwrap()
    );
    // The agent's share (4 KiB) holds one such chain, not two.
    let mut second = chain.clone();
    second[1] = AgentDelegation::builder(&chain_of_root(), did(&agent(1)))
        .unwrap()
        .grant(child_grant())
        .sign(&agent(0), t0().add_seconds(1))
        .unwrap()
        .document()
        .clone();
    let e = g
        .register_chain(&signed_pay(&second, ChainTransport::Body, "r-2"))
        .unwrap_err();
    assert_eq!(e.code(), Code::ChainQuotaExceeded, "{e}");
}

/// One principal's agents fill only that principal's share of the chain store: a sub-agent
/// that delegates to fresh keys of its own (an agent's share each) is refused once the
/// principal's share is full, and never pushes another principal's registered chain out.
#[test]
fn one_principals_sub_agents_cannot_push_out_another_principals_chain() {
    let victim_principal = SecretKey::from_seed(&[0x51; 32]);
    let victim_agent = SecretKey::from_seed(&[0x52; 32]);
    let victim_chain = vec![
        kya_core::credential::AgentAuthorization::builder(
            kya_core::Did::Key(did(&victim_principal)),
            did(&victim_agent),
        )
        .valid_from(t0())
        .valid_until(t("2026-03-01T00:00:00Z"))
        .grant(root_grant())
        .sign(&victim_principal, t0())
        .unwrap()
        .document()
        .clone(),
    ];
    let policy = kya_verify::Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .trust_root(kya_core::Did::Key(did(&victim_principal)))
        .audience("did:web:shop.example")
        .build();
    let verifier = Verifier::new(policy)
        .with_clock(Arc::new(clock()))
        .with_ledger(Arc::new(MemoryLedger::default()));
    // 256 KiB in all (64 KiB per principal), 4 KiB per agent.
    let store = Arc::new(MemoryChainStore::new(256 << 10, 4 << 10));
    let g = gate(verifier).chain_store(store.clone());
    let victim = |transport, nonce| signed_pay_by(&victim_agent, &victim_chain, transport, nonce);
    g.register_chain(&victim(ChainTransport::Body, "v-r"))
        .unwrap();
    g.admit(&victim(ChainTransport::Digest, "v-1")).unwrap();

    let root = chain_of_root();
    let mut refused = 0;
    for i in 0..400u32 {
        let mut seed = [0xA0; 32];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        let sub = SecretKey::from_seed(&seed);
        let link = AgentDelegation::builder(&root, did(&sub))
            .unwrap()
            .grant(child_grant())
            .sign(&agent(0), t0())
            .unwrap();
        let sub_chain = [root.document().clone(), link.document().clone()];
        let nonce = format!("a-{i}");
        match g.register_chain(&signed_pay_by(
            &sub,
            &sub_chain,
            ChainTransport::Body,
            &nonce,
        )) {
            Ok(_) => {}
            Err(e) if e.code() == Code::ChainQuotaExceeded => refused += 1,
            Err(e) => panic!("sub-agent {i}: {e}"),
        }
    }
    assert!(refused > 0, "the principal's share never filled");
    assert!(
        store.bytes() <= (64 << 10) + (4 << 10),
        "{} bytes",
        store.bytes()
    );
    g.admit(&victim(ChainTransport::Digest, "v-2"))
        .expect("the victim's registered chain is still held");
}

fn chain_of_root() -> kya_core::credential::VerifiedCredential {
    chain(1).remove(0)
}

/// A nonce store and a ledger in one, counting how the verifier called it.
#[derive(Default)]
struct OneStore {
    stores: SeparateStores<MemoryNonceStore, MemoryLedger>,
    one_step: AtomicUsize,
    separate: AtomicUsize,
}

impl NonceStore for OneStore {
    fn check_and_store(
        &self,
        key: NonceKey<'_>,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<NonceVerdict, StoreUnavailable> {
        self.separate.fetch_add(1, Ordering::Relaxed);
        self.stores.check_and_store(key, until, now)
    }
}

impl Ledger for OneStore {
    fn try_charge_all(
        &self,
        principal: &kya_core::Did,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<(), ChargeError> {
        self.separate.fetch_add(1, Ordering::Relaxed);
        self.stores.try_charge_all(principal, charges, now)
    }

    fn refund_all(
        &self,
        principal: &kya_core::Did,
        charges: &[Charge],
        charged_at: Timestamp,
    ) -> Result<(), StoreUnavailable> {
        self.stores.refund_all(principal, charges, charged_at)
    }
}

impl AdmissionStore for OneStore {
    fn admit(
        &self,
        key: NonceKey<'_>,
        until: Timestamp,
        charges: &[Charge],
        now: Timestamp,
    ) -> Result<Admission, StoreUnavailable> {
        self.one_step.fetch_add(1, Ordering::Relaxed);
        self.stores.admit(key, until, charges, now)
    }
}

#[test]
fn one_step_stores_answer_as_two_and_never_charge_a_replay() {
    let chain = budget_chain();
    let store = Arc::new(OneStore::default());
    let g = gate(verifier_with(Arc::new(MemoryNonceStore::default())).with_stores(store.clone()));
    let pay = |nonce: &str| signed_pay(&chain, ChainTransport::Inline, nonce);
    // The budget (30) admits 10 + 10 + 10; every replay in between is refused.
    for i in 0..3 {
        g.admit(&pay(&format!("m-{i}"))).unwrap();
        let replay = g.admit(&pay(&format!("m-{i}"))).unwrap_err();
        assert_eq!(replay.reasons()[0].code, Code::NonceReplayed);
    }
    let refusal = g.admit(&pay("m-3")).unwrap_err();
    assert!(matches!(refusal, Refusal::Denied { .. }));
    assert_eq!(refusal.reasons()[0].code, Code::BudgetExhausted);
    // A refused request's nonce is spent, as in two steps.
    let replay = g.admit(&pay("m-3")).unwrap_err();
    assert_eq!(replay.reasons()[0].code, Code::NonceReplayed);
    assert_eq!(store.one_step.load(Ordering::Relaxed), 8);
    assert_eq!(
        store.separate.load(Ordering::Relaxed),
        0,
        "one step, never two"
    );
    // A nonce store or ledger set afterwards replaces the one-step store.
    let two = Arc::new(OneStore::default());
    let g = gate(
        verifier_with(Arc::new(MemoryNonceStore::default()))
            .with_stores(two.clone())
            .with_ledger(Arc::new(MemoryLedger::default())),
    );
    g.admit(&pay("t-1")).unwrap();
    assert_eq!(two.one_step.load(Ordering::Relaxed), 0);
    assert_eq!(
        two.separate.load(Ordering::Relaxed),
        1,
        "the nonce, in its own step"
    );
}

/// A completion (the gateway's price check) that refuses a request leaves no trace: no nonce
/// recorded, nothing charged; one that completes the grant request is decided on it.
#[test]
fn a_request_refused_by_its_completion_records_nothing() {
    let chain = budget_chain();
    let ledger = Arc::new(MemoryLedger::default());
    let g = gate(verifier_with(Arc::new(MemoryNonceStore::default())).with_ledger(ledger.clone()));
    let request = signed_pay(&chain, ChainTransport::Inline, "c-1");
    let refused = g
        .admit_completing(&request, |_, _, _| Err::<(), _>("not this price"))
        .unwrap_err();
    assert!(matches!(refused, AdmitError::Completing("not this price")));
    // The same request is still fresh: its nonce was not recorded, and the first charge of
    // the 30.00 budget is its own.
    let raised = |_: &_, _: &_, r: &mut kya_core::grant::Request| {
        r.amount = Some(Money::new(
            Amount::parse("25.00").unwrap(),
            Asset::parse("USD").unwrap(),
        ));
        Ok::<(), ()>(())
    };
    let (admitted, ()) = g.admit_completing(&request, raised).unwrap();
    assert_eq!(
        admitted
            .decision
            .request()
            .amount
            .as_ref()
            .map(|m| m.value.to_string()),
        Some("25.00".to_owned())
    );
    // Decided on the completed amount: 25.00 of 30.00 spent, so 10.00 more is refused.
    let refusal = g
        .admit(&signed_pay(&chain, ChainTransport::Inline, "c-2"))
        .unwrap_err();
    assert_eq!(refusal.reasons()[0].code, Code::BudgetExhausted);
    // And the request itself is now a replay.
    assert!(matches!(
        g.admit_completing(&request, |_, _, _| Ok::<(), ()>(())),
        Err(AdmitError::Refused(_))
    ));
}
