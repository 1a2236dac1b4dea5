//! Worst cases under the verifier's default limits (see `docs/limits.md`): the largest chain
//! the limits admit verifies and decides, and the quadratic corner of attenuation (long
//! allow-lists on both sides) stays linear in its report. Counts and refusals only, no
//! timing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::verify_chain;
use kya_core::credential::{self, AgentAuthorization, AgentDelegation, VerifiedCredential};
use kya_core::grant::{Grant, Request};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_verify::{FixedClock, Limits, Policy};
use serde_json::{Value, json};

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}
fn did(n: u8) -> DidKey {
    DidKey::from_public_key(key(n).public_key())
}
fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}
fn policy() -> Policy {
    Policy::builder().trust_root(Did::Key(did(1))).build()
}
fn clock() -> FixedClock {
    FixedClock::new(t("2026-02-01T12:00:00Z"))
}
fn grant(v: Value) -> Grant {
    Grant::from_json_value(&v).unwrap()
}
fn root(grants: Vec<Grant>) -> VerifiedCredential {
    AgentAuthorization::builder(Did::Key(did(1)), did(2))
        .id("urn:uuid:00000000-0000-4000-8000-000000000001")
        .valid_from(t("2026-01-01T00:00:00Z"))
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grants(grants)
        .sign(&key(1), t("2026-01-01T00:00:00Z"))
        .unwrap()
}
fn bytes(links: &[Value]) -> Vec<u8> {
    serde_json::to_vec(links).unwrap()
}

#[test]
fn the_largest_chain_the_default_limits_admit_verifies_and_decides() {
    let limits = Limits::default();
    assert_eq!(
        (
            limits.max_input_bytes,
            limits.max_chain_depth,
            limits.max_grants_per_credential,
            limits.max_total_grants
        ),
        (64 * 1024, 8, 32, 128)
    );
    let per_link = limits.max_total_grants / limits.max_chain_depth; // 16
    let grants: Vec<Grant> = (0..per_link)
        .map(|i| grant(json!({"action": format!("payments/a{i}"), "maxAmount": {"value": "10", "asset": "USD"}})))
        .collect();
    let mut links = vec![root(grants.clone())];
    for i in 1..limits.max_chain_depth {
        let parent = links.last().unwrap();
        let d = AgentDelegation::builder(parent, did(2 + i as u8))
            .unwrap()
            .id(format!("urn:uuid:00000000-0000-4000-8000-{:012}", i + 1))
            .grants(grants.clone())
            .sign(&key(1 + i as u8), t("2026-01-01T00:00:00Z"))
            .unwrap();
        links.push(d);
    }
    let docs: Vec<Value> = links.iter().map(|c| c.document().clone()).collect();
    let input = bytes(&docs);
    assert!(
        input.len() <= limits.max_input_bytes,
        "{} bytes",
        input.len()
    );
    let agent = verify_chain(&input, &policy(), &clock(), None).unwrap();
    assert_eq!(agent.chain().len(), limits.max_chain_depth);
    assert_eq!(
        agent
            .chain()
            .iter()
            .map(|l| l.grants().len())
            .sum::<usize>(),
        limits.max_total_grants
    );
    let request: Request = serde_json::from_value(json!({
        "action": "payments/a15", "amount": {"value": "5", "asset": "USD"},
        "time": "2026-02-01T12:00:00Z"
    }))
    .unwrap();
    let decision = agent.decide(&request, t("2026-02-01T12:00:00Z"));
    assert!(decision.is_allowed(), "{}", decision.explain());
    assert_eq!(decision.links().len(), limits.max_chain_depth);
}

