//! One verification, one registry state: the gateway's live view is replaced whole by its
//! follower after each sync, and a sync can land while a request is being verified. Were
//! each question answered by the view current at that moment, a verdict could combine two
//! states — the agent key read as bound before a sync that unbound it, a validation read as
//! passing after the sync that landed it — and allow what neither state allows.
//!
//! The sync is landed deterministically by a view that forwards to a `LiveView` and calls
//! `LiveView::replace` (what the follower does on its thread) right after any key-binding
//! question asked of it: a verifier that asks its questions of the live view instead of the
//! state it pinned would see the swap mid-verification.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex};

use kya_core::credential::{AgentAuthorization, AgentId, AgentRegistration};
use kya_core::grant::Grant;
use kya_core::{CredentialDigest, Did, DidKey, DidPkh, PublicKey, SecretKey, Timestamp};
use kya_gateway::LiveView;
use kya_verify::snapshot::{BlockTime, Snapshot};
use kya_verify::validation::ValidationRequirement;
use kya_verify::{
    AgentRecord, FixedClock, IssuerRevocation, Policy, RegistryView, ReputationSummary, Revocation,
    Verifier,
};

const REGISTRY: [u8; 20] = [
    0x5f, 0xbd, 0xb2, 0x31, 0x56, 0x78, 0xaf, 0xec, 0xb3, 0x67, 0xf0, 0x32, 0xd9, 0x3f, 0x64, 0x2f,
    0x64, 0x18, 0x0a, 0xa3,
];
const VALIDATIONS: [u8; 20] = [0x88; 20];
const TRUSTED: [u8; 20] = [0xa1; 20];

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}
fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}
fn did(k: &SecretKey) -> DidKey {
    DidKey::from_public_key(k.public_key())
}
fn at(block: u64, time: &str) -> BlockTime {
    BlockTime {
        block,
        time: t(time),
    }
}
fn registration() -> AgentRegistration {
    serde_json::from_value(serde_json::json!({
        "agentRegistry": "eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "agentId": "1"
    }))
    .unwrap()
}

/// Before the sync: agent 1 registered, the agent key bound, a validation asked, unanswered.
fn before() -> Snapshot {
    let mut s = Snapshot::with_validation(31337, REGISTRY, [0x77; 20], Some(VALIDATIONS));
    let one = AgentId::from(1);
    s.apply_block(1, [1; 32], t("2026-01-01T00:00:00Z"))
        .unwrap();
    s.apply_agent_registered(
        one.clone(),
        [0x11; 20],
        "https://agent.example/1.json".into(),
    )
    .unwrap();
    s.apply_agent_key_bound(&one, key(2).public_key(), at(1, "2026-01-01T00:00:00Z"))
        .unwrap();
    s.apply_validation_request(&one, TRUSTED, [1; 32], at(1, "2026-01-01T00:00:00Z"))
        .unwrap();
    s.apply_block(2, [2; 32], t("2026-01-02T00:00:00Z"))
        .unwrap();
    s
}

/// After the sync (one later block): the owner unbound the agent key (e.g. it leaked) and the
/// validator's passing answer landed.
fn after() -> Snapshot {
    let mut s = before();
    let one = AgentId::from(1);
    s.apply_agent_key_unbound(&one, key(2).public_key(), at(3, "2026-01-03T00:00:00Z"))
        .unwrap();
    s.apply_validation_response(
        &one,
        TRUSTED,
        [1; 32],
        100,
        String::new(),
        at(3, "2026-01-03T00:00:00Z"),
    )
    .unwrap();
    s.apply_block(3, [3; 32], t("2026-01-03T00:00:00Z"))
        .unwrap();
    s
}

fn policy(cache_capacity: usize) -> Policy {
    Policy::builder()
        .cache_capacity(cache_capacity)
        .trust_root(Did::Key(did(&key(1))))
        .audience("did:web:shop.example")
        .max_registry_age_secs(400 * 86_400)
        .min_validation(ValidationRequirement::new(&[TRUSTED], 80, 1))
        .build()
}

