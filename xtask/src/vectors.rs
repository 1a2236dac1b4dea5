//! kya's own test vectors, generated from fixed seeds (`cargo xtask vectors`).
//!
//! Ed25519 is deterministic, ids and times are fixed, so the output is the same byte for byte
//! on every machine; `--check` fails when regenerating would change a file.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use kya_core::credential::{
    self, AgentAuthorization, AgentDelegation, AgentRegistration, ReputationAttestation,
    VerifiedCredential,
};
use kya_core::grant::{Grant, Widening};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use serde_json::{Value, json};

const OUT: &str = "test-vectors/kya";

struct Keys {
    principal: SecretKey,
    agent: SecretKey,
    subagent: SecretKey,
    worker: SecretKey,
    rater: SecretKey,
    outsider: SecretKey,
}

fn did(k: &SecretKey) -> DidKey {
    DidKey::from_public_key(k.public_key())
}

fn t(s: &str) -> Result<Timestamp> {
    s.parse().with_context(|| s.to_owned())
}

fn grant(v: Value) -> Result<Grant> {
    serde_json::from_value(v).context("grant")
}

fn id(n: u32) -> String {
    format!("urn:uuid:00000000-0000-4000-8000-{n:012}")
}

pub(crate) fn run(root: &Path, check: bool) -> Result<()> {
    let files = generate()?;
    let out = root.join(OUT);
    if check {
        let mut stale = Vec::new();
        for (name, bytes) in &files {
            if std::fs::read(out.join(name)).ok().as_deref() != Some(bytes.as_slice()) {
                stale.push(name.clone());
            }
        }
        if !stale.is_empty() {
            bail!(
                "test vectors are stale (run `cargo xtask vectors`): {}",
                stale.join(", ")
            );
        }
        eprintln!("test-vectors/kya: {} files up to date", files.len());
        return Ok(());
    }
    for (name, bytes) in &files {
        let path = out.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, bytes)?;
    }
    eprintln!("wrote {} files under {OUT}", files.len());
    Ok(())
}

