//! kya's one Ed25519 acceptance rule, differentially: the same signature fed to every path.
//!
//! Input: either raw bytes (a key, a signature and a message: mostly refused, which is the
//! point for the encoding checks), or a signature made on purpose by a signer that knows
//! its secret and puts torsion in its key or `R`, a small-order or non-canonical `R`,
//! `S + L` or a wrong `S` — then maybe one byte flipped.
//!
//! Asserts: `verify_bytes`, `decode_key` + `PublicKey::verify`, `PreparedSignature`, the
//! batch (its equation alone and with its fallback) at the fuzzer's position among valid
//! signatures, and — for a made signature over a document — the Data Integrity proof, a
//! one-link chain's batch, a presentation and a signed HTTP request all reach the same
//! verdict; an unflipped made signature gets the verdict its kind must get.
#![no_main]

#[path = "../../kya-core/tests/support/edge.rs"]
mod edge;

use std::sync::Arc;

use arbitrary::Arbitrary;
use ed25519_dalek::Signer as _;
use edge::{Edge, EdgeSigner};
use kya_core::credential::{AgentAuthorization, UnverifiedCredential};
use kya_core::ed25519::{self, PreparedSignature};
use kya_core::proof::{self, PreparedProof, ProofOptions};
use kya_core::{Did, DidKey, Ed25519Signer, SecretKey, SignatureError};
use kya_fuzz::verify::{AUDIENCE, now};
use kya_verify::http::{
    ChainFrom, HttpPolicy, HttpRequest, HttpVerifier, KyaGate, RequestSigner, Route, SignOptions,
};
use kya_verify::{
    FixedClock, MemoryNonceStore, NonceQuotas, Policy, PresentationOptions, Verifier, present,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    Raw {
        key: [u8; 32],
        signature: [u8; 64],
        message: Vec<u8>,
        position: u8,
    },
    Made {
        seed: [u8; 32],
        key_torsion: u8,
        kind: u8,
        torsion: u8,
        flip: Option<(u8, u8)>,
        position: u8,
        through_documents: bool,
    },
}

fn edge_of(kind: u8, t: usize) -> Edge {
    match kind % 5 {
        0 => Edge::MixedR(t),
        1 => Edge::SPlusL,
        2 => Edge::SmallR(t),
        3 => Edge::NonCanonicalR,
        _ => Edge::WrongS,
    }
}

/// Every kya-core path's verdict on raw inputs; asserts they agree and returns it.
fn core_verdict(
    key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
    position: u8,
) -> Result<(), SignatureError> {
    let single = ed25519::verify_bytes(key, message, signature);
    let Ok(public) = ed25519::decode_key(key) else {
        assert!(single.is_err());
        assert!(kya_core::PublicKey::from_bytes(key).is_err());
        return single;
    };
    let sig = ed25519_dalek::Signature::from_bytes(signature);
    assert_eq!(public.verify(message, &sig), single);
    let prepared = PreparedSignature::new(&public, message, &sig);
    let Ok(item) = prepared else {
        assert_eq!(prepared.map(|_| ()), single);
        return single;
    };
    assert_eq!(item.verify(), single);
    // In a batch of valid signatures, at the fuzzer's position.
    let size = 2 + usize::from(position % 4);
    let at = usize::from(position / 4) % size;
    let mut items: Vec<PreparedSignature> = (0..size - 1)
        .map(|i| {
            let k = SecretKey::from_seed(&[i as u8 + 40; 32]);
            PreparedSignature::new(&k.public_key(), b"honest", &k.sign(b"honest")).expect("honest")
        })
        .collect();
    items.insert(at, item);
    assert_eq!(ed25519::batch_equation_holds(&items), single.is_ok());
    match ed25519::verify_batch(&items) {
        Ok(()) => assert_eq!(single, Ok(())),
        Err(e) => {
            assert_eq!(e.index, at);
            assert_eq!(Err(e.error), single);
        }
    }
    single
}

