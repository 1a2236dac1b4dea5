//! One Ed25519 acceptance rule on every kya-verify path. Keys with a torsion component and
//! signatures with edge cases (mixed-order `R`, small-order or non-canonical `R`, `S + L`, a
//! wrong `S`) are made by a signer that knows its secret, through the ordinary signing APIs,
//! and placed on each link of a chain, on a presentation proof and on a signed HTTP request.
//! The chain batch, the presentation (batched and cached), the HTTP gate (batched and cached)
//! and the single proof check must all reach kya's verdict (`kya_core::ed25519`), and name
//! the same signature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../kya-core/tests/support/edge.rs"]
mod edge;

use std::sync::Arc;

use common::verify_chain;
use common::{child_grant, now, root_grant, t, t0};
use edge::{Edge, EdgeSigner};
use kya_core::credential::{
    AgentAuthorization, AgentDelegation, NamedCredential, UnverifiedCredential, VerifiedCredential,
};
use kya_core::proof::{self, ProofOptions};
use kya_core::{Did, DidKey, Ed25519Signer, SignatureError};
use kya_verify::http::{
    ChainFrom, HttpError, HttpPolicy, HttpRequest, HttpVerifier, KyaGate, Refusal, RequestSigner,
    Route, SignOptions,
};
use kya_verify::{
    FixedClock, MemoryNonceStore, NonceQuotas, Policy, PresentationOptions, VerifyError, present,
};
use serde_json::Value;

const AUDIENCE: &str = "did:web:shop.example";

/// Signs with an ordinary proof, whatever the signature comes out as (a verifier must judge
/// it, not the builder).
fn sign_link(unsigned: &Value, signer: &dyn Ed25519Signer) -> Value {
    let options = ProofOptions::assertion(signer.public_key()).created(t0());
    proof::sign(unsigned, &options, signer).unwrap()
}

/// The same content signed honestly by the same key: a verified parent for the builder.
fn honest_link(unsigned: &Value, signer: &EdgeSigner) -> VerifiedCredential {
    UnverifiedCredential::from_value(sign_link(unsigned, &signer.honest()))
        .unwrap()
        .verify_proof()
        .unwrap()
}

fn digest_of(doc: &Value) -> kya_core::CredentialDigest {
    NamedCredential::new(UnverifiedCredential::from_value(doc.clone()).unwrap())
        .unwrap()
        .digest()
}

fn did(s: &EdgeSigner) -> DidKey {
    DidKey::from_public_key(s.public())
}

/// Four parties (principal, agent, sub-agent, sub-sub-agent), every key with a torsion
/// component; party `edge_at` puts `edge` in its signatures, the others sign honestly (with
/// a mixed-order `R` all the same). Parties 0–2 sign the chain's links, party 3 (the leaf
/// agent) signs presentations and requests.
fn parties(edge: Edge, edge_at: usize, t: usize) -> Vec<EdgeSigner> {
    (0..4)
        .map(|i| {
            let e = if i == edge_at {
                edge
            } else {
                Edge::MixedR((t + i) % 8)
            };
            EdgeSigner::new([i as u8 + 17; 32], (t + 2 * i + 1) % 8, e)
        })
        .collect()
}

/// Party 3 (the leaf agent) signing honestly: the same key as `parties(…)[3]`.
fn twin(t: usize) -> EdgeSigner {
    EdgeSigner::new([3 + 17; 32], (t + 2 * 3 + 1) % 8, Edge::MixedR(1))
}

fn chain(p: &[EdgeSigner]) -> Vec<Value> {
    let root = AgentAuthorization::builder(Did::Key(did(&p[0])), did(&p[1]))
        .id("urn:uuid:00000000-0000-4000-8000-000000000001")
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(root_grant())
        .build()
        .unwrap();
    let mut links = vec![sign_link(&root, &p[0])];
    let mut parent = honest_link(&root, &p[0]);
    for i in 1..3 {
        let mut unsigned = AgentDelegation::builder(&parent, did(&p[i + 1]))
            .unwrap()
            .id(format!("urn:uuid:00000000-0000-4000-8000-{:012}", i + 1))
            .grant(child_grant())
            .build()
            .unwrap();
        // Name the parent as signed (with its edge), not its honest twin.
        let real_parent = links.last().unwrap();
        unsigned["parentCredential"]["digestMultibase"] =
            digest_of(real_parent).to_multibase().into();
        links.push(sign_link(&unsigned, &p[i]));
        parent = honest_link(&unsigned, &p[i]);
    }
    links
}

