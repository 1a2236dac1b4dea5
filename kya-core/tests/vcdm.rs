//! VC Data Model 2.0: each MUST that a document shows by itself, one case at a time. Every
//! refused document is refused for the rule it breaks, at the path where it breaks it, and
//! nothing else is reported; every accepted one yields no violation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use kya_core::vcdm::{
    self, DocumentKind, MAX_DEPTH, MAX_VIOLATIONS, Rule, VC_V2_TERMS, check_credential,
    check_presentation,
};
use serde_json::{Value, json};

const V2: &str = "https://www.w3.org/ns/credentials/v2";

fn vc() -> Value {
    json!({
        "@context": [V2],
        "id": "urn:uuid:5b0e4a1e-8c7a-4c1e-9a43-2f5d0c6f7a10",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:subject", "memberOf": "a club"}
    })
}

fn vp() -> Value {
    json!({
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": "did:example:holder",
        "verifiableCredential": [vc()]
    })
}

fn with(mut doc: Value, member: &str, value: Value) -> Value {
    doc[member] = value;
    doc
}

fn without(mut doc: Value, member: &str) -> Value {
    doc.as_object_mut().unwrap().remove(member);
    doc
}

/// The one violation `doc` must have: its code, path and section.
fn only(found: &[vcdm::Violation], code: &str, path: &str, section: &str) {
    assert_eq!(found.len(), 1, "expected one violation, got {found:#?}");
    assert_eq!(found[0].rule.code(), code, "{found:#?}");
    assert_eq!(found[0].path, path, "{found:#?}");
    assert_eq!(found[0].rule.section(), section, "{found:#?}");
}

#[test]
fn conforming_credentials_and_presentations_pass() {
    assert_eq!(check_credential(&vc()), vec![]);
    assert_eq!(check_presentation(&vp()), vec![]);
    // Every optional member in a form the specification allows.
    let full = json!({
        "@context": [V2, "https://example.org/ctx/v1", {"Club": "https://example.org/#Club"}],
        "id": "https://example.org/credentials/1",
        "type": ["VerifiableCredential", "Club"],
        "name": [{"@value": "Carte", "@language": "fr"}, {"@value": "بطاقة", "@language": "ar", "@direction": "rtl"}],
        "description": "a membership",
        "issuer": {"id": "did:example:issuer", "name": {"@value": "Club", "@language": "en-GB"}},
        "validFrom": "2026-01-01T00:00:00+01:00",
        "validUntil": "2026-12-31T23:59:59.5Z",
        "credentialSubject": [{"id": "did:example:a", "x": 1}, {"y": 2}],
        "credentialStatus": {"type": "BitstringStatusListEntry"},
        "credentialSchema": [{"id": "https://example.org/schema.json", "type": "JsonSchema"}],
        "evidence": [{"type": ["Evidence"], "id": "https://example.org/evidence/1"}],
        "termsOfUse": {"type": "IssuerPolicy"},
        "refreshService": {"type": "Refresh"},
        "relatedResource": [
            {"id": "https://example.org/a.png", "digestSRI": "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"},
            {"id": "https://example.org/b.png", "digestMultibase": "uEiBZlVztZpfWHgPyslVv6-UwirFoQoRvW1htfx963sknNA"}
        ]
    });
    assert_eq!(check_credential(&full), vec![]);
    // An enveloped credential inside a presentation.
    let enveloped = with(
        vp(),
        "verifiableCredential",
        json!([{"@context": V2, "id": "data:application/vc+jwt,eyJ", "type": "EnvelopedVerifiableCredential"}]),
    );
    assert_eq!(check_presentation(&enveloped), vec![]);
    assert_eq!(
        check_presentation(&with(vp(), "holder", json!({"id": "did:example:h"}))),
        vec![]
    );
}