/// A made signature over each document path's own message: a one-link chain signed by
/// `signer` (whose subject is the signer too, so that it may present and sign requests), a
/// presentation of it and a signed request carrying it. Each path's verdict must be the
/// core rule's on the message that path signs.
fn document_paths(signer: &FlippingSigner<'_>) {
    let rule = |message: &[u8], signature: &ed25519_dalek::Signature| {
        ed25519::verify(&signer.public_key(), message, signature).is_ok()
    };
    let me = DidKey::from_public_key(signer.public_key());
    let from = now().add_seconds(-86_400);
    let unsigned = AgentAuthorization::builder(Did::Key(me), me)
        .id("urn:uuid:00000000-0000-4000-8000-000000000001")
        .valid_from(from)
        .valid_until(now().add_seconds(86_400))
        .grant(serde_json::from_str(r#"{"action": "payments"}"#).expect("grant"))
        .build()
        .expect("unsigned");
    let options = ProofOptions::assertion(signer.public_key()).created(from);
    let secured = proof::sign(&unsigned, &options, signer).expect("signed");
    let p = PreparedProof::from_document(&secured).expect("own proof parses");
    let link_ok = rule(&p.message, &p.signature);
    assert_eq!(proof::verify(&secured).is_ok(), link_ok, "proof");
    let credential = UnverifiedCredential::from_value(secured.clone()).expect("credential");
    assert_eq!(credential.verify_proof().is_ok(), link_ok, "credential");
    let policy = Policy::builder()
        .trust_root(Did::Key(me))
        .audience(AUDIENCE)
        .cache_capacity(0)
        .build();
    let verifier = |nonces: usize| {
        Verifier::new(policy.clone())
            .with_clock(Arc::new(FixedClock::new(now())))
            .with_nonce_store(Arc::new(MemoryNonceStore::new(NonceQuotas::flat(nonces))))
    };
    let chain = vec![secured];
    let bytes = serde_json::to_vec(&chain).expect("json");
    assert_eq!(verifier(10).verify_chain(&bytes).is_ok(), link_ok, "chain");

    // A presentation of that chain: two signatures by the same signer in one batch.
    let options = PresentationOptions {
        audience: AUDIENCE.to_owned(),
        nonce: "nonce-1".to_owned(),
        created: now().add_seconds(-1),
        expires: now().add_seconds(60),
    };
    let vp = present(&chain, signer, &options).expect("presentation");
    let vp_proof = PreparedProof::from_document(&vp).expect("own proof parses");
    let vp_ok = rule(&vp_proof.message, &vp_proof.signature);
    let vp = serde_json::to_vec(&vp).expect("json");
    assert_eq!(
        verifier(10).verify_presentation(&vp).is_ok(),
        link_ok && vp_ok,
        "presentation"
    );

    // A signed request carrying that chain: on its own, and through the gate.
    let request_signer =
        RequestSigner::new(signer, &serde_json::Value::Array(chain)).expect("signer");
    let (_, mut request) = HttpRequest::from_url("POST", "https://shop.example/pay").expect("url");
    request = request.body(b"{}".to_vec());
    let sign_options = SignOptions {
        action: None,
        amount: None,
        created: now().add_seconds(-1),
        expires: now().add_seconds(60),
        nonce: "nonce-2",
    };
    request_signer
        .sign(&mut request, &sign_options)
        .expect("sign");
    let http = || {
        HttpPolicy::default()
            .authority("shop.example")
            .route(Route::new("/pay", "payments/send".parse().expect("action")))
    };
    let checked = HttpVerifier::new(http())
        .check_request(&request, &policy, now(), ChainFrom::Headers)
        .expect("checked");
    let request_ok = rule(checked.signature_base(), checked.signature());
    assert_eq!(
        checked.verify_signature(&signer.public_key()).is_ok(),
        request_ok,
        "request signature"
    );
    let gate = KyaGate::new(Arc::new(verifier(10)), http());
    match gate.admit(&request) {
        Err(kya_verify::http::Refusal::NotVerified(e))
            if matches!(e.code().as_str(), "bad_signature" | "signature_invalid") =>
        {
            assert!(
                !(link_ok && request_ok),
                "gate refused signatures the rule accepts: {e}"
            );
        }
        // Admitted, or refused for a reason that is not a signature (a decision, say):
        // the signatures passed.
        _ => assert!(
            link_ok && request_ok,
            "gate passed a signature the rule refuses"
        ),
    }
}

/// An edge signer whose signatures get one byte flipped (or none).
struct FlippingSigner<'a> {
    inner: &'a EdgeSigner,
    flip: Option<(usize, u8)>,
}

impl ed25519_dalek::Signer<ed25519_dalek::Signature> for FlippingSigner<'_> {
    fn try_sign(
        &self,
        message: &[u8],
    ) -> Result<ed25519_dalek::Signature, ed25519_dalek::SignatureError> {
        let mut sig = self.inner.sign_edge(message);
        if let Some((at, bits)) = self.flip {
            sig[at % 64] ^= bits;
        }
        Ok(ed25519_dalek::Signature::from_bytes(&sig))
    }
}

impl Ed25519Signer for FlippingSigner<'_> {
    fn public_key(&self) -> kya_core::PublicKey {
        self.inner.public()
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw {
            key,
            signature,
            message,
            position,
        } => {
            let _ = core_verdict(&key, &message, &signature, position);
        }
        Input::Made {
            seed,
            key_torsion,
            kind,
            torsion,
            flip,
            position,
            through_documents,
        } => {
            let edge = edge_of(kind, usize::from(torsion % 8));
            let inner = EdgeSigner::new(seed, usize::from(key_torsion % 8), edge);
            let flip = flip
                .filter(|(_, bits)| *bits != 0)
                .map(|(at, bits)| (usize::from(at), bits));
            let signer = FlippingSigner {
                inner: &inner,
                flip,
            };
            let message = b"kya ed25519 paths";
            let signature = signer.try_sign(message).expect("infallible").to_bytes();
            let got = core_verdict(&inner.public_key_bytes(), message, &signature, position);
            if flip.is_none() {
                assert_eq!(got, edge.verdict(), "{edge:?}");
            }
            if through_documents {
                document_paths(&signer);
            }
        }
    }
});
