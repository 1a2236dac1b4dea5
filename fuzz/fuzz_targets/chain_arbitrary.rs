//! Structure-aware chains: one to four links signed with the vector keys, with arbitrary
//! grants (narrowings or not), windows, and corruptions (wrong issuer or signer, wrong
//! parent digest, widened grants, windows that do not nest, swapped links, edits).
//!
//! Asserts: a chain that verifies satisfies the independent chain model (so a sub-agent
//! never gets wider grants or a longer life than its parent, whatever it signs); an honestly
//! made chain verifies (no false refusals); for arbitrary requests, a decision of allow
//! implies every link allows the request.
#![no_main]
use std::sync::Arc;

use arbitrary::Unstructured;
use kya_fuzz::arb_request;
use kya_fuzz::verify::{arb_chain, assert_agent_model, assert_decision_model, clock, now, policy};
use kya_verify::Verifier;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(generated) = arb_chain(&mut u) else {
        return;
    };
    let bytes = serde_json::to_vec(&generated.links).expect("serialise");
    let policy = policy();
    let verifier = Verifier::new(policy.clone()).with_clock(Arc::new(clock()));
    let result = verifier.verify_chain(&bytes);
    let agent = match result {
        Ok(agent) => agent,
        Err(e) => {
            assert!(
                !generated.honest,
                "an honest chain was refused: {e} ({})\n{}",
                e.code(),
                String::from_utf8_lossy(&bytes)
            );
            return;
        }
    };
    assert_agent_model(&agent, &policy, now());
    for _ in 0..4 {
        let Ok(r) = arb_request(&mut u) else { break };
        assert_decision_model(&agent, &r, now());
    }
});
