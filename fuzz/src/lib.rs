//! Shared pieces of the kya fuzz targets: the test vectors built in as oracles, and
//! `arbitrary` generators for grants and requests over a small vocabulary (so that the
//! fuzzer hits matching actions, assets, audiences and resources often).

use std::collections::HashSet;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use kya_core::grant::{Action, Amount, Asset, Grant, Period, Request};
use kya_core::json::{JsonLimits, parse_strict};
use kya_core::proof::PreparedProof;
use kya_core::{SecretKey, Timestamp};
use serde_json::Value;

/// Every signed document in `test-vectors/`, built in.
pub const SIGNED_VECTORS: &[&[u8]] = &[
    include_bytes!("../../test-vectors/kya/credentials/authorization.json"),
    include_bytes!("../../test-vectors/kya/credentials/delegation.json"),
    include_bytes!("../../test-vectors/kya/credentials/delegation-2.json"),
    include_bytes!("../../test-vectors/kya/credentials/reputation.json"),
    include_bytes!("../../test-vectors/w3c/vc-di-eddsa/eddsa-jcs-2022/signedJCS.json"),
];

/// Every chain in `test-vectors/kya/chains/`, built in (valid and invalid).
pub const CHAIN_VECTORS: &[&[u8]] = &[
    include_bytes!("../../test-vectors/kya/chains/valid-1.json"),
    include_bytes!("../../test-vectors/kya/chains/valid-2.json"),
    include_bytes!("../../test-vectors/kya/chains/valid-3.json"),
    include_bytes!("../../test-vectors/kya/chains/invalid-issuer-not-parent-subject.json"),
    include_bytes!("../../test-vectors/kya/chains/invalid-outlives-parent.json"),
    include_bytes!("../../test-vectors/kya/chains/invalid-parent-digest.json"),
    include_bytes!("../../test-vectors/kya/chains/invalid-swapped-links.json"),
    include_bytes!("../../test-vectors/kya/chains/invalid-tampered.json"),
    include_bytes!("../../test-vectors/kya/chains/invalid-widened-grant.json"),
];

/// Limits large enough to re-read anything kya itself wrote.
pub const ROOMY: JsonLimits = JsonLimits {
    max_bytes: 16 << 20,
    max_depth: 64,
};

/// The six keys of `test-vectors/kya/keys.json` (seeds 0x01…01 to 0x06…06): principal,
/// agent, subagent, worker, rater, outsider.
pub fn vector_key(i: u8) -> SecretKey {
    SecretKey::from_seed(&[i; 32])
}

/// Every signed document the vectors hold (credentials and chain links).
pub fn signed_documents() -> &'static [Value] {
    static DOCS: OnceLock<Vec<Value>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut docs = Vec::new();
        for bytes in SIGNED_VECTORS {
            if let Ok(v) = parse_strict(bytes, ROOMY) {
                docs.push(v);
            }
        }
        for bytes in CHAIN_VECTORS {
            if let Ok(Value::Array(links)) = parse_strict(bytes, ROOMY) {
                docs.extend(links);
            }
        }
        docs
    })
}

/// The (message, signature) pairs of every proof in the vectors.
///
/// The fuzzer holds no secret key. So any document it makes whose proof verifies must carry
/// one of these exact pairs: a new message means a forgery, and a new signature on a known
/// message means a malleated signature that kya's Ed25519 rule should have refused.
pub fn known_signatures() -> &'static HashSet<(Vec<u8>, [u8; 64])> {
    static KNOWN: OnceLock<HashSet<(Vec<u8>, [u8; 64])>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        signed_documents()
            .iter()
            .filter_map(|d| PreparedProof::from_document(d).ok())
            .map(|p| (p.message.to_vec(), p.signature.to_bytes()))
            .collect()
    })
}

/// Panics unless the prepared proof is one of the vectors' own.
pub fn assert_known_signature(p: &PreparedProof) {
    let key = (p.message.to_vec(), p.signature.to_bytes());
    assert!(
        known_signatures().contains(&key),
        "a proof verified that no test-vector key made: forgery or malleated signature \
         (signer {}, signature {:02x?})",
        p.info.verification_method,
        p.signature.to_bytes()
    );
}

// ---------------------------------------------------------------------------------------
// Structure-aware grants and requests.

const SEGMENTS: &[&str] = &["payments", "send", "refund", "catalog", "read", "x"];
const ASSETS: &[&str] = &[
    "USD",
    "EUR",
    "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
];
const AUDIENCES: &[&str] = &[
    "did:web:shop.example",
    "did:web:books.example",
    "https://merchant.example",
    "did:web:shop.example2",
];
const RESOURCES: &[&str] = &[
    "https://shop.example/",
    "https://shop.example/api",
    "https://shop.example/api/",
    "https://shop.example/api/items",
    "https://shop.example/api?q=1",
    "https://shop.example/apix",
    "https://shop.example/api#frag",
    "https://other.example/",
    "https://shop.example",
];
/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600;

