//! W3C Bitstring Status List v1.0: the official decode vectors, the bit order, the bounds an
//! untrusted list is held to, and status list credentials signed and verified.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read as _, Write as _};

use kya_core::status::{
    Bitstring, MAX_BITS, MIN_BITS, StatusEntry, StatusError, StatusList, StatusPurpose,
    VerifiedStatusList,
};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use serde_json::{Value, json};

fn vectors() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/w3c/bitstring-status-list/decode-vectors.json"
    );
    let file: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    file["vectors"].as_array().unwrap().clone()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn the_specifications_example_list_decodes_to_131072_clear_entries() {
    let v = &vectors()[0];
    let bits = Bitstring::decode(v["encodedList"].as_str().unwrap()).unwrap();
    assert_eq!(bits.len(), v["bits"].as_u64().unwrap());
    assert_eq!(bits.len(), MIN_BITS);
    assert!((0..bits.len()).all(|i| !bits.get(i).unwrap()));
}

#[test]
fn lists_below_the_minimum_length_are_refused() {
    for v in &vectors()[1..] {
        let encoded = v["encodedList"].as_str().unwrap();
        // Without the multibase prefix (as the library quotes it): not an encodedList.
        assert!(matches!(
            Bitstring::decode(encoded),
            Err(StatusError::EncodedList { .. })
        ));
        // With it: 100000 entries, below the specification's minimum.
        assert_eq!(
            Bitstring::decode(&format!("u{encoded}")),
            Err(StatusError::TooShort { bits: 100_000 })
        );
    }
}

#[test]
fn entry_zero_is_the_left_most_bit_as_in_the_published_list() {
    // The published list with entry 50000 set has byte 6250 = 0x80.
    let v = &vectors()[2];
    let published = gunzip(&base64_url_decode(v["encodedList"].as_str().unwrap()));
    assert_eq!(published[6250], 0x80);
    // kya writes entry 50000 the same way.
    let mut bits = Bitstring::new(MIN_BITS).unwrap();
    bits.set(50_000, true).unwrap();
    let ours = gunzip(&base64_url_decode(&bits.encode()[1..]));
    assert_eq!(ours[6250], 0x80);
    assert_eq!(ours.iter().filter(|b| **b != 0).count(), 1);
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    multibase::decode(format!("u{s}")).unwrap().1
}

#[test]
fn set_get_encode_decode_round_trip() {
    let mut bits = Bitstring::new(MIN_BITS * 2).unwrap();
    for i in [0, 7, 8, 131_071, 200_000, MIN_BITS * 2 - 1] {
        bits.set(i, true).unwrap();
    }
    bits.set(7, false).unwrap();
    let back = Bitstring::decode(&bits.encode()).unwrap();
    assert_eq!(back, bits);
    for i in [0, 8, 131_071, 200_000, MIN_BITS * 2 - 1] {
        assert!(back.get(i).unwrap(), "{i}");
    }
    assert!(!back.get(7).unwrap());
    assert!(!back.get(1).unwrap());
    assert_eq!(
        back.get(MIN_BITS * 2),
        Err(StatusError::IndexOutOfRange {
            index: MIN_BITS * 2,
            bits: MIN_BITS * 2
        })
    );
}

#[test]
fn a_gzip_bomb_is_refused_after_at_most_the_bound() {
    // 16 MiB + 1 byte of zeros compresses to about 16 KB: inflating it all would cost a
    // verifier far more than any list needs.
    let bomb = gzip(&vec![0u8; (MAX_BITS / 8 + 1) as usize]);
    let encoded = multibase::encode(multibase::Base::Base64Url, &bomb);
    assert_eq!(Bitstring::decode(&encoded), Err(StatusError::TooLong));
}

#[test]
fn only_one_gzip_member_with_nothing_after_it() {
    let one = gzip(&vec![0u8; (MIN_BITS / 8) as usize]);
    let mut two = one.clone();
    two.extend_from_slice(&gzip(&[0xff; 16]));
    let mut junk = one.clone();
    junk.push(0);
    for bytes in [two, junk] {
        let encoded = multibase::encode(multibase::Base::Base64Url, &bytes);
        assert!(matches!(
            Bitstring::decode(&encoded),
            Err(StatusError::EncodedList { .. })
        ));
    }
    // A padded or other base is not the encoding the specification names.
    let padded = multibase::encode(multibase::Base::Base64UrlPad, &one);
    assert!(Bitstring::decode(&padded).is_err());
}

fn issuer() -> (SecretKey, Did) {
    let key = SecretKey::from_seed(&[1; 32]);
    let did = Did::Key(DidKey::from_public_key(key.public_key()));
    (key, did)
}

const LIST: &str = "https://issuer.example/status/1";

fn list(bits: Bitstring) -> StatusList {
    StatusList {
        id: LIST.into(),
        issuer: issuer().1,
        purpose: StatusPurpose::Revocation,
        bits,
        valid_from: t("2026-06-01T00:00:00Z"),
        valid_until: Some(t("2026-06-02T00:00:00Z")),
    }
}

