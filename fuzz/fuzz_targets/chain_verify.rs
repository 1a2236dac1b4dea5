//! Chain parsing and verification (kya-verify) of arbitrary bytes.
//!
//! Asserts, for every chain that verifies: every link's proof is one of the vectors' own (no
//! forgery); the independent chain model holds (trusted root, issuer = parent's subject,
//! grants narrow, windows nest and cover now); it re-serialises in another layout and
//! re-verifies to the same chain digest; and, for the vectors' requests and variants, a
//! decision of allow implies every link allows.
#![no_main]
use kya_core::grant::Request;
use kya_core::json::{JsonLimits, parse_strict};
use kya_core::proof::PreparedProof;
use kya_fuzz::assert_known_signature;
use kya_fuzz::verify::{assert_agent_model, assert_decision_model, clock, now, policy};
use kya_verify::Verifier;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

fn requests() -> &'static [Request] {
    static R: OnceLock<Vec<Request>> = OnceLock::new();
    R.get_or_init(|| {
        let v = parse_strict(
            include_bytes!("../../test-vectors/kya/requests.json"),
            JsonLimits::default(),
        )
        .expect("requests.json");
        v["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Request::from_json_value(&c["request"]).ok())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let policy = policy();
    let verifier = Verifier::new(policy.clone()).with_clock(Arc::new(clock()));
    let Ok(agent) = verifier.verify_chain(data) else {
        return;
    };
    let Ok(Value::Array(links)) = parse_strict(data, JsonLimits::default()) else {
        panic!("a verified chain is a strict json array");
    };
    for link in &links {
        assert_known_signature(
            &PreparedProof::from_document(link).expect("a verified proof parses"),
        );
    }
    assert_agent_model(&agent, &policy, now());
    let pretty = serde_json::to_vec_pretty(&links).expect("pretty");
    let fresh = Verifier::new(policy).with_clock(Arc::new(clock()));
    let again = fresh
        .verify_chain(&pretty)
        .expect("a verified chain re-verifies");
    assert_eq!(again.chain_digest(), agent.chain_digest());
    // A cache hit gives the same answer as the first verification.
    let cached = verifier.verify_chain(data).expect("cached");
    assert_eq!(cached.chain_digest(), agent.chain_digest());
    for r in requests() {
        assert_decision_model(&agent, r, now());
    }
});