#[test]
fn contexts_start_with_v2_and_hold_urls_or_objects() {
    only(
        &check_credential(&without(vc(), "@context")),
        "context_missing",
        "$",
        "4.3",
    );
    let swapped = with(vc(), "@context", json!(["https://example.org/ctx/v1", V2]));
    only(
        &check_credential(&swapped),
        "context_first_not_v2",
        "$.@context",
        "4.3",
    );
    let not_url = with(vc(), "@context", json!([V2, "https ://not a url"]));
    only(
        &check_credential(&not_url),
        "context_entry_invalid",
        "$.@context[1]",
        "4.3",
    );
    let number = with(vc(), "@context", json!([V2, 7]));
    only(
        &check_credential(&number),
        "context_entry_invalid",
        "$.@context[1]",
        "4.3",
    );
    let vp_swapped = with(vp(), "@context", json!([{"X": "https://e.org/#X"}, V2]));
    only(
        &check_presentation(&vp_swapped),
        "context_first_not_v2",
        "$.@context",
        "4.3",
    );
}

#[test]
fn protected_terms_are_not_redefined_and_terms_map_to_iris() {
    let redefined = with(
        vc(),
        "@context",
        json!([V2, {"VerifiableCredential": "https://example.org/#Other"}]),
    );
    only(
        &check_credential(&redefined),
        "protected_term_redefined",
        "$.@context[1]",
        "5.2",
    );
    // A term protected by an earlier inline context, redefined differently by a later one.
    let twice = with(
        with(vc(), "type", json!(["VerifiableCredential", "Club"])),
        "@context",
        json!([V2, {"@protected": true, "Club": "https://example.org/#Club"}, {"Club": "https://example.org/#Other"}]),
    );
    only(
        &check_credential(&twice),
        "protected_term_redefined",
        "$.@context[2]",
        "5.2",
    );
    // kya's context is protected too.
    let kya = with(
        vc(),
        "@context",
        json!([V2, "https://w3id.org/kya/v1", {"AgentAuthorization": "https://evil.example/#A"}]),
    );
    let found = check_credential(&kya);
    only(&found, "protected_term_redefined", "$.@context[2]", "5.2");
    assert!(found[0].to_string().contains("AgentAuthorization"));
    let not_iri = with(
        with(vc(), "type", json!(["VerifiableCredential", "Club"])),
        "@context",
        json!([V2, {"Club": "https ://not-a-url#Club"}]),
    );
    only(
        &check_credential(&not_iri),
        "context_term_not_iri",
        "$.@context[1]",
        "4.5",
    );
}

#[test]
fn types_are_required_strings_and_mapped() {
    only(
        &check_credential(&without(vc(), "type")),
        "type_missing",
        "$",
        "4.5",
    );
    let other = with(vc(), "type", json!(["Club"]));
    only(&check_credential(&other), "type_lacks", "$.type", "4.5");
    let number = with(vc(), "type", json!(["VerifiableCredential", 2]));
    only(
        &check_credential(&number),
        "type_not_string",
        "$.type",
        "4.5",
    );
    let empty = with(vc(), "type", json!([]));
    only(
        &check_credential(&empty),
        "type_not_string",
        "$.type",
        "4.5",
    );
    let unmapped = with(
        with(vc(), "type", json!(["VerifiableCredential", "Club"])),
        "@context",
        json!([V2, {"@vocab": null}]),
    );
    only(
        &check_credential(&unmapped),
        "type_unmapped",
        "$.type[1]",
        "4.5",
    );
    only(
        &check_presentation(&without(vp(), "type")),
        "type_missing",
        "$",
        "4.5",
    );
    let vp_other = with(vp(), "type", json!(["Manager"]));
    only(
        &check_presentation(&vp_other),
        "type_lacks",
        "$.type",
        "4.5",
    );
}

#[test]
fn ids_are_single_urls_everywhere() {
    for (bad, path) in [
        (with(vc(), "id", json!(null)), "$.id"),
        (with(vc(), "id", json!("no-scheme")), "$.id"),
        (with(vc(), "id", json!("https ://space")), "$.id"),
        (
            with(
                vc(),
                "id",
                json!(["https://a.example/1", "https://b.example/1"]),
            ),
            "$.id",
        ),
        (
            with(
                vc(),
                "credentialSubject",
                json!({"id": ["did:example:a", "did:example:b"]}),
            ),
            "$.credentialSubject.id",
        ),
        (
            with(
                vc(),
                "credentialStatus",
                json!({"id": "https ://x", "type": "S"}),
            ),
            "$.credentialStatus.id",
        ),
    ] {
        only(&check_credential(&bad), "id_not_url", path, "4.4");
    }
}