fn chain() -> Vec<u8> {
    let grant: Grant = serde_json::from_str(r#"{"action": "payments"}"#).unwrap();
    let c = AgentAuthorization::builder(Did::Key(did(&key(1))), did(&key(2)))
        .valid_from(t("2026-01-01T00:00:00Z"))
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(grant)
        .registration(registration())
        .sign(&key(1), t("2026-01-01T00:00:00Z"))
        .unwrap();
    serde_json::to_vec(&vec![c.document().clone()]).unwrap()
}

fn verifier(view: Arc<dyn RegistryView>) -> Verifier {
    Verifier::new(policy(1024))
        .with_clock(Arc::new(FixedClock::new(t("2026-02-01T12:00:00Z"))))
        .with_registry(view)
}

/// The live view, with the follower's sync landing right after the first key-binding
/// question asked of the live view itself.
struct SyncLandsMidVerification {
    live: Arc<LiveView>,
    next: Mutex<Option<Snapshot>>,
}

impl SyncLandsMidVerification {
    fn land(&self) {
        if let Some(next) = self.next.lock().unwrap().take() {
            self.live.replace(next);
        }
    }
}

impl RegistryView for SyncLandsMidVerification {
    fn agent(&self, reg: &AgentRegistration) -> Option<AgentRecord> {
        self.live.agent(reg)
    }
    fn agent_key_bound(&self, reg: &AgentRegistration, key: &PublicKey, at: Timestamp) -> bool {
        let bound = self.live.agent_key_bound(reg, key, at);
        self.land();
        bound
    }
    fn principal_key_bound(&self, p: &DidPkh, key: &PublicKey, at: Timestamp) -> bool {
        let bound = self.live.principal_key_bound(p, key, at);
        self.land();
        bound
    }
    fn revoked(&self, reg: &AgentRegistration, d: &CredentialDigest) -> Option<Revocation> {
        self.live.revoked(reg, d)
    }
    fn revoked_by_issuer(&self, i: &DidPkh, d: &CredentialDigest) -> Option<IssuerRevocation> {
        self.live.revoked_by_issuer(i, d)
    }
    fn reputation(&self, reg: &AgentRegistration, r: &[[u8; 20]]) -> Option<ReputationSummary> {
        self.live.reputation(reg, r)
    }
    fn validations(
        &self,
        reg: &AgentRegistration,
        v: &[[u8; 20]],
    ) -> Option<Vec<kya_verify::Validation>> {
        self.live.validations(reg, v)
    }
    fn agent_over_bounds(&self, reg: &AgentRegistration) -> Option<String> {
        self.live.agent_over_bounds(reg)
    }
    fn principal_over_bounds(&self, p: &DidPkh) -> Option<String> {
        self.live.principal_over_bounds(p)
    }
    fn as_of(&self) -> Option<Timestamp> {
        self.live.as_of()
    }
    fn state_id(&self) -> Option<[u8; 32]> {
        self.live.state_id()
    }
    fn pinned(&self) -> Option<Arc<dyn RegistryView>> {
        self.live.pinned()
    }
}

#[test]
fn a_sync_landing_mid_verification_never_mixes_two_registry_states() {
    let chain = chain();
    // Each state alone refuses, for its own reason.
    let refused = |snapshot: Snapshot| {
        verifier(Arc::new(LiveView::new(snapshot, None)))
            .verify_chain(&chain)
            .unwrap_err()
            .code()
            .as_str()
    };
    assert_eq!(refused(before()), "validation_insufficient");
    assert_eq!(refused(after()), "key_not_bound");

    let live = Arc::new(LiveView::new(before(), None));
    let racing = Arc::new(SyncLandsMidVerification {
        live: Arc::clone(&live),
        next: Mutex::new(Some(after())),
    });
    let v = verifier(racing);
    // Without a cache too: every question goes to the pinned state, not only the cache key.
    for v in [v, verifier_without_cache(Arc::clone(&live), after())] {
        let mixed = v.verify_chain(&chain).map(|a| a.agent().to_string());
        assert!(
            mixed.is_err(),
            "a verdict from two registry states: {mixed:?}"
        );
    }
}

/// A pinned state is the snapshot current when it was pinned, whatever syncs land after.
#[test]
fn a_pinned_state_stays_what_it_was() {
    let live = LiveView::new(before(), None);
    let pinned = live.pinned().unwrap();
    let before_id = pinned.state_id();
    live.replace(after());
    assert_eq!(pinned.state_id(), before_id);
    assert_ne!(live.state_id(), before_id);
    assert_eq!(live.pinned().unwrap().state_id(), live.state_id());
}

fn verifier_without_cache(live: Arc<LiveView>, next: Snapshot) -> Verifier {
    live.replace(before());
    let racing = Arc::new(SyncLandsMidVerification {
        live,
        next: Mutex::new(Some(next)),
    });
    Verifier::new(policy(0))
        .with_clock(Arc::new(FixedClock::new(t("2026-02-01T12:00:00Z"))))
        .with_registry(racing)
}