fn policy(p: &[EdgeSigner], cache: usize) -> Policy {
    Policy::builder()
        .trust_root(Did::Key(did(&p[0])))
        .audience(AUDIENCE)
        .cache_capacity(cache)
        .build()
}

/// The verdict expected of a chain whose party `edge_at` made `edge`: which signature fails
/// (`Some(link)`, `None` for the presentation or request) and why.
fn expected(edge: Edge, edge_at: usize) -> Result<(), (Option<usize>, SignatureError)> {
    edge.verdict()
        .map_err(|e| ((edge_at < 3).then_some(edge_at), e))
}

/// A chain error as a verdict, checking the message says which check failed.
fn verdict(r: Result<impl Sized, VerifyError>) -> Result<(), (Option<usize>, String)> {
    r.map(|_| ()).map_err(|e| {
        assert_eq!(e.code(), "bad_signature", "{e}");
        (e.link(), e.to_string())
    })
}

#[track_caller]
fn assert_verdict(
    got: Result<(), (Option<usize>, String)>,
    want: Result<(), (Option<usize>, SignatureError)>,
    what: &str,
) {
    match (got, want) {
        (Ok(()), Ok(())) => {}
        (Err((link, msg)), Err((want_link, reason))) => {
            assert_eq!(link, want_link, "{what}: {msg}");
            let expected = match reason {
                SignatureError::Equation => "does not verify".to_owned(),
                other => other.to_string(),
            };
            assert!(
                msg.contains(&expected),
                "{what}: `{msg}` should say `{expected}`"
            );
        }
        (got, want) => panic!("{what}: got {got:?}, kya's rule says {want:?}"),
    }
}

fn every_edge() -> Vec<(Edge, usize, usize)> {
    let mut cases = Vec::new();
    for t in [0, 1, 2, 4, 7] {
        for edge in Edge::all(t) {
            for edge_at in 0..4 {
                cases.push((edge, edge_at, t));
            }
        }
    }
    cases
}

#[test]
fn chain_batch_and_single_proofs_agree_with_the_rule() {
    for (edge, edge_at, t) in every_edge() {
        let p = parties(edge, edge_at, t);
        let docs = chain(&p);
        let want = if edge_at < 3 {
            expected(edge, edge_at)
        } else {
            Ok(())
        };
        // Each link's single proof check.
        for (i, d) in docs.iter().enumerate() {
            let single = proof::verify(d).map(|_| ());
            assert_eq!(
                single.is_ok(),
                want.is_ok() || want.unwrap_err().0 != Some(i),
                "{edge:?} at {edge_at}, link {i}: {single:?}"
            );
        }
        // The chain's batch.
        let bytes = serde_json::to_vec(&docs).unwrap();
        let clock = FixedClock::new(now());
        assert_verdict(
            verdict(verify_chain(&bytes, &policy(&p, 0), &clock, None)),
            want,
            &format!("chain, {edge:?} at {edge_at}"),
        );
    }
}

#[test]
fn presentations_agree_with_the_rule_batched_and_cached() {
    for (edge, edge_at, t) in every_edge() {
        let p = parties(edge, edge_at, t);
        assert_eq!(twin(t).public(), p[3].public());
        let docs = chain(&p);
        let want = expected(edge, edge_at);
        let clock = FixedClock::new(now());
        for cache in [0, 16] {
            let policy = policy(&p, cache);
            let nonces = Arc::new(MemoryNonceStore::new(NonceQuotas::flat(100)));
            let verifier = kya_verify::Verifier::new(policy.clone())
                .with_clock(Arc::new(FixedClock::new(now())));
            let vp = |holder: &EdgeSigner, nonce: &str| {
                let options = PresentationOptions {
                    audience: AUDIENCE.into(),
                    nonce: nonce.into(),
                    created: now().add_seconds(-1),
                    expires: now().add_seconds(60),
                };
                let vp = present(&docs, holder, &options).unwrap();
                serde_json::to_vec(&vp).unwrap()
            };
            // A verifier without a cache (always the batch).
            let uncached = kya_verify::Verifier::new(policy.clone())
                .with_clock(Arc::new(FixedClock::new(kya_verify::Clock::now(&clock))))
                .with_nonce_store(nonces.clone());
            let uncached = (cache == 0).then_some(uncached);
            assert_verdict(
                verdict(
                    uncached
                        .as_ref()
                        .unwrap_or(&verifier)
                        .verify_presentation(&vp(&p[3], "n-0")),
                ),
                want,
                &format!("presentation, {edge:?} at {edge_at}"),
            );
            // Through a verifier: first a presentation by the leaf's honest twin (same key),
            // which caches the chain when it is valid and the cache is on; then the edge
            // case, whose proof is then checked alone (the single path) or in the batch.
            let chain_verdict = if edge_at < 3 { want } else { Ok(()) };
            let got = verdict(verifier.verify_presentation(&vp(&twin(t), "n-1")));
            assert_verdict(
                got,
                chain_verdict,
                &format!("verifier, twin (cache {cache}), {edge:?} at {edge_at}"),
            );
            let got = verdict(verifier.verify_presentation(&vp(&p[3], "n-2")));
            assert_verdict(
                got,
                want,
                &format!("verifier (cache {cache}), {edge:?} at {edge_at}"),
            );
        }
    }
}