#[test]
fn issuer_is_a_url_or_an_object_with_a_url_id() {
    only(
        &check_credential(&without(vc(), "issuer")),
        "issuer_missing",
        "$",
        "4.7",
    );
    for bad in [
        json!(null),
        json!("fake-issuer"),
        json!({"id": "fake"}),
        json!({"name": "x"}),
    ] {
        let found = check_credential(&with(vc(), "issuer", bad.clone()));
        assert_eq!(found[0].rule, Rule::IssuerInvalid, "{bad}");
        assert_eq!(found[0].path, "$.issuer");
    }
}

#[test]
fn subjects_are_non_empty_objects() {
    only(
        &check_credential(&without(vc(), "credentialSubject")),
        "subject_missing",
        "$",
        "4.8",
    );
    let empty = with(vc(), "credentialSubject", json!({}));
    only(
        &check_credential(&empty),
        "subject_empty",
        "$.credentialSubject",
        "4.8",
    );
    let one_empty = with(
        vc(),
        "credentialSubject",
        json!([{"id": "did:example:a"}, {}]),
    );
    only(
        &check_credential(&one_empty),
        "subject_empty",
        "$.credentialSubject[1]",
        "4.8",
    );
    for bad in [json!([]), json!("did:example:a"), json!(["did:example:a"])] {
        let found = check_credential(&with(vc(), "credentialSubject", bad.clone()));
        assert_eq!(found.len(), 1, "{bad}");
        assert_eq!(found[0].rule, Rule::SubjectInvalid, "{bad}");
    }
}

#[test]
fn validity_is_date_time_stamps_in_order() {
    for bad in [
        json!("Sat 25 Feb 2023 07:16:31 PM CST"),
        json!("2026-01-01"),
        json!("2026-01-01T00:00:00"),
        json!("2026-01-01t00:00:00z"),
        json!(1_767_225_600),
    ] {
        let found = check_credential(&with(vc(), "validFrom", bad.clone()));
        only(&found, "datetimestamp_invalid", "$.validFrom", "4.9");
        let found = check_credential(&with(vc(), "validUntil", bad));
        only(&found, "datetimestamp_invalid", "$.validUntil", "4.9");
    }
    let inverted = with(vc(), "validUntil", json!("2025-12-31T23:59:59Z"));
    let found = check_credential(&inverted);
    only(&found, "validity_inverted", "$.validFrom", "4.9");
    assert!(found[0].to_string().contains("2025-12-31T23:59:59Z"));
    // The same instant is in order.
    let same = with(vc(), "validUntil", json!("2026-01-01T01:00:00+01:00"));
    assert_eq!(check_credential(&same), vec![]);
}

#[test]
fn typed_objects_specify_their_type() {
    for (property, section) in [
        ("credentialStatus", "4.10"),
        ("credentialSchema", "4.11"),
        ("evidence", "5.6"),
        ("termsOfUse", "5.5"),
        ("refreshService", "5.4"),
        ("proof", "4.12"),
    ] {
        let missing = with(vc(), property, json!({"id": "https://example.org/x"}));
        only(
            &check_credential(&missing),
            "type_required",
            &format!("$.{property}"),
            section,
        );
        let second = with(
            vc(),
            property,
            json!([{"id": "https://example.org/x", "type": "T"}, {"id": "https://example.org/y"}]),
        );
        only(
            &check_credential(&second),
            "type_required",
            &format!("$.{property}[1]"),
            section,
        );
        let not_object = with(vc(), property, json!("https://example.org/x"));
        only(
            &check_credential(&not_object),
            "not_objects",
            &format!("$.{property}"),
            section,
        );
        let none = with(vc(), property, json!([]));
        only(
            &check_credential(&none),
            "not_objects",
            &format!("$.{property}"),
            section,
        );
    }
    let schema = with(vc(), "credentialSchema", json!({"type": "JsonSchema"}));
    only(
        &check_credential(&schema),
        "id_required",
        "$.credentialSchema",
        "4.11",
    );
    // Terms of use on a presentation too.
    let tou = with(vp(), "termsOfUse", json!({}));
    only(
        &check_presentation(&tou),
        "type_required",
        "$.termsOfUse",
        "5.5",
    );
}