fn pretty(v: &Value) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(v)?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn generate() -> Result<BTreeMap<String, Vec<u8>>> {
    let keys = Keys {
        principal: SecretKey::from_seed(&[1; 32]),
        agent: SecretKey::from_seed(&[2; 32]),
        subagent: SecretKey::from_seed(&[3; 32]),
        worker: SecretKey::from_seed(&[4; 32]),
        rater: SecretKey::from_seed(&[5; 32]),
        outsider: SecretKey::from_seed(&[6; 32]),
    };
    let mut files = BTreeMap::new();
    let created = t("2026-01-01T00:00:00Z")?;

    let mut key_list = serde_json::Map::new();
    for (name, k, seed) in [
        ("principal", &keys.principal, 1u8),
        ("agent", &keys.agent, 2),
        ("subagent", &keys.subagent, 3),
        ("worker", &keys.worker, 4),
        ("rater", &keys.rater, 5),
        ("outsider", &keys.outsider, 6),
    ] {
        key_list.insert(
            name.into(),
            json!({
                "seedHex": format!("{seed:02x}").repeat(32),
                "publicKeyMultibase": k.public_key().to_multibase(),
                "secretKeyMultibase": k.to_multibase().as_str(),
                "did": did(k).to_string(),
            }),
        );
    }
    files.insert("keys.json".into(), pretty(&Value::Object(key_list))?);

    let registration = AgentRegistration {
        agent_registry: "eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3".parse()?,
        agent_id: "1".parse()?,
    };
    let root_grants = vec![
        grant(json!({
            "action": "payments",
            "maxAmount": {"value": "100.00", "asset": "USD"},
            "audience": ["did:web:shop.example", "did:web:books.example"],
            "budget": {"value": "500.00", "asset": "USD", "periodSeconds": 86400}
        }))?,
        grant(json!({"action": "catalog/read", "resource": ["https://shop.example/api/"]}))?,
    ];
    let authorization =
        AgentAuthorization::builder(Did::Key(did(&keys.principal)), did(&keys.agent))
            .id(id(1))
            .valid_from(t("2026-01-01T00:00:00Z")?)
            .valid_until(t("2027-01-01T00:00:00Z")?)
            .registration(registration)
            .grants(root_grants)
            .sign(&keys.principal, created)?;

    let child_grants = vec![grant(json!({
        "action": "payments/send",
        "maxAmount": {"value": "25.00", "asset": "USD"},
        "audience": ["did:web:shop.example"],
        "budget": {"value": "100.00", "asset": "USD", "periodSeconds": 86400}
    }))?];
    let delegation_builder = AgentDelegation::builder(&authorization, did(&keys.subagent))?
        .id(id(2))
        .valid_until(t("2026-07-01T00:00:00Z")?)
        .grants(child_grants);
    let delegation = delegation_builder.sign(&keys.agent, created)?;

    let leaf = AgentDelegation::builder(&delegation, did(&keys.worker))?
        .id(id(3))
        .valid_until(t("2026-03-01T00:00:00Z")?)
        .grant(grant(json!({
            "action": "payments/send",
            "maxAmount": {"value": "10.00", "asset": "USD"},
            "audience": ["did:web:shop.example"],
            "budget": {"value": "20.00", "asset": "USD", "periodSeconds": 86400},
            "rate": {"count": 5, "periodSeconds": 60}
        }))?)
        .sign(&keys.subagent, created)?;

    let reputation = ReputationAttestation {
        id: id(4),
        issuer: Did::Key(did(&keys.rater)),
        agent: did(&keys.agent),
        valid_from: t("2026-02-01T00:00:00Z")?,
        valid_until: None,
        registration: None,
        value: 9250,
        value_decimals: 2,
        tag1: "checkout".into(),
        tag2: "on-time".into(),
        endpoint: Some("https://shop.example/api/checkout".into()),
        status: Vec::new(),
    };
    let reputation = credential::sign(reputation.to_unsigned()?, &keys.rater, created)?;

    for (name, c) in [
        ("credentials/authorization.json", &authorization),
        ("credentials/delegation.json", &delegation),
        ("credentials/delegation-2.json", &leaf),
        ("credentials/reputation.json", &reputation),
    ] {
        files.insert(name.into(), pretty(c.document())?);
    }

    // Chains, valid and invalid, with the verdict a verifier must reach.
    let doc = |c: &VerifiedCredential| c.document().clone();
    let mut chains = Vec::new();
    let mut add_chain = |name: &str, links: Vec<Value>, expect: Value| -> Result<()> {
        files.insert(format!("chains/{name}.json"), pretty(&Value::Array(links))?);
        let mut entry = json!({"file": format!("chains/{name}.json")});
        if let (Value::Object(e), Value::Object(x)) = (&mut entry, expect) {
            e.extend(x);
        }
        chains.push(entry);
        Ok(())
    };
    add_chain("valid-1", vec![doc(&authorization)], json!({"valid": true}))?;
    add_chain(
        "valid-2",
        vec![doc(&authorization), doc(&delegation)],
        json!({"valid": true}),
    )?;
    add_chain(
        "valid-3",
        vec![doc(&authorization), doc(&delegation), doc(&leaf)],
        json!({"valid": true}),
    )?;

    // Each invalid link is signed properly, so only the named rule catches it.
    let mut widened = delegation_builder.build()?;
    widened["credentialSubject"]["grants"][0]["maxAmount"]["value"] = "500.00".into();
    let widened = credential::sign(widened, &keys.agent, created)?;
    add_chain(
        "invalid-widened-grant",
        vec![doc(&authorization), doc(&widened)],
        json!({"valid": false, "code": "grant_widened", "link": 1}),
    )?;

    let mut outlives = delegation_builder.build()?;
    outlives["validUntil"] = "2027-06-01T00:00:00Z".into();
    let outlives = credential::sign(outlives, &keys.agent, created)?;
    add_chain(
        "invalid-outlives-parent",
        vec![doc(&authorization), doc(&outlives)],
        json!({"valid": false, "code": "validity_outside_parent", "link": 1}),
    )?;

    let mut wrong_parent = delegation_builder.build()?;
    wrong_parent["parentCredential"]["digestMultibase"] =
        kya_core::CredentialDigest::of_canonical(b"another credential")
            .to_multibase()
            .into();
    let wrong_parent = credential::sign(wrong_parent, &keys.agent, created)?;
    add_chain(
        "invalid-parent-digest",
        vec![doc(&authorization), doc(&wrong_parent)],
        json!({"valid": false, "code": "parent_digest_mismatch", "link": 1}),
    )?;

    let mut wrong_issuer = delegation_builder.build()?;
    wrong_issuer["issuer"] = did(&keys.outsider).to_string().into();
    let wrong_issuer = credential::sign(wrong_issuer, &keys.outsider, created)?;
    add_chain(
        "invalid-issuer-not-parent-subject",
        vec![doc(&authorization), doc(&wrong_issuer)],
        json!({"valid": false, "code": "issuer_not_parent_subject", "link": 1}),
    )?;

    let mut tampered = doc(&delegation);
    tampered["credentialSubject"]["grants"][0]["maxAmount"]["value"] = "95.00".into();
    add_chain(
        "invalid-tampered",
        vec![doc(&authorization), tampered],
        json!({"valid": false, "code": "bad_signature", "link": 1}),
    )?;

    add_chain(
        "invalid-swapped-links",
        vec![doc(&delegation), doc(&authorization)],
        json!({"valid": false, "code": "issuer_not_parent_subject", "link": 1}),
    )?;
    files.insert("chains.json".into(), pretty(&Value::Array(chains))?);

    // Requests against valid-3 and the decision a verifier must reach.
    let requests = json!([
        {"name": "within every link", "request": {"action": "payments/send", "amount": {"value": "9.99", "asset": "USD"}, "audience": "did:web:shop.example", "time": "2026-02-01T12:00:00Z"}, "allow": true},
        {"name": "over the leaf ceiling", "request": {"action": "payments/send", "amount": {"value": "10.01", "asset": "USD"}, "audience": "did:web:shop.example", "time": "2026-02-01T12:00:00Z"}, "allow": false, "codes": ["amount_exceeds_ceiling"]},
        {"name": "another merchant", "request": {"action": "payments/send", "amount": {"value": "5.00", "asset": "USD"}, "audience": "did:web:books.example", "time": "2026-02-01T12:00:00Z"}, "allow": false, "codes": ["audience_not_allowed"]},
        {"name": "another asset", "request": {"action": "payments/send", "amount": {"value": "5.00", "asset": "EUR"}, "audience": "did:web:shop.example", "time": "2026-02-01T12:00:00Z"}, "allow": false, "codes": ["asset_mismatch"]},
        {"name": "an action not granted", "request": {"action": "payments/refund", "amount": {"value": "5.00", "asset": "USD"}, "audience": "did:web:shop.example", "time": "2026-02-01T12:00:00Z"}, "allow": false, "codes": ["action_not_covered"]},
        {"name": "after the leaf expired", "request": {"action": "payments/send", "amount": {"value": "5.00", "asset": "USD"}, "audience": "did:web:shop.example", "time": "2026-03-02T00:00:00Z"}, "allow": false, "codes": ["credential_expired"]}
    ]);
    files.insert(
        "requests.json".into(),
        pretty(&json!({"chain": "chains/valid-3.json", "cases": requests}))?,
    );

    files.insert("attenuation.json".into(), pretty(&attenuation_cases()?)?);
    Ok(files)
}

