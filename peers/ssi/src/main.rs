//! The `ssi` side of `chain1_vs_ssi`: verifies kya's agent-authorisation claims (the ones in
//! `test-vectors/kya/credentials/authorization.json`, same issuer key, same subject, same
//! grants) secured by spruceid `ssi` with `eddsa-rdfc-2022` — the Ed25519 suite `ssi`
//! implements for VC 2.0 — and times parse-from-bytes + verify with criterion.
//!
//! Offline: the VC 2.0 context comes from ssi's built-in static loader, kya's context from
//! `test-vectors/contexts/kya-v1.jsonld` through ssi's context map, and the issuer's did:key
//! document from a `StaticDIDResolver`.
//!
//! Usage: `kya-peers-ssi <criterion output dir>`; results land in
//! `<dir>/chain1_vs_ssi/ssi/new/estimates.json`. Also prints `SSI_BYTES <n>`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use criterion::Criterion;
use ssi_claims::VerificationParameters;
use ssi_claims::data_integrity::{AnySuite, CryptographicSuite, DataIntegrity, ProofOptions};
use ssi_claims::vc::v2::JsonCredential;
use ssi_dids_core::resolution::Output;
use ssi_dids_core::{DIDResolver, StaticDIDResolver, VerificationMethodDIDResolver};
use ssi_json_ld::ContextLoader;
use ssi_verification_methods::{AnyMethod, ProofPurpose, SingleSecretSigner};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../test-vectors");

type Resolver = VerificationMethodDIDResolver<StaticDIDResolver, AnyMethod>;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{VECTORS}/{path}"))
        .unwrap_or_else(|e| panic!("reading test-vectors/{path}: {e}"))
}

fn main() {
    let out_dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: kya-peers-ssi <criterion dir>"),
    );

    // The claims of kya's signed authorisation, without its eddsa-jcs-2022 proof.
    let mut claims: serde_json::Value =
        serde_json::from_str(&read("kya/credentials/authorization.json")).expect("json");
    claims.as_object_mut().expect("object").remove("proof");
    let issuer = claims["issuer"].as_str().expect("issuer").to_owned();
    let multibase = issuer.strip_prefix("did:key:").expect("did:key").to_owned();
    let vm = format!("{issuer}#{multibase}");

    // The issuer key: seed 0x01…01 (test-vectors/kya/keys.json).
    let secret = ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk: ssi_jwk::JWK = serde_json::from_value(serde_json::json!({
        "kty": "OKP", "crv": "Ed25519",
        "x": b64.encode(secret.verifying_key().as_bytes()),
        "d": b64.encode(secret.to_bytes()),
    }))
    .expect("jwk");

    // did:key resolution without a DID-method crate: the document did:key defines.
    let did_doc = serde_json::json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": issuer,
        "verificationMethod": [{
            "id": vm, "type": "Multikey", "controller": issuer, "publicKeyMultibase": multibase
        }],
        "authentication": [vm], "assertionMethod": [vm],
    });
    let mut dids = StaticDIDResolver::new();
    dids.insert(
        issuer.parse().expect("did"),
        Output::from_content(
            serde_json::to_vec(&did_doc).expect("doc"),
            Some("application/did+json".to_owned()),
        ),
    );
    let resolver: Resolver = dids.into_vm_resolver();

    let loader = ContextLoader::default()
        .with_context_map_from(HashMap::from([(
            "https://w3id.org/kya/v1".to_owned(),
            read("contexts/kya-v1.jsonld"),
        )]))
        .expect("kya context");
    let at = chrono::DateTime::parse_from_rfc3339("2026-02-01T12:00:00Z")
        .expect("time")
        .to_utc();
    let params = VerificationParameters::from_resolver(resolver)
        .with_json_ld_loader(loader)
        .with_date_time(at);

    // Sign once (setup).
    let credential: JsonCredential = serde_json::from_value(claims).expect("vc 2.0 claims");
    let options = ProofOptions::new(
        "2026-01-01T00:00:00Z".parse().expect("created"),
        iref::IriBuf::new(vm.clone()).expect("iri").into(),
        ProofPurpose::Assertion,
        Default::default(),
    );
    let signed = pollster::block_on(AnySuite::EdDsaRdfc2022.sign_with(
        &params,
        credential,
        &params.resolver,
        SingleSecretSigner::new(jwk).into_local(),
        options,
        Default::default(),
    ))
    .expect("ssi signs");
    let bytes = serde_json::to_vec(&signed).expect("serialise");
    eprintln!(
        "# ssi: the eddsa-rdfc-2022 credential is {} bytes",
        bytes.len()
    );

    let verify = |bytes: &[u8]| {
        let vc: DataIntegrity<JsonCredential, AnySuite> =
            serde_json::from_slice(bytes).expect("parse");
        pollster::block_on(vc.verify(&params))
            .expect("verification ran")
            .expect("credential valid");
    };
    verify(&bytes); // fails loudly if ssi disagrees
    // The grants are signed (kya's context defines them; JSON-LD would silently drop
    // undefined terms): a tampered ceiling must fail.
    let tampered =
        String::from_utf8(bytes.clone())
            .expect("utf-8")
            .replacen("\"100.00\"", "\"900.00\"", 1);
    assert_ne!(
        tampered.as_bytes(),
        &bytes[..],
        "the ceiling is in the document"
    );
    let vc: DataIntegrity<JsonCredential, AnySuite> =
        serde_json::from_str(&tampered).expect("parse");
    assert!(
        pollster::block_on(vc.verify(&params))
            .expect("verification ran")
            .is_err(),
        "ssi refuses a tampered grant"
    );

    let mut c = Criterion::default()
        .output_directory(&out_dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .nresamples(20_000)
        .without_plots();
    c.benchmark_group("chain1_vs_ssi")
        .bench_function("ssi", |b| b.iter(|| verify(std::hint::black_box(&bytes))));
    c.final_summary();
}