#[test]
fn names_and_descriptions_are_strings_or_language_values() {
    for (bad, reason) in [
        (
            json!({"@value": "x", "@language": "en", "url": "did:example:c"}),
            "unexpected member",
        ),
        (json!({"@language": "en"}), "@value"),
        (json!({"@value": 3}), "@value"),
        (
            json!({"@value": "x", "@language": "english language"}),
            "bcp47",
        ),
        (json!({"@value": "x", "@direction": "up"}), "ltr or rtl"),
        (json!(7), "not a string"),
        (json!([]), "not a string"),
    ] {
        for property in ["name", "description"] {
            let found = check_credential(&with(vc(), property, bad.clone()));
            only(
                &found,
                "language_value_invalid",
                &format!("$.{property}"),
                "4.6",
            );
            assert!(found[0].to_string().contains(reason), "{found:?}");
        }
    }
    let issuer = with(
        vc(),
        "issuer",
        json!({"id": "did:example:i", "name": {"@value": "I", "@language": "en", "url": "x"}}),
    );
    only(
        &check_credential(&issuer),
        "language_value_invalid",
        "$.issuer.name",
        "4.6",
    );
    let second = with(
        vc(),
        "description",
        json!(["fine", {"@value": "x", "x": 1}]),
    );
    only(
        &check_credential(&second),
        "language_value_invalid",
        "$.description[1]",
        "4.6",
    );
}

#[test]
fn related_resources_have_ids_and_digests() {
    let sri = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let no_digest = with(vc(), "relatedResource", json!([{"id": "https://e.org/a"}]));
    only(
        &check_credential(&no_digest),
        "digest_invalid",
        "$.relatedResource[0]",
        "5.3",
    );
    let no_id = with(vc(), "relatedResource", json!({"digestSRI": sri}));
    only(
        &check_credential(&no_id),
        "id_required",
        "$.relatedResource",
        "5.3",
    );
    let repeated = with(
        vc(),
        "relatedResource",
        json!([{"id": "https://e.org/a", "digestSRI": sri}, {"id": "https://e.org/a", "digestSRI": sri}]),
    );
    only(
        &check_credential(&repeated),
        "related_resource_repeated",
        "$.relatedResource[1]",
        "5.3",
    );
    let bad_sri = with(
        vc(),
        "relatedResource",
        json!({"id": "https://e.org/a", "digestSRI": "md5-xx"}),
    );
    only(
        &check_credential(&bad_sri),
        "digest_invalid",
        "$.relatedResource",
        "5.3",
    );
    let bad_multibase = with(
        vc(),
        "relatedResource",
        json!({"id": "https://e.org/a", "digestMultibase": "not multibase!"}),
    );
    only(
        &check_credential(&bad_multibase),
        "digest_invalid",
        "$.relatedResource",
        "5.3",
    );
}