fn pick<'a>(u: &mut Unstructured<'_>, from: &[&'a str]) -> arbitrary::Result<&'a str> {
    Ok(from[u.choose_index(from.len())?])
}

/// An action from the vocabulary: `*` or one to three segments.
pub fn arb_action(u: &mut Unstructured<'_>) -> arbitrary::Result<Action> {
    let n = u.int_in_range(0..=3u8)?;
    if n == 0 {
        return Ok(Action::root());
    }
    let mut parts = Vec::new();
    for _ in 0..n {
        parts.push(pick(u, SEGMENTS)?);
    }
    Action::parse(&parts.join("/")).map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// A small amount with a scale of 0–3 (so equal values with different scales occur).
pub fn arb_amount(u: &mut Unstructured<'_>) -> arbitrary::Result<Amount> {
    let scale = u.int_in_range(0..=3u8)?;
    let mantissa = if u.ratio(1, 16)? {
        u128::arbitrary(u)? % 10u128.pow(30)
    } else {
        u128::from(u.int_in_range(0..=2000u32)?) * 10u128.pow(u32::from(scale)) / 10
    };
    Amount::from_parts(mantissa, scale).map_err(|_| arbitrary::Error::IncorrectFormat)
}

fn arb_asset(u: &mut Unstructured<'_>) -> arbitrary::Result<Asset> {
    Asset::parse(pick(u, ASSETS)?).map_err(|_| arbitrary::Error::IncorrectFormat)
}

fn arb_time(u: &mut Unstructured<'_>) -> arbitrary::Result<Timestamp> {
    // Within about a year of T0, on a coarse grid so that boundaries coincide.
    let t =
        T0 + i64::from(u.int_in_range(0..=400u16)?) * 86_400 + i64::from(u.int_in_range(0..=2u8)?);
    Timestamp::from_unix(t).ok_or(arbitrary::Error::IncorrectFormat)
}

fn arb_list(u: &mut Unstructured<'_>, from: &[&str]) -> arbitrary::Result<Vec<String>> {
    let n = u.int_in_range(1..=3u8)?;
    (0..n).map(|_| pick(u, from).map(str::to_owned)).collect()
}

fn arb_period(u: &mut Unstructured<'_>) -> arbitrary::Result<Period> {
    Ok(Period::seconds(
        [1u64, 60, 120, 3600, 86_400, 90][u.choose_index(6)?],
    ))
}

/// A grant over the vocabulary, with each constraint present or not.
pub fn arb_grant(u: &mut Unstructured<'_>) -> arbitrary::Result<Grant> {
    let mut b = Grant::builder(arb_action(u)?);
    if bool::arbitrary(u)? {
        b = b.max_amount(arb_amount(u)?, arb_asset(u)?);
    }
    if bool::arbitrary(u)? {
        b = b.audience(arb_list(u, AUDIENCES)?);
    }
    if bool::arbitrary(u)? {
        b = b.resource(arb_list(u, RESOURCES)?);
    }
    if bool::arbitrary(u)? {
        b = b.valid_from(arb_time(u)?);
    }
    if bool::arbitrary(u)? {
        b = b.valid_until(arb_time(u)?);
    }
    if bool::arbitrary(u)? {
        b = b.budget(arb_amount(u)?, arb_asset(u)?, arb_period(u)?);
    }
    if bool::arbitrary(u)? {
        b = b.rate(u.int_in_range(1..=20u64)?, arb_period(u)?);
    }
    if u.ratio(1, 8)? {
        let v = if bool::arbitrary(u)? {
            Value::from(u.int_in_range(0..=2u8)?)
        } else {
            Value::from("x")
        };
        b = b.unknown_constraint(["region", "x-custom"][u.choose_index(2)?], v);
    }
    b.build().map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// A narrowing of `parent` made by tightening some of its constraints (so that the
/// attenuation relation holds often, and its laws get exercised on both sides).
pub fn arb_narrowing(u: &mut Unstructured<'_>, parent: &Grant) -> arbitrary::Result<Grant> {
    let mut v = parent.to_json_value();
    let obj = v.as_object_mut().ok_or(arbitrary::Error::IncorrectFormat)?;
    if bool::arbitrary(u)? {
        let extra = pick(u, SEGMENTS)?;
        let a = parent.action();
        let action = if a.is_root() {
            extra.to_owned()
        } else {
            format!("{a}/{extra}")
        };
        obj.insert("action".into(), action.into());
    }
    if bool::arbitrary(u)? {
        // Replace or add any one constraint with a random one; may or may not narrow.
        let other = arb_grant(u)?.to_json_value();
        let key = [
            "maxAmount",
            "audience",
            "resource",
            "validFrom",
            "validUntil",
            "budget",
            "rate",
        ][u.choose_index(7)?];
        if let Some(x) = other.get(key) {
            obj.insert(key.into(), x.clone());
        }
    }
    Grant::from_json_value(&v).map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// A request over the same vocabulary.
pub fn arb_request(u: &mut Unstructured<'_>) -> arbitrary::Result<Request> {
    let mut r = Request::new(arb_action(u)?, arb_time(u)?);
    if bool::arbitrary(u)? {
        r = r.with_amount(arb_amount(u)?, arb_asset(u)?);
    }
    if bool::arbitrary(u)? {
        r = r.with_audience(pick(u, AUDIENCES)?);
    }
    if bool::arbitrary(u)? {
        let base = pick(u, RESOURCES)?;
        let tail = ["", "/", "/x", "x", "?a", "#b"][u.choose_index(6)?];
        r = r.with_resource(format!("{base}{tail}"));
    }
    Ok(r)
}

// ---------------------------------------------------------------------------------------
// Generic JSON tampering (shared by the credential, presentation and chain targets).

const KEYS: &[&str] = &[
    "@context",
    "id",
    "type",
    "issuer",
    "validFrom",
    "validUntil",
    "credentialSubject",
    "proof",
    "grants",
    "action",
    "maxAmount",
    "value",
    "asset",
    "parentCredential",
    "digestMultibase",
    "proofValue",
    "verificationMethod",
    "cryptosuite",
    "proofPurpose",
    "created",
    "expires",
    "registration",
    "agentId",
    "audience",
    "challenge",
    "domain",
    "holder",
    "verifiableCredential",
    "\u{0}",
    "é",
];

/// A small JSON value, often one of the vocabulary's member names.
pub fn arb_value(u: &mut Unstructured<'_>, depth: u8) -> arbitrary::Result<Value> {
    Ok(match u.int_in_range(0..=7u8)? {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => Value::from(i64::from(i32::arbitrary(u)?)),
        3 => serde_json::Number::from_f64(f64::arbitrary(u)?).map_or(Value::Null, Value::Number),
        4 => Value::String(String::arbitrary(u)?),
        5 => Value::String(KEYS[u.choose_index(KEYS.len())?].to_owned()),
        6 if depth < 3 => {
            let n = u.int_in_range(0..=3u8)?;
            Value::Array(
                (0..n)
                    .map(|_| arb_value(u, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        _ if depth < 3 => {
            let mut m = serde_json::Map::new();
            for _ in 0..u.int_in_range(0..=3u8)? {
                m.insert(
                    KEYS[u.choose_index(KEYS.len())?].to_owned(),
                    arb_value(u, depth + 1)?,
                );
            }
            Value::Object(m)
        }
        _ => Value::Null,
    })
}

/// Walks to a random place in `v` and sets, removes, reorders or re-types something there.
pub fn arb_edit(u: &mut Unstructured<'_>, v: &mut Value) -> arbitrary::Result<()> {
    let descend = bool::arbitrary(u)?;
    match v {
        Value::Object(m) if !m.is_empty() && descend => {
            let k = m
                .keys()
                .nth(u.choose_index(m.len())?)
                .cloned()
                .unwrap_or_default();
            arb_edit(u, m.get_mut(&k).ok_or(arbitrary::Error::IncorrectFormat)?)
        }
        Value::Array(a) if !a.is_empty() && descend => {
            let i = u.choose_index(a.len())?;
            arb_edit(u, &mut a[i])
        }
        Value::Object(m) => {
            let k = if !m.is_empty() && bool::arbitrary(u)? {
                m.keys()
                    .nth(u.choose_index(m.len())?)
                    .cloned()
                    .unwrap_or_default()
            } else {
                KEYS[u.choose_index(KEYS.len())?].to_owned()
            };
            if u.ratio(1, 3)? {
                m.remove(&k);
            } else {
                m.insert(k, arb_value(u, 0)?);
            }
            Ok(())
        }
        Value::Array(a) => {
            match u.int_in_range(0..=3u8)? {
                0 if !a.is_empty() => {
                    let i = u.choose_index(a.len())?;
                    a.remove(i);
                }
                1 if a.len() > 1 => {
                    let last = a.len() - 1;
                    a.swap(0, last);
                }
                2 if !a.is_empty() => {
                    let i = u.choose_index(a.len())?;
                    let dup = a[i].clone();
                    a.push(dup);
                }
                _ => a.push(arb_value(u, 0)?),
            }
            Ok(())
        }
        other => {
            *other = arb_value(u, 0)?;
            Ok(())
        }
    }
}

#[cfg(feature = "verify")]
pub mod verify;
