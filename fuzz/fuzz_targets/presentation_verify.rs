//! Presentations: the agent signs its chain for an audience, a nonce and a window; the
//! fuzzer picks the chain, window, audience and nonce, then may tamper with the result.
//!
//! Asserts: an accepted presentation carries the holder proof that was made (any edit to
//! signed content is refused), its holder is the chain's agent, its window obeys the policy,
//! and it is accepted once only: replaying it to the same verifier is refused
//! (`nonce_replayed`). Arbitrary bytes never panic the verifier either.
#![no_main]
use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use kya_core::Timestamp;
use kya_core::proof::PreparedProof;
use kya_fuzz::verify::{AUDIENCE, clock, now, policy};
use kya_fuzz::{CHAIN_VECTORS, ROOMY, arb_edit, vector_key};
use kya_verify::{MemoryNonceStore, NonceQuotas, PresentationOptions, Verifier, present};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let verifier = || {
        Verifier::new(policy())
            .with_clock(Arc::new(clock()))
            .with_nonce_store(Arc::new(MemoryNonceStore::new(NonceQuotas::flat(1024))))
    };
    let mut u = Unstructured::new(data);
    let Ok(raw) = bool::arbitrary(&mut u) else {
        return;
    };
    if raw {
        // Unstructured bytes: must be refused without a panic.
        let _ = verifier().verify_presentation(u.take_rest());
        return;
    }
    // valid-1..3: leaf agents are keys 2, 3 and 4.
    let Ok(which) = u.int_in_range(0..=2u8) else {
        return;
    };
    let Ok(chain) = kya_core::json::parse_strict(CHAIN_VECTORS[usize::from(which)], ROOMY) else {
        return;
    };
    let Value::Array(chain) = chain else { return };
    let holder = if u.ratio(1, 8).unwrap_or(false) {
        6
    } else {
        which + 2
    };
    let audience = if u.ratio(1, 8).unwrap_or(false) {
        "did:web:other.example"
    } else {
        AUDIENCE
    };
    let nonce = String::arbitrary(&mut u).unwrap_or_default();
    let created = now().unix() + i64::from(u.int_in_range(-400i16..=400).unwrap_or(0));
    let expires = created + i64::from(u.int_in_range(-10i16..=600).unwrap_or(60));
    let (Some(c), Some(e)) = (Timestamp::from_unix(created), Timestamp::from_unix(expires)) else {
        return;
    };
    let options = PresentationOptions {
        audience: audience.to_owned(),
        nonce: nonce.clone(),
        created: c,
        expires: e,
    };
    let Ok(original) = present(&chain, &vector_key(holder), &options) else {
        return;
    };
    let mut doc = original.clone();
    let tampered = u.ratio(1, 2).unwrap_or(false);
    if tampered {
        for _ in 0..u.int_in_range(1..=3u8).unwrap_or(1) {
            if arb_edit(&mut u, &mut doc).is_err() {
                break;
            }
        }
    }
    let bytes = serde_json::to_vec(&doc).expect("serialise");
    let v = verifier();
    let Ok(agent) = v.verify_presentation(&bytes) else {
        return;
    };
    let made = PreparedProof::from_document(&original).expect("own proof");
    let got = PreparedProof::from_document(&doc).expect("accepted proof parses");
    assert_eq!(
        got.message, made.message,
        "an edit to signed content was accepted"
    );
    assert_eq!(got.signature.to_bytes(), made.signature.to_bytes());
    assert_eq!(
        holder,
        which + 2,
        "a presentation by another key than the agent's was accepted"
    );
    assert_eq!(
        audience, AUDIENCE,
        "a presentation for another audience was accepted"
    );
    assert_eq!(agent.agent().public_key(), vector_key(holder).public_key());
    let p = policy();
    assert!(expires >= created && expires - created <= p.max_window_secs());
    assert!(created <= now().unix() + p.clock_skew_secs());
    assert!(expires >= now().unix() - p.clock_skew_secs());
    let replay = v
        .verify_presentation(&bytes)
        .expect_err("a replayed presentation was accepted");
    assert_eq!(replay.code(), "nonce_replayed");
});