#[test]
fn presentations_hold_credential_objects_and_a_url_holder() {
    let string_vc = with(
        vp(),
        "verifiableCredential",
        json!(["eyJhbGciOiJFUzI1NiJ9.e30.sig"]),
    );
    only(
        &check_presentation(&string_vc),
        "verifiable_credential_not_object",
        "$.verifiableCredential[0]",
        "4.13",
    );
    for bad in [
        json!("z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"),
        json!({"name": "Acme"}),
    ] {
        only(
            &check_presentation(&with(vp(), "holder", bad)),
            "holder_invalid",
            "$.holder",
            "4.13",
        );
    }
    // An embedded credential is checked as a credential.
    let vc_untyped = with(
        vp(),
        "verifiableCredential",
        json!([with(vc(), "type", json!(["Club"]))]),
    );
    only(
        &check_presentation(&vc_untyped),
        "type_lacks",
        "$.verifiableCredential[0].type",
        "4.5",
    );
    let vc_no_issuer = with(vp(), "verifiableCredential", json!(without(vc(), "issuer")));
    only(
        &check_presentation(&vc_no_issuer),
        "issuer_missing",
        "$.verifiableCredential",
        "4.7",
    );
    // An enveloped credential: data: URL id and its type.
    let untyped_envelope = with(
        vp(),
        "verifiableCredential",
        json!([{"@context": V2, "id": "data:application/vc+jwt,eyJ"}]),
    );
    only(
        &check_presentation(&untyped_envelope),
        "type_lacks",
        "$.verifiableCredential[0].type",
        "4.5",
    );
    let not_data = with(
        vp(),
        "verifiableCredential",
        json!([{"@context": V2, "id": "https://e.org/1", "type": "EnvelopedVerifiableCredential"}]),
    );
    only(
        &check_presentation(&not_data),
        "envelope_invalid",
        "$.verifiableCredential[0].id",
        "4.13.1",
    );
}

#[test]
fn every_violation_is_reported_not_just_the_first() {
    let bad = json!({
        "@context": ["https://example.org/ctx/v1"],
        "id": "nope",
        "type": ["Club"],
        "credentialSubject": {},
        "validFrom": "yesterday",
        "evidence": {},
        "name": 3
    });
    let codes: Vec<&str> = check_credential(&bad)
        .iter()
        .map(|v| v.rule.code())
        .collect();
    for code in [
        "context_first_not_v2",
        "type_lacks",
        "issuer_missing",
        "subject_empty",
        "datetimestamp_invalid",
        "language_value_invalid",
        "type_required",
        "id_not_url",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
}

#[test]
fn work_is_bounded_on_hostile_documents() {
    // Thousands of faults: at most MAX_VIOLATIONS reported, then one summary.
    let many: Vec<Value> = (0..5000).map(|_| json!({"id": "not a url"})).collect();
    let found = check_credential(&with(vc(), "evidence", Value::Array(many)));
    assert_eq!(found.len(), MAX_VIOLATIONS + 1);
    assert_eq!(
        found[MAX_VIOLATIONS].rule,
        Rule::TooManyViolations {
            limit: MAX_VIOLATIONS
        }
    );
    // Deeper than the walk goes: refused, not recursed into.
    let mut deep = json!({"leaf": true});
    for _ in 0..(MAX_DEPTH + 10) {
        deep = json!({"x": deep});
    }
    let found = check_credential(&with(vc(), "credentialSubject", deep));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, Rule::TooDeep);
    // Attacker-chosen strings are truncated in what is reported.
    let long = "x".repeat(10_000);
    let found = check_credential(&with(vc(), "@context", json!([long])));
    assert!(found[0].to_string().len() < 300);
    // Not objects at all.
    assert_eq!(check_credential(&json!([1]))[0].rule, Rule::NotAnObject);
    assert_eq!(check_presentation(&json!("vp"))[0].rule, Rule::NotAnObject);
}

#[test]
fn document_kind_follows_the_type() {
    assert_eq!(DocumentKind::of(&vc()), DocumentKind::Credential);
    assert_eq!(DocumentKind::of(&vp()), DocumentKind::Presentation);
    assert_eq!(
        DocumentKind::of(&without(vp(), "type")),
        DocumentKind::Presentation
    );
    assert_eq!(DocumentKind::of(&json!({})), DocumentKind::Credential);
}

/// The top-level terms a context file defines.
fn terms_of(text: &str) -> Vec<String> {
    let file: Value = serde_json::from_str(text).unwrap();
    let mut terms: Vec<String> = file["@context"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.starts_with('@'))
        .cloned()
        .collect();
    terms.sort_unstable();
    terms
}

fn sorted(terms: &[&str]) -> Vec<String> {
    let mut terms: Vec<String> = terms.iter().map(|t| (*t).to_owned()).collect();
    terms.sort_unstable();
    terms
}

