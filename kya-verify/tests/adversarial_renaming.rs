//! A credential has one name: the digest of its JCS bytes, every one of which its proof
//! signs. Nobody without the issuer's key can give a signed credential a second name, so
//! revocations and ledger counters keyed by the name cannot be dodged by re-serialising.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use kya_core::credential::{CredentialError, UnverifiedCredential};
use kya_verify::{MemoryLedger, Verifier};
use serde_json::{Value, json};

fn registry() -> Arc<kya_verify::MemoryRegistry> {
    let r = Arc::new(kya_verify::MemoryRegistry::new());
    r.add_agent(&registration(1), [0x11; 20], "https://agent.example/1.json");
    r.bind_agent_key(&registration(1), agent(0).public_key(), t0());
    r
}

/// Every way to add bytes to a credential without its issuer's key.
fn renamings(doc: &Value) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let mut v = doc.clone();
    v["@context"]
        .as_array_mut()
        .unwrap()
        .push(json!("https://example.com/another-name"));
    out.push(("an appended @context url", v));
    let mut v = doc.clone();
    v["@context"]
        .as_array_mut()
        .unwrap()
        .push(json!({"AgentDelegation": "https://example.com/redefined"}));
    out.push(("an appended inline @context", v));
    let mut v = doc.clone();
    v["proof"]["@context"] = json!(["https://www.w3.org/ns/credentials/v2"]);
    out.push(("a shorter proof @context", v));
    let mut v = doc.clone();
    let pv = v["proof"]["proofValue"].as_str().unwrap().to_owned();
    v["proof"]["proofValue"] = json!(format!("z1{}", &pv[1..]));
    out.push(("a second spelling of the proof value", v));
    out
}

#[test]
fn a_credential_cannot_be_renamed_without_its_issuers_key() {
    let links = chain(2);
    let original = links[1].document();
    for (how, renamed) in renamings(original) {
        let parsed = UnverifiedCredential::from_value(renamed.clone());
        let refused = match parsed {
            Err(CredentialError::UnsignedContent) => true,
            Err(_) => true,
            Ok(c) => c.verify_proof().is_err(),
        };
        assert!(refused, "{how}: a second name for a signed credential");
        // Through the verifier too.
        let d = vec![links[0].document().clone(), renamed];
        assert!(
            verify_chain(&bytes(&d), &policy(), &clock(), None).is_err(),
            "{how}: verified under a new name"
        );
    }
}

#[test]
fn a_revoked_delegation_stays_revoked_however_it_is_reserialised() {
    // The revoked delegation is the leaf (as in the demo): no child names it by digest.
    let links = chain_with(2, true);
    let r = registry();
    // The registered agent revokes the delegation it issued (link 1).
    r.revoke(
        &registration(1),
        links[1].digest(),
        42,
        t("2026-01-15T00:00:00Z"),
    );
    let d = docs(&links);
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), Some(r.clone())),
        "revoked",
        Some(1),
    );
    for (how, renamed) in renamings(&d[1]) {
        let mut attempt = d.clone();
        attempt[1] = renamed;
        let e = verify_chain(&bytes(&attempt), &policy(), &clock(), Some(r.clone()))
            .expect_err("a renamed revoked delegation verified");
        assert_eq!(e.link(), Some(1), "{how}: {e}");
    }
    // Layout (whitespace, member order) never changes the name: still revoked.
    let pretty = serde_json::to_vec_pretty(&d).unwrap();
    assert_err(
        verify_chain(&pretty, &policy(), &clock(), Some(r.clone())),
        "revoked",
        Some(1),
    );
    // Nor does an escape JCS does not write (`\u0075` for `u`) in text otherwise in JCS
    // form, which the verifier must name from the written form, not from the bytes sent.
    let compact = String::from_utf8(bytes(&d)).unwrap();
    let escaped = compact.replace("\"urn:uuid:", "\"\\u0075rn:uuid:");
    assert_ne!(
        escaped, compact,
        "the chain has urn:uuid ids to spell otherwise"
    );
    assert_err(
        verify_chain(escaped.as_bytes(), &policy(), &clock(), Some(r.clone())),
        "revoked",
        Some(1),
    );
}

#[test]
fn a_spent_budget_is_not_reset_by_reserialising() {
    let links = chain(2);
    let budgeted = grant(
        r#"{"action": "payments/send", "maxAmount": {"value": "25.00", "asset": "USD"},
            "audience": ["did:web:shop.example"],
            "budget": {"value": "25.00", "asset": "USD", "periodSeconds": 86400}}"#,
    );
    let leaf = kya_core::credential::AgentDelegation::builder(&links[0], did(&agent(1)))
        .unwrap()
        .grant(budgeted)
        .sign(&agent(0), t0())
        .unwrap();
    let d = vec![links[0].document().clone(), leaf.document().clone()];
    let verifier = Verifier::new(policy())
        .with_clock(Arc::new(clock()))
        .with_ledger(Arc::new(MemoryLedger::default()));
    let spend = request(
        r#"{"action": "payments/send", "amount": {"value": "25.00", "asset": "USD"},
            "audience": "did:web:shop.example", "time": "2026-02-01T12:00:00Z"}"#,
    );
    let agent = verifier.verify_chain(&bytes(&d)).unwrap();
    assert!(verifier.decide(&agent, &spend).unwrap().is_allowed());
    assert_eq!(
        verifier.decide(&agent, &spend).unwrap().codes(),
        [kya_verify::Code::BudgetExhausted]
    );
    for (how, renamed) in renamings(&d[1]) {
        let attempt = vec![d[0].clone(), renamed];
        match verifier.verify_chain(&bytes(&attempt)) {
            Err(_) => {}
            Ok(agent) => {
                let decision = verifier.decide(&agent, &spend).unwrap();
                assert!(!decision.is_allowed(), "{how}: the budget was reset");
            }
        }
    }
    let pretty = serde_json::to_vec_pretty(&d).unwrap();
    let again = verifier.verify_chain(&pretty).unwrap();
    assert_eq!(again.chain()[1].digest(), leaf.digest());
    assert!(!verifier.decide(&again, &spend).unwrap().is_allowed());
}
