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
use web_bot_auth::components::{
    CoveredComponent, DerivedComponent, HTTPField, HTTPFieldParameters, HTTPFieldParametersSet,
};
use web_bot_auth::keyring::{Algorithm, KeyRing};
use web_bot_auth::message_signatures::{MessageSigner, SignedMessage, UnsignedMessage};
use web_bot_auth::{SignatureAgentLink, WebBotAuthVerifier};

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
    kya_signed_with(agent, None)
}

fn kya_signed_with(agent: &SecretKey, signature_agent: Option<&str>) -> HttpRequest {
    let principal = SecretKey::from_seed(&[1; 32]);
    let mut signer = RequestSigner::new(agent, &chain(&principal, agent)).unwrap();
    if let Some(url) = signature_agent {
        signer = signer.signature_agent(url).unwrap();
    }
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

/// The member `key` of the Dictionary field `name` (RFC 9421 §2.1.2).
fn member(name: &str, key: &str) -> CoveredComponent {
    CoveredComponent::HTTP(HTTPField {
        name: name.to_owned(),
        parameters: HTTPFieldParametersSet(vec![HTTPFieldParameters::Key(key.to_owned())]),
    })
}

/// A POST to the shop carrying `body`, its digest and a chain for the agent of `seed`, with
/// `extra` headers, signed by the crate's signer over `components`.
fn crate_sign(
    seed: [u8; 32],
    body: &[u8],
    extra: &[(&str, &str)],
    components: Vec<CoveredComponent>,
    nonce: &str,
) -> HttpRequest {
    let agent = &SecretKey::from_seed(&seed);
    let principal = SecretKey::from_seed(&[1; 32]);
    let chain_json = kya_core::json::canonicalize(&chain(&principal, agent)).unwrap();
    let (_, mut request) = HttpRequest::from_url("POST", "https://shop.example/pay").unwrap();
    request = request
        .body(body.to_vec())
        .header("Content-Digest", &content_digest(body))
        .header("KYA-Chain", &ChainRef::encode_inline(&chain_json));
    for (name, value) in extra {
        request = request.header(name, value);
    }
    let mut message = CrateSigned {
        request,
        components,
    };
    MessageSigner {
        keyid: jwk_thumbprint(&agent.public_key()),
        nonce: nonce.into(),
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

/// `@method`, `@authority`, `@path`, then `rest`.
fn request_line_and(rest: Vec<CoveredComponent>) -> Vec<CoveredComponent> {
    let mut components = vec![
        CoveredComponent::Derived(DerivedComponent::Method { req: false }),
        CoveredComponent::Derived(DerivedComponent::Authority { req: false }),
        CoveredComponent::Derived(DerivedComponent::Path { req: false }),
    ];
    components.extend(rest);
    components
}

fn crate_signed(seed: [u8; 32], body: &[u8]) -> HttpRequest {
    crate_sign(
        seed,
        body,
        &[("KYA-Action", "payments/send")],
        request_line_and(vec![
            field("content-digest"),
            field("kya-chain"),
            field("kya-action"),
        ]),
        "bm9uY2UtZnJvbS10aGUtY3JhdGU=",
    )
}

fn kya_checks(request: &HttpRequest) -> Result<kya_verify::http::CheckedSignature, HttpError> {
    HttpVerifier::new(HttpPolicy::default()).check_request(
        request,
        &merchant_policy(),
        kya_core::Timestamp::from_unix(now()).unwrap(),
        ChainFrom::Headers,
    )
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

const AGENT_URL: &str = "https://agent.example";

#[test]
fn kya_sends_signature_agent_as_the_protocol_asks_and_the_crate_reads_it() {
    let agent = SecretKey::from_seed(&[6; 32]);
    let request = kya_signed_with(&agent, Some(AGENT_URL));
    assert_eq!(
        request.header_values("signature-agent"),
        vec![format!("sig1=\"{AGENT_URL}\"")]
    );
    let mut keyring = KeyRing::default();
    keyring.import_raw(
        jwk_thumbprint(&agent.public_key()),
        Algorithm::Ed25519,
        agent.public_key().to_bytes().to_vec(),
    );
    let verifier = WebBotAuthVerifier::parse(&request).unwrap();
    assert_eq!(
        verifier.get_signature_agents(),
        &[SignatureAgentLink::External(AGENT_URL.to_owned())]
    );
    verifier.verify(&keyring, None).unwrap();

    // kya covers the member, not the whole field, and verifies it.
    let kya = HttpVerifier::new(HttpPolicy::default());
    let at = kya_core::Timestamp::from_unix(now()).unwrap();
    let checked = kya
        .check_request(&request, &merchant_policy(), at, ChainFrom::Headers)
        .unwrap();
    assert!(
        checked
            .covered
            .contains(&"signature-agent;key=\"sig1\"".to_owned()),
        "{:?}",
        checked.covered
    );
    checked.verify_signature(&agent.public_key()).unwrap();

    // Another URL under the signed label breaks the signature for both.
    let mut moved = request.clone();
    for (name, value) in &mut moved.headers {
        if name.eq_ignore_ascii_case("signature-agent") {
            *value = "sig1=\"https://impostor.example\"".to_owned();
        }
    }
    assert!(
        WebBotAuthVerifier::parse(&moved)
            .unwrap()
            .verify(&keyring, None)
            .is_err()
    );
    let checked = kya
        .check_request(&moved, &merchant_policy(), at, ChainFrom::Headers)
        .unwrap();
    assert_eq!(
        checked.verify_signature(&agent.public_key()),
        Err(HttpError::SignatureInvalid)
    );
    // A member added for another label leaves the signed member, and the signature, intact.
    let mut added = request.clone();
    for (name, value) in &mut added.headers {
        if name.eq_ignore_ascii_case("signature-agent") {
            value.push_str(", sig2=\"https://other.example\"");
        }
    }
    let checked = kya
        .check_request(&added, &merchant_policy(), at, ChainFrom::Headers)
        .unwrap();
    checked.verify_signature(&agent.public_key()).unwrap();
}

#[test]
fn a_request_the_crate_signs_with_a_signature_agent_member_verifies_with_kya() {
    let seed = [7u8; 32];
    let agent_url = format!("sig1=\"{AGENT_URL}\";type=directory");
    let request = crate_sign(
        seed,
        br#"{"item":"map"}"#,
        &[("Signature-Agent", &agent_url)],
        request_line_and(vec![
            field("content-digest"),
            field("kya-chain"),
            member("signature-agent", "sig1"),
        ]),
        "c2lnbmF0dXJlLWFnZW50LW5vbmNl",
    );
    let checked = kya_checks(&request).unwrap();
    checked
        .verify_signature(&SecretKey::from_seed(&seed).public_key())
        .unwrap();
}

#[test]
fn a_parameterised_component_never_stands_in_for_a_required_plain_one() {
    // `content-digest` is a Dictionary: its `sha-256` member alone could be signed, but kya
    // requires the field itself covered.
    let request = crate_sign(
        [8u8; 32],
        br#"{"item":"ink"}"#,
        &[],
        request_line_and(vec![
            member("content-digest", "sha-256"),
            field("kya-chain"),
        ]),
        "cGFyYW1ldGVyaXNlZA==",
    );
    assert_eq!(
        kya_checks(&request).unwrap_err(),
        HttpError::ComponentNotCovered {
            component: "content-digest".to_owned()
        }
    );
}