fn http_policy() -> HttpPolicy {
    HttpPolicy::default()
        .authority("shop.example")
        .route(Route::new("/pay", "payments/send".parse().unwrap()))
}

fn signed_request(agent: &EdgeSigner, docs: &[Value], nonce: &str) -> HttpRequest {
    let chain = Value::Array(docs.to_vec());
    let signer = RequestSigner::new(agent, &chain).unwrap();
    let (_, mut request) = HttpRequest::from_url("POST", "https://shop.example/pay").unwrap();
    request = request
        .header("content-type", "application/json")
        .body(br#"{"order":"A-1001","amount":"9.99","currency":"USD"}"#.to_vec());
    let action = "payments/send".parse().unwrap();
    let amount = kya_verify::http::parse_amount_header("9.99 USD").unwrap();
    signer
        .sign(
            &mut request,
            &SignOptions {
                action: Some(&action),
                amount: Some(&amount),
                created: now().add_seconds(-1),
                expires: now().add_seconds(60),
                nonce,
            },
        )
        .unwrap();
    request
}

#[test]
fn signed_requests_agree_with_the_rule_batched_and_cached() {
    for (edge, edge_at, t) in every_edge() {
        let p = parties(edge, edge_at, t);
        let docs = chain(&p);
        let want = expected(edge, edge_at);
        for cache in [0, 16] {
            let verifier = kya_verify::Verifier::new(policy(&p, cache))
                .with_clock(Arc::new(FixedClock::new(now())))
                .with_nonce_store(Arc::new(MemoryNonceStore::new(NonceQuotas::flat(100))));
            let gate = KyaGate::new(Arc::new(verifier), http_policy());
            // First a request by the leaf's honest twin (same key): it verifies the chain
            // and the request signature in one batch, and caches the chain when it is valid
            // and the cache is on; then the edge case, whose signature is then checked alone
            // (the single path) or in the batch again.
            let chain_verdict = if edge_at < 3 { want } else { Ok(()) };
            for (signer, nonce, want) in [(&twin(t), "n-1", chain_verdict), (&p[3], "n-2", want)] {
                let got = gate.admit(&signed_request(signer, &docs, nonce));
                let what = format!("gate {nonce} (cache {cache}), {edge:?} at {edge_at}");
                match (&got, want) {
                    (Ok(_), Ok(())) => {}
                    (Err(Refusal::NotVerified(e)), Err((link, _))) => {
                        // A link's signature, or the request's own.
                        let code = if link.is_some() {
                            "bad_signature"
                        } else {
                            "signature_invalid"
                        };
                        assert!(
                            e.code() == code || e.code() == "bad_signature",
                            "{what}: {e}"
                        );
                    }
                    _ => panic!("{what}: got {got:?}, kya's rule says {want:?}"),
                }
            }
        }
        // The request signature on its own (`CheckedSignature::verify_signature`).
        let request = signed_request(&p[3], &docs, "n-3");
        let checked = HttpVerifier::new(http_policy())
            .check_request(&request, &policy(&p, 0), now(), ChainFrom::Headers)
            .unwrap();
        let alone = checked.verify_signature(&p[3].public());
        let want_alone = if edge_at == 3 { edge.verdict() } else { Ok(()) };
        match (alone, want_alone) {
            (Ok(()), Ok(())) | (Err(HttpError::SignatureInvalid), Err(_)) => {}
            (got, want) => {
                panic!("request signature alone, {edge:?} at {edge_at}: {got:?} vs {want:?}")
            }
        }
    }
}