/// A malicious sub-agent holding the agent key signs a delegation whose audience repeats the
/// parent's one allowed entry 2000 times, then one below it with 2000 entries outside it:
/// the check is 4·10⁶ comparisons, and (since the kya-core fix) one widening, not 2000
/// copies of the parent's list (which cost ~220 MB).
#[test]
fn long_allow_lists_on_both_sides_of_a_link_stay_bounded() {
    let n = 2000;
    let r = root(vec![grant(
        json!({"action": "payments", "audience": ["did:web:shop.example"]}),
    )]);
    let wide = grant(json!({"action": "payments", "audience": vec!["did:web:shop.example"; n]}));
    let d1 = AgentDelegation::builder(&r, did(3))
        .unwrap()
        .id("urn:uuid:00000000-0000-4000-8000-000000000002")
        .grant(wide)
        .sign(&key(2), t("2026-01-01T00:00:00Z"))
        .unwrap();
    let mut d2 = AgentDelegation::builder(&d1, did(4))
        .unwrap()
        .id("urn:uuid:00000000-0000-4000-8000-000000000003")
        .grant(grant(
            json!({"action": "payments", "audience": ["did:web:shop.example"]}),
        ))
        .build()
        .unwrap();
    d2["credentialSubject"]["grants"] = json!([{"action": "payments", "audience": vec!["x"; n]}]);
    let d2 = credential::sign(d2, &key(3), t("2026-01-01T00:00:00Z")).unwrap();
    let input = bytes(&[
        r.document().clone(),
        d1.document().clone(),
        d2.document().clone(),
    ]);
    assert!(
        input.len() <= Limits::default().max_input_bytes,
        "{} bytes",
        input.len()
    );
    let e = verify_chain(&input, &policy(), &clock(), None).unwrap_err();
    assert_eq!(
        (e.code().as_str(), e.link()),
        ("grant_widened", Some(2)),
        "{e}"
    );
    // The explanation names one offending entry, not two thousand.
    assert!(
        e.to_string().len() < 64 * 1024,
        "{} bytes of explanation",
        e.to_string().len()
    );
}

/// The worst case an *untrusted* sender can buy: the same quadratic chain as above (about
/// 4·10⁶ allow-list comparisons when narrowing runs), self-signed by a principal the policy
/// does not trust. Trust is checked before signatures and narrowing, so the refusal costs
/// the parse and the canonical hashing alone; the test measures both cases (printed, not
/// asserted: figures come from benchmarks) and asserts which check refused.
#[test]
fn an_expensive_untrusted_chain_is_refused_before_the_costly_steps() {
    // Parent and child allow the same 1400 audiences, the child in reverse order: every
    // child entry is found only after scanning the parent's list (n²/2 comparisons).
    let n = 1400;
    let stranger = 9u8;
    let audiences: Vec<String> = (0..n).map(|i| format!("did:web:{i}.x")).collect();
    let reversed: Vec<String> = audiences.iter().rev().cloned().collect();
    let r = AgentAuthorization::builder(Did::Key(did(stranger)), did(2))
        .id("urn:uuid:00000000-0000-4000-8000-000000000001")
        .valid_from(t("2026-01-01T00:00:00Z"))
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(grant(json!({"action": "payments", "audience": audiences})))
        .sign(&key(stranger), t("2026-01-01T00:00:00Z"))
        .unwrap();
    let d1 = AgentDelegation::builder(&r, did(3))
        .unwrap()
        .id("urn:uuid:00000000-0000-4000-8000-000000000002")
        .grant(grant(json!({"action": "payments", "audience": reversed})))
        .sign(&key(2), t("2026-01-01T00:00:00Z"))
        .unwrap();
    let input = bytes(&[r.document().clone(), d1.document().clone()]);
    assert!(
        input.len() <= Limits::default().max_input_bytes,
        "{} bytes",
        input.len()
    );

    let fastest = |policy: &Policy| {
        (0..3)
            .map(|_| {
                let started = std::time::Instant::now();
                let result = verify_chain(&input, policy, &clock(), None);
                (started.elapsed(), result)
            })
            .min_by_key(|(elapsed, _)| *elapsed)
            .unwrap()
    };
    let (untrusted, result) = fastest(&policy());
    let e = result.unwrap_err();
    assert_eq!(e.code().as_str(), "untrusted_root", "{e}");
    let trusting = Policy::builder()
        .trust_root(Did::Key(did(stranger)))
        .build();
    let (trusted, result) = fastest(&trusting);
    assert!(
        result.is_ok(),
        "the same chain, trusted, verifies: {:?}",
        result.err()
    );
    eprintln!(
        "worst case of {} bytes: refused untrusted in {untrusted:?}, verified (narrowing included) when trusted in {trusted:?}",
        input.len()
    );
}
