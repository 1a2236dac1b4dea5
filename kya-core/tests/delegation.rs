//! Delegation in the library: only the parent credential's subject can delegate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use kya_core::credential::{AgentAuthorization, AgentDelegation, CredentialError};
use kya_core::grant::{Action, Grant};
use kya_core::{Did, DidKey, SecretKey, Timestamp};

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}
fn did(k: &SecretKey) -> DidKey {
    DidKey::from_public_key(k.public_key())
}
fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}
fn grant(action: &str) -> Grant {
    Grant::unconstrained(Action::parse(action).unwrap())
}

#[test]
fn only_the_parent_subject_can_sign_a_delegation() {
    let (principal, agent, sub, thief) = (key(1), key(2), key(3), key(4));
    let root = AgentAuthorization::builder(Did::Key(did(&principal)), did(&agent))
        .valid_from(t("2026-01-01T00:00:00Z"))
        .valid_until(t("2026-12-31T00:00:00Z"))
        .grant(grant("payments"))
        .sign(&principal, t("2026-01-01T00:00:00Z"))
        .unwrap();
    let builder = AgentDelegation::builder(&root, did(&sub))
        .unwrap()
        .grant(grant("payments/send"));
    // Neither an outsider nor the parent's issuer (the principal) can delegate the agent's
    // authority; the sub-agent cannot delegate to itself.
    for (who, wrong) in [("thief", &thief), ("principal", &principal), ("sub", &sub)] {
        assert_eq!(
            builder.sign(wrong, t("2026-02-01T00:00:00Z")).unwrap_err(),
            CredentialError::DelegatorNotSubject {
                signer: did(wrong).to_string(),
                subject: did(&agent).to_string(),
            },
            "{who}"
        );
    }
    let err = builder
        .sign(&thief, t("2026-02-01T00:00:00Z"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "the key {} is not the parent credential's subject {}: only the subject can delegate",
            did(&thief),
            did(&agent)
        )
    );
    // The subject can.
    let d = builder.sign(&agent, t("2026-02-01T00:00:00Z")).unwrap();
    assert_eq!(d.kind().issuer(), Did::Key(did(&agent)));
    assert_eq!(*d.kind().subject(), did(&sub));
}

#[test]
fn a_did_key_issuer_signs_only_with_its_own_key() {
    let (principal, agent, other) = (key(1), key(2), key(5));
    let err = AgentAuthorization::builder(Did::Key(did(&principal)), did(&agent))
        .valid_from(t("2026-01-01T00:00:00Z"))
        .valid_until(t("2026-12-31T00:00:00Z"))
        .grant(grant("payments"))
        .sign(&other, t("2026-01-01T00:00:00Z"))
        .unwrap_err();
    assert_eq!(
        err,
        CredentialError::WrongSigner {
            signer: did(&other).to_string(),
            issuer: did(&principal).to_string(),
        }
    );
}
