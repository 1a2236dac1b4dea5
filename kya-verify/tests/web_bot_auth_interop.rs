//! kya's signed requests and Cloudflare's `web-bot-auth` crate understand each other: a
//! request kya signs verifies with the crate's Web Bot Auth verifier, and a request the
//! crate signs verifies with kya.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use kya_core::credential::AgentAuthorization;
use kya_core::grant::{Action, Amount, Asset, Grant, Money};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_verify::http::{
    ChainFrom, ChainRef, HttpError, HttpPolicy, HttpRequest, HttpVerifier, RequestSigner,
    SignOptions, content_digest, jwk_thumbprint,
};
use serde_json::Value;
use web_bot_auth::WebBotAuthVerifier;
use web_bot_auth::components::{
    CoveredComponent, DerivedComponent, HTTPField, HTTPFieldParametersSet,
};
use web_bot_auth::keyring::{Algorithm, KeyRing};
use web_bot_auth::message_signatures::{MessageSigner, SignedMessage, UnsignedMessage};

fn merchant_policy() -> kya_verify::Policy {
    kya_verify::Policy::builder()
        .audience("did:web:shop.example")
        .build()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn chain(principal: &SecretKey, agent: &SecretKey) -> Value {
    let grant = Grant::builder(Action::parse("payments").unwrap())
        .max_amount(Amount::parse("100").unwrap(), Asset::parse("USD").unwrap())
        .build()
        .unwrap();
    let start = Timestamp::now().add_seconds(-60);
    let credential = AgentAuthorization::builder(
        Did::Key(DidKey::from_public_key(principal.public_key())),
        DidKey::from_public_key(agent.public_key()),
    )
    .valid_from(start)
    .valid_until(start.add_seconds(3600))
    .grant(grant)
    .sign(principal, start)
    .unwrap();
    Value::Array(vec![credential.document().clone()])
}

fn kya_signed(agent: &SecretKey) -> HttpRequest {
    let principal = SecretKey::from_seed(&[1; 32]);
    let signer = RequestSigner::new(agent, &chain(&principal, agent)).unwrap();
    let (_, mut request) = HttpRequest::from_url("POST", "https://shop.example/pay").unwrap();
    request = request.body(br#"{"item":"book"}"#.to_vec());
    let t = now();
    let amount = Money::new(
        Amount::parse("12.50").unwrap(),
        Asset::parse("USD").unwrap(),
    );
    signer
        .sign(
            &mut request,
            &SignOptions {
                action: Some(&Action::parse("payments/send").unwrap()),
                amount: Some(&amount),
                created: kya_core::Timestamp::from_unix(t).unwrap(),
                expires: kya_core::Timestamp::from_unix(t + 60).unwrap(),
                nonce: &RequestSigner::random_nonce(),
            },
        )
        .unwrap();
    request
}

#[test]
fn a_request_signed_by_kya_verifies_with_web_bot_auth() {
    let agent = SecretKey::from_seed(&[2; 32]);
    let request = kya_signed(&agent);
    let keyid = jwk_thumbprint(&agent.public_key());

    let mut keyring = KeyRing::default();
    keyring.import_raw(
        keyid.clone(),
        Algorithm::Ed25519,
        agent.public_key().to_bytes().to_vec(),
    );
    let verifier = WebBotAuthVerifier::parse(&request).unwrap();
    let details = &verifier.get_parsed_label().base.parameters.details;
    assert_eq!(details.keyid.as_deref(), Some(keyid.as_str()));
    assert_eq!(details.tag.as_deref(), Some("web-bot-auth"));
    assert_eq!(details.algorithm, Some(Algorithm::Ed25519));
    let advisory = details.possibly_insecure(|_| false);
    assert_eq!(advisory.is_expired, Some(false));
    verifier.verify(&keyring, None).unwrap();

    // And kya agrees.
    let kya = HttpVerifier::new(HttpPolicy::default());
    let checked = kya
        .check_request(
            &request,
            &merchant_policy(),
            kya_core::Timestamp::from_unix(now()).unwrap(),
            ChainFrom::Headers,
        )
        .unwrap();
    checked.verify_signature(&agent.public_key()).unwrap();

    // A changed covered header breaks both.
    let mut tampered = request.clone();
    for (name, value) in &mut tampered.headers {
        if name.eq_ignore_ascii_case("kya-amount") {
            *value = "99.00 USD".to_owned();
        }
    }
    assert!(
        WebBotAuthVerifier::parse(&tampered)
            .unwrap()
            .verify(&keyring, None)
            .is_err()
    );
    let checked = kya
        .check_request(
            &tampered,
            &merchant_policy(),
            kya_core::Timestamp::from_unix(now()).unwrap(),
            ChainFrom::Headers,
        )
        .unwrap();
    assert_eq!(
        checked.verify_signature(&agent.public_key()),
        Err(HttpError::SignatureInvalid)
    );
}

/// A request signed by the `web-bot-auth` crate's own signer.
struct CrateSigned {
    request: HttpRequest,
    components: Vec<CoveredComponent>,
}

impl UnsignedMessage for CrateSigned {
    fn fetch_components_to_cover(&self) -> IndexMap<CoveredComponent, String> {
        self.components
            .iter()
            .map(|c| {
                let value = self.request.lookup_component(c).pop().unwrap();
                (c.clone(), value)
            })
            .collect()
    }

    fn register_header_contents(&mut self, signature_input: String, signature_header: String) {
        self.request
            .headers
            .push(("Signature-Input".into(), format!("sig1={signature_input}")));
        self.request
            .headers
            .push(("Signature".into(), format!("sig1={signature_header}")));
    }
}

fn field(name: &str) -> CoveredComponent {
    CoveredComponent::HTTP(HTTPField {
        name: name.to_owned(),
        parameters: HTTPFieldParametersSet(vec![]),
    })
}

fn crate_signed(seed: [u8; 32], body: &[u8]) -> HttpRequest {
    let agent = &SecretKey::from_seed(&seed);
    let principal = SecretKey::from_seed(&[1; 32]);
    let chain_json = kya_core::json::canonicalize(&chain(&principal, agent)).unwrap();
    let (_, request) = HttpRequest::from_url("POST", "https://shop.example/pay").unwrap();
    let request = request
        .body(body.to_vec())
        .header("Content-Digest", &content_digest(body))
        .header("KYA-Chain", &ChainRef::encode_inline(&chain_json))
        .header("KYA-Action", "payments/send");
    let mut message = CrateSigned {
        request,
        components: vec![
            CoveredComponent::Derived(DerivedComponent::Method { req: false }),
            CoveredComponent::Derived(DerivedComponent::Authority { req: false }),
            CoveredComponent::Derived(DerivedComponent::Path { req: false }),
            field("content-digest"),
            field("kya-chain"),
            field("kya-action"),
        ],
    };
    MessageSigner {
        keyid: jwk_thumbprint(&agent.public_key()),
        nonce: "bm9uY2UtZnJvbS10aGUtY3JhdGU=".into(),
        tag: "web-bot-auth".into(),
    }
    .generate_signature_headers_content(
        &mut message,
        Duration::from_secs(120),
        Algorithm::Ed25519,
        &seed,
    )
    .unwrap();
    message.request
}

#[test]
fn a_request_signed_by_web_bot_auth_verifies_with_kya() {
    let agent = SecretKey::from_seed(&[3; 32]);
    let body = br#"{"item":"pen"}"#;
    let request = crate_signed([3; 32], body);

    let kya = HttpVerifier::new(HttpPolicy::default());
    let checked = kya
        .check_request(
            &request,
            &merchant_policy(),
            kya_core::Timestamp::from_unix(now()).unwrap(),
            ChainFrom::Headers,
        )
        .unwrap();
    assert_eq!(checked.nonce, "bm9uY2UtZnJvbS10aGUtY3JhdGU=");
    assert_eq!(checked.expires.unix() - checked.created.unix(), 120);
    assert!(checked.chain_inline);
    assert_eq!(
        checked.action,
        Some(Action::parse("payments/send").unwrap())
    );
    checked.verify_signature(&agent.public_key()).unwrap();

    // Another key's thumbprint is refused before any signature work.
    let other = SecretKey::from_seed(&[4; 32]);
    assert!(matches!(
        checked.verify_signature(&other.public_key()),
        Err(HttpError::KeyIdMismatch { .. })
    ));

    // A body that no longer matches its digest is refused.
    let mut tampered = request.clone();
    tampered.body = br#"{"item":"car"}"#.to_vec();
    assert_eq!(
        kya.check_request(
            &tampered,
            &merchant_policy(),
            kya_core::Timestamp::from_unix(now()).unwrap(),
            ChainFrom::Headers
        )
        .unwrap_err(),
        HttpError::ContentDigestMismatch
    );
}

#[test]
fn kya_refuses_what_the_crate_would_sign_without_the_components_kya_needs() {
    let agent = SecretKey::from_seed(&[5; 32]);
    let (_, request) = HttpRequest::from_url("GET", "https://shop.example/catalog").unwrap();
    let mut message = CrateSigned {
        request: request.header("Content-Digest", &content_digest(b"")),
        components: vec![CoveredComponent::Derived(DerivedComponent::Authority {
            req: false,
        })],
    };
    MessageSigner {
        keyid: jwk_thumbprint(&agent.public_key()),
        nonce: "n".into(),
        tag: "web-bot-auth".into(),
    }
    .generate_signature_headers_content(
        &mut message,
        Duration::from_secs(60),
        Algorithm::Ed25519,
        &[5u8; 32],
    )
    .unwrap();
    let kya = HttpVerifier::new(HttpPolicy::default());
    assert_eq!(
        kya.check_request(
            &message.request,
            &merchant_policy(),
            kya_core::Timestamp::from_unix(now()).unwrap(),
            ChainFrom::Headers
        )
        .unwrap_err(),
        HttpError::ComponentNotCovered {
            component: "@method".to_owned()
        }
    );
}
