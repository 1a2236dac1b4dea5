//! test-vectors/kya: chains.json and requests.json, reproduced exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::verify_chain;
use std::path::PathBuf;

use kya_core::Timestamp;
use kya_core::grant::Request;
use kya_verify::{FixedClock, Policy};
use serde_json::Value;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/kya")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(vectors().join(name)).unwrap()
}

fn policy() -> Policy {
    let keys: Value = serde_json::from_slice(&read("keys.json")).unwrap();
    let principal = keys["principal"]["did"].as_str().unwrap().parse().unwrap();
    Policy::builder().trust_root(principal).build()
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn chains_json_verdicts() {
    let cases: Value = serde_json::from_slice(&read("chains.json")).unwrap();
    let clock = FixedClock::new(t("2026-02-01T12:00:00Z"));
    let policy = policy();
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 9);
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let result = verify_chain(&read(file), &policy, &clock, None);
        if case["valid"].as_bool().unwrap() {
            let agent = result.unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(agent.chain().len(), agent.chain().len());
        } else {
            let err = match result {
                Ok(_) => panic!("{file}: verified, expected {}", case["code"]),
                Err(e) => e,
            };
            assert_eq!(err.code(), case["code"].as_str().unwrap(), "{file}: {err}");
            assert_eq!(
                err.link(),
                case["link"].as_u64().map(|l| l as usize),
                "{file}: {err}"
            );
        }
    }
}

#[test]
fn requests_json_decisions() {
    let doc: Value = serde_json::from_slice(&read("requests.json")).unwrap();
    let chain = read(doc["chain"].as_str().unwrap());
    let clock = FixedClock::new(t("2026-02-01T12:00:00Z"));
    let agent = verify_chain(&chain, &policy(), &clock, None).unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let request = Request::from_json_value(&case["request"]).unwrap();
        let now = request.time;
        // The verdict of a verifier that meters (an empty ledger per request).
        let ledger = kya_verify::MemoryLedger::default();
        let decision = agent.decide_with_ledger(&request, now, &ledger).unwrap();
        assert_eq!(
            decision.is_allowed(),
            case["allow"].as_bool().unwrap(),
            "{name}: {}",
            decision.explain()
        );
        let mut expected: Vec<&str> = case
            .get("codes")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|c| c.as_str().unwrap()).collect())
            .unwrap_or_default();
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(decision.codes(), expected, "{name}: {}", decision.explain());
        // Every reason names its link; grant violations name their grant.
        for r in decision.reasons() {
            assert!(r.link.is_some(), "{name}: {r:?}");
        }
        let json = serde_json::to_value(&decision).unwrap();
        assert_eq!(json["allow"], case["allow"]);
    }
}