/// Parent/child grant pairs and whether the child attenuates the parent.
fn attenuation_cases() -> Result<Value> {
    let parent = json!({
        "action": "payments",
        "maxAmount": {"value": "100.00", "asset": "USD"},
        "audience": ["did:web:shop.example", "did:web:books.example"],
        "resource": ["https://shop.example/api/"],
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2027-01-01T00:00:00Z",
        "budget": {"value": "500.00", "asset": "USD", "periodSeconds": 86400},
        "rate": {"count": 10, "periodSeconds": 60}
    });
    let with = |patch: Value| -> Value {
        let mut c = parent.clone();
        if let (Value::Object(c), Value::Object(p)) = (&mut c, patch) {
            for (k, v) in p {
                if v.is_null() {
                    c.remove(&k);
                } else {
                    c.insert(k, v);
                }
            }
        }
        c
    };
    let cases: Vec<(&str, Value, Value)> = vec![
        ("identical", parent.clone(), parent.clone()),
        (
            "narrower action",
            parent.clone(),
            with(json!({"action": "payments/send"})),
        ),
        ("wider action", parent.clone(), with(json!({"action": "*"}))),
        (
            "sibling action",
            parent.clone(),
            with(json!({"action": "paymentsx"})),
        ),
        (
            "lower ceiling",
            parent.clone(),
            with(json!({"maxAmount": {"value": "99.999", "asset": "USD"}})),
        ),
        (
            "equal ceiling written differently",
            parent.clone(),
            with(json!({"maxAmount": {"value": "100", "asset": "USD"}})),
        ),
        (
            "higher ceiling",
            parent.clone(),
            with(json!({"maxAmount": {"value": "100.01", "asset": "USD"}})),
        ),
        (
            "ceiling dropped",
            parent.clone(),
            with(json!({"maxAmount": null})),
        ),
        (
            "ceiling in another asset",
            parent.clone(),
            with(json!({"maxAmount": {"value": "1.00", "asset": "EUR"}})),
        ),
        (
            "audience subset",
            parent.clone(),
            with(json!({"audience": ["did:web:shop.example"]})),
        ),
        (
            "audience widened",
            parent.clone(),
            with(json!({"audience": ["did:web:shop.example", "did:web:evil.example"]})),
        ),
        (
            "audience dropped",
            parent.clone(),
            with(json!({"audience": null})),
        ),
        (
            "resource narrowed",
            parent.clone(),
            with(json!({"resource": ["https://shop.example/api/orders"]})),
        ),
        (
            "resource sibling prefix",
            parent.clone(),
            with(json!({"resource": ["https://shop.example/apix"]})),
        ),
        (
            "window inside",
            parent.clone(),
            with(
                json!({"validFrom": "2026-02-01T00:00:00Z", "validUntil": "2026-03-01T00:00:00Z"}),
            ),
        ),
        (
            "window outlives",
            parent.clone(),
            with(json!({"validUntil": "2027-01-01T00:00:01Z"})),
        ),
        (
            "budget lower",
            parent.clone(),
            with(json!({"budget": {"value": "50.00", "asset": "USD", "periodSeconds": 86400}})),
        ),
        (
            "budget higher",
            parent.clone(),
            with(json!({"budget": {"value": "501.00", "asset": "USD", "periodSeconds": 86400}})),
        ),
        (
            "budget dropped",
            parent.clone(),
            with(json!({"budget": null})),
        ),
        (
            "rate lower",
            parent.clone(),
            with(json!({"rate": {"count": 5, "periodSeconds": 60}})),
        ),
        (
            "rate higher",
            parent.clone(),
            with(json!({"rate": {"count": 11, "periodSeconds": 60}})),
        ),
        (
            "child adds an unknown constraint",
            parent.clone(),
            with(json!({"geo": ["FR"]})),
        ),
        (
            "parent has an unknown constraint the child drops",
            with(json!({"geo": ["FR"]})),
            parent.clone(),
        ),
    ];
    let mut out = Vec::new();
    for (name, p, c) in cases {
        let pg = grant(p.clone())?;
        let cg = grant(c.clone())?;
        let verdict: Result<(), Widening> = cg.attenuates(&pg);
        let mut entry =
            json!({"name": name, "parent": p, "child": c, "attenuates": verdict.is_ok()});
        if let Err(w) = verdict {
            entry["code"] = w.code().into();
        }
        out.push(entry);
    }
    Ok(Value::Array(out))
}
