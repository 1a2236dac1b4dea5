//! A merchant's `minReputation`: on-chain feedback from the raters it trusts combined with
//! signed attestations from the attesters it trusts. Attestations by anyone else, about
//! another agent, expired, or forged are refused; one attester counts once however many
//! attestations it signs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use kya_core::credential::{self, ReputationAttestation};
use kya_core::{Did, SecretKey, Timestamp};
use kya_verify::reputation::ReputationRequirement;
use kya_verify::{Feedback, MemoryRegistry, Policy, Verifier};
use serde_json::Value;

const RATER: [u8; 20] = [0x77; 20];

fn attester(n: u8) -> SecretKey {
    key(40 + n)
}

fn attestation(by: &SecretKey, about: &SecretKey, value: i128, from: Timestamp) -> Value {
    let a = ReputationAttestation {
        id: kya_core::credential::new_credential_id(),
        issuer: Did::Key(did(by)),
        agent: did(about),
        valid_from: from,
        valid_until: Some(from.add_seconds(30 * 86_400)),
        registration: None,
        value,
        value_decimals: 0,
        tag1: "checkout".into(),
        tag2: String::new(),
        endpoint: None,
        status: Vec::new(),
    };
    credential::sign(a.to_unsigned().unwrap(), by, from)
        .unwrap()
        .document()
        .clone()
}

/// Agent(0), registered as agent 1, rated 60 on chain by the trusted rater.
fn verifier(min_count: u64, min_average: &str) -> (Verifier, kya_verify::VerifiedAgent) {
    let r = Arc::new(MemoryRegistry::new());
    r.add_agent(&registration(1), [0x11; 20], "https://agent.example/1.json");
    r.bind_agent_key(&registration(1), agent(0).public_key(), t0());
    r.add_feedback(
        &registration(1),
        Feedback {
            client: RATER,
            index: 1,
            value: 60,
            value_decimals: 0,
            tag1: "checkout".into(),
            tag2: String::new(),
            revoked: false,
        },
    );
    let policy = Policy::builder()
        .trust_root(Did::Key(did(&principal())))
        .audience("did:web:shop.example")
        .trust_rater(RATER)
        .min_reputation(ReputationRequirement {
            min_count,
            min_average: min_average.into(),
            trusted_attesters: vec![Did::Key(did(&attester(1))), Did::Key(did(&attester(2)))],
        })
        .build();
    let v = Verifier::new(policy)
        .with_clock(Arc::new(clock()))
        .with_registry(r);
    let agent = v.verify_chain(&bytes(&docs(&chain_with(1, true)))).unwrap();
    (v, agent)
}

#[test]
fn trusted_attestations_combine_with_onchain_feedback() {
    let (v, verified) = verifier(3, "80");
    let from = now().add_seconds(-3600);
    // On chain 60 alone: one rating, too few and too low.
    assert_err(
        v.check_reputation(&verified, &[]),
        "reputation_insufficient",
        None,
    );
    // 60 + 90 + 95 = 245 over 3: 81.66… ≥ 80.
    let report = v
        .check_reputation(
            &verified,
            &[
                attestation(&attester(1), &agent(0), 90, from),
                attestation(&attester(2), &agent(0), 95, from),
            ],
        )
        .unwrap();
    assert_eq!(report.count, 3);
    assert_eq!(report.attestations.len(), 2);
    assert!(report.onchain.is_some());
}

#[test]
fn one_attester_counts_once() {
    let (v, verified) = verifier(3, "80");
    let from = now().add_seconds(-3600);
    // Three attestations from one attester are one rating (its newest): 60 + 99 over 2.
    let e = assert_err(
        v.check_reputation(
            &verified,
            &[
                attestation(&attester(1), &agent(0), 99, from.add_seconds(-60)),
                attestation(&attester(1), &agent(0), 99, from),
                attestation(&attester(1), &agent(0), 99, from.add_seconds(-120)),
            ],
        ),
        "reputation_insufficient",
        None,
    );
    assert!(e.to_string().contains("over 2 ratings"), "{e}");
}

#[test]
fn attestations_that_cannot_count_are_refused() {
    let (v, verified) = verifier(1, "0");
    let from = now().add_seconds(-3600);
    let cases = [
        (
            "an untrusted attester",
            attestation(&attester(3), &agent(0), 100, from),
        ),
        (
            "about another agent",
            attestation(&attester(1), &agent(5), 100, from),
        ),
        (
            "expired",
            attestation(&attester(1), &agent(0), 100, t("2025-01-01T00:00:00Z")),
        ),
        (
            "not yet valid",
            attestation(&attester(1), &agent(0), 100, now().add_seconds(86_400)),
        ),
    ];
    for (what, doc) in cases {
        let e = assert_err(
            v.check_reputation(&verified, &[doc]),
            "attestation_refused",
            None,
        );
        assert!(e.to_string().contains("attestation [0]"), "{what}: {e}");
    }
    // A raised value without the attester's key: the proof no longer verifies.
    let mut forged = attestation(&attester(1), &agent(0), 10, from);
    forged["credentialSubject"]["value"] = Value::from("100");
    assert_err(
        v.check_reputation(&verified, &[forged]),
        "attestation_refused",
        None,
    );
}