#[test]
fn protected_term_lists_are_the_context_files_terms() {
    let v2 = include_str!("../../test-vectors/contexts/credentials-v2.jsonld");
    assert_eq!(terms_of(v2), sorted(VC_V2_TERMS));
    let kya = include_str!("../../test-vectors/contexts/kya-v1.jsonld");
    assert_eq!(terms_of(kya), sorted(kya_core::credential::KYA_V1_TERMS));
}

/// kya's own credentials: the full check, then only the contexts kya's kinds are defined with.
mod kya_contexts {
    use kya_core::contexts::{AcceptedContexts, ContextError};
    use kya_core::credential::{CredentialError, UnverifiedCredential};
    use kya_core::proof::{self, ProofOptions};
    use kya_core::{SecretKey, Timestamp};
    use serde_json::{Value, json};

    const KYA: &str = "https://w3id.org/kya/v1";

    /// An authorisation the issuer itself signed with `context`.
    fn signed_with(context: Value) -> Value {
        let key = SecretKey::from_seed(&[7; 32]);
        let did = kya_core::DidKey::from_public_key(key.public_key()).to_string();
        let doc = json!({
            "@context": context,
            "id": "urn:uuid:00000000-0000-4000-8000-000000000001",
            "type": ["VerifiableCredential", "AgentAuthorization"],
            "issuer": did,
            "validFrom": "2026-01-01T00:00:00Z",
            "validUntil": "2026-12-31T00:00:00Z",
            "credentialSubject": {"id": did, "grants": [{"action": "payments"}]}
        });
        let created: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        proof::sign(
            &doc,
            &ProofOptions::assertion(key.public_key()).created(created),
            &key,
        )
        .unwrap()
    }

    #[test]
    fn kyas_two_contexts_are_accepted() {
        let parsed = UnverifiedCredential::from_value(signed_with(json!([super::V2, KYA])));
        assert!(parsed.unwrap().verify_proof().is_ok());
    }

    #[test]
    fn an_appended_inline_context_redefining_a_kya_term_is_refused() {
        let doc =
            signed_with(json!([super::V2, KYA, {"AgentAuthorization": "https://evil.example/#A"}]));
        match UnverifiedCredential::from_value(doc) {
            Err(CredentialError::DataModel(v)) => {
                assert_eq!(v.as_slice()[0].rule.code(), "protected_term_redefined");
            }
            other => panic!("{other:?}"),
        }
        // An inline object that redefines nothing is refused all the same.
        let doc = signed_with(json!([super::V2, KYA, {"extra": "https://example.org/#extra"}]));
        assert_eq!(
            UnverifiedCredential::from_value(doc).unwrap_err(),
            CredentialError::Context(ContextError::Inline { index: 2 })
        );
        let allowing = AcceptedContexts::default().allow("https://example.org/ctx/v1");
        let doc = signed_with(json!([super::V2, KYA, {"extra": "https://example.org/#extra"}]));
        assert!(UnverifiedCredential::from_value_accepting(doc, &allowing).is_err());
    }

    #[test]
    fn an_appended_url_is_refused_unless_accepted() {
        let extra = "https://example.org/ctx/v1";
        let doc = signed_with(json!([super::V2, KYA, extra]));
        assert_eq!(
            UnverifiedCredential::from_value(doc.clone()).unwrap_err(),
            CredentialError::Context(ContextError::NotAccepted {
                index: 2,
                url: extra.into()
            })
        );
        let allowing = AcceptedContexts::default().allow(extra);
        let parsed = UnverifiedCredential::from_value_accepting(doc, &allowing).unwrap();
        assert!(parsed.verify_proof().is_ok());
    }

    #[test]
    fn kyas_context_must_follow_v2() {
        for (context, index) in [
            (json!([super::V2]), 1),
            (json!([super::V2, extra_first(), KYA]), 1),
        ] {
            assert_eq!(
                UnverifiedCredential::from_value(signed_with(context)).unwrap_err(),
                CredentialError::Context(ContextError::Missing {
                    index,
                    expected: KYA
                })
            );
        }
    }

    fn extra_first() -> &'static str {
        "https://example.org/ctx/v1"
    }
}