#[test]
fn a_signed_list_verifies_and_reports_each_entry() {
    let mut bits = Bitstring::new(MIN_BITS).unwrap();
    bits.set(42, true).unwrap();
    let signed = list(bits)
        .sign(&issuer().0, t("2026-06-01T00:00:00Z"))
        .unwrap();
    let bytes = serde_json::to_vec(&signed).unwrap();
    let verified = VerifiedStatusList::from_slice(&bytes).unwrap();
    assert_eq!(verified.id(), LIST);
    assert_eq!(verified.issuer(), &issuer().1);
    assert_eq!(verified.signer(), issuer().0.public_key());
    let entry = |i| StatusEntry::new(LIST, i, StatusPurpose::Revocation);
    assert!(verified.status(&entry(42)).unwrap());
    assert!(!verified.status(&entry(43)).unwrap());
    assert!(matches!(
        verified.status(&StatusEntry::new(LIST, 42, StatusPurpose::Suspension)),
        Err(StatusError::PurposeMismatch { .. })
    ));
    assert!(matches!(
        verified.status(&StatusEntry::new(
            "https://other.example/l",
            42,
            StatusPurpose::Revocation
        )),
        Err(StatusError::Entry { .. })
    ));
    assert!(matches!(
        verified.status(&entry(MIN_BITS)),
        Err(StatusError::IndexOutOfRange { .. })
    ));
}

#[test]
fn a_list_edited_after_signing_or_signed_by_another_key_is_refused() {
    let signed = list(Bitstring::new(MIN_BITS).unwrap())
        .sign(&issuer().0, t("2026-06-01T00:00:00Z"))
        .unwrap();
    // Clearing a revocation (a new encodedList) breaks the proof.
    let mut edited = signed.clone();
    let mut set = Bitstring::new(MIN_BITS).unwrap();
    set.set(1, true).unwrap();
    edited["credentialSubject"]["encodedList"] = json!(set.encode());
    assert!(matches!(
        VerifiedStatusList::from_value(edited),
        Err(StatusError::Proof(_))
    ));
    // A did:key issuer's list signed by another key is refused, at signing and at reading.
    let other = SecretKey::from_seed(&[2; 32]);
    assert!(matches!(
        list(Bitstring::new(MIN_BITS).unwrap()).sign(&other, t("2026-06-01T00:00:00Z")),
        Err(StatusError::WrongSigner { .. })
    ));
    let mut forged = list(Bitstring::new(MIN_BITS).unwrap());
    forged.issuer = Did::Key(DidKey::from_public_key(other.public_key()));
    let mut doc = forged.sign(&other, t("2026-06-01T00:00:00Z")).unwrap();
    doc["issuer"] = json!(issuer().1.to_string());
    assert!(VerifiedStatusList::from_value(doc).is_err());
}

#[test]
fn entries_kya_cannot_check_are_refused_not_skipped() {
    let good = StatusEntry::new(LIST, 7, StatusPurpose::Revocation).to_json();
    assert_eq!(
        StatusEntry::parse_all(Some(&good)).unwrap(),
        vec![StatusEntry::new(LIST, 7, StatusPurpose::Revocation)]
    );
    let mut cases = Vec::new();
    for (field, value) in [
        ("type", json!("StatusList2021Entry")),
        ("statusPurpose", json!("refresh")),
        ("statusPurpose", json!("message")),
        ("statusListIndex", json!("007")),
        ("statusListIndex", json!(7)),
        ("statusListIndex", json!("-1")),
        ("statusListIndex", json!(MAX_BITS.to_string())),
        ("statusListCredential", json!("not a url")),
        ("statusSize", json!(2)),
    ] {
        let mut e = good.clone();
        e[field] = value;
        cases.push(e);
    }
    cases.push(json!([]));
    cases.push(json!("https://issuer.example/status/1#7"));
    cases.push(json!([
        good.clone(),
        good.clone(),
        good.clone(),
        good.clone(),
        good.clone()
    ]));
    for case in cases {
        assert!(StatusEntry::parse_all(Some(&case)).is_err(), "{case}");
    }
}

#[test]
fn credentials_carry_their_entries_through_parsing() {
    use kya_core::credential::{AgentAuthorization, UnverifiedCredential};
    let (key, principal) = issuer();
    let agent = DidKey::from_public_key(SecretKey::from_seed(&[2; 32]).public_key());
    let grant = serde_json::from_value(json!({
        "action": "payments/send", "audience": ["did:web:shop.example"],
        "constraints": {"maxAmount": {"value": "25.00", "currency": "USD"}}
    }))
    .unwrap();
    let entry = StatusEntry::new(LIST, 9, StatusPurpose::Revocation);
    let credential = AgentAuthorization::builder(principal, agent)
        .valid_from(t("2026-01-01T00:00:00Z"))
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(grant)
        .status(entry.clone())
        .sign(&key, t("2026-01-01T00:00:00Z"))
        .unwrap();
    let bytes = serde_json::to_vec(credential.document()).unwrap();
    let parsed = UnverifiedCredential::from_slice(&bytes).unwrap();
    assert_eq!(parsed.kind().status(), &[entry]);
    // An entry of another kind makes the credential unreadable rather than unchecked.
    let mut doc = credential.document().clone();
    doc["credentialStatus"]["type"] = json!("SomeOtherStatus");
    assert!(UnverifiedCredential::from_value(doc).is_err());
}
