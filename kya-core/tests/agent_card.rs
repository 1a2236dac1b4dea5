//! ERC-8004 registration files: kya's cards read back as written, every violation of the
//! registration-v1 shape is reported (not only the first), and a card names a registration
//! only if it lists it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kya_core::card::{AgentCard, KYA_TRUST, MAX_LIST, REGISTRATION_V1, Service, well_known};
use kya_core::credential::AgentRegistration;
use serde_json::{Value, json};

fn registration(id: u64) -> AgentRegistration {
    serde_json::from_value(json!({
        "agentRegistry": "eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "agentId": id.to_string()
    }))
    .unwrap()
}

fn card() -> AgentCard {
    AgentCard {
        name: "shopper".into(),
        description: "buys books within its grants".into(),
        image: Some("https://shopper.example/logo.png".into()),
        services: vec![
            Service::new("web", "https://shopper.example/"),
            Service::new(
                "DID",
                "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
            ),
        ],
        registrations: vec![registration(7)],
        supported_trust: vec![KYA_TRUST.into()],
        active: true,
        x402_support: Some(false),
    }
}

#[test]
fn a_card_reads_back_as_written_with_erc_8004_field_forms() {
    let json = card().to_json();
    assert_eq!(json["type"], REGISTRATION_V1);
    // The token id is a JSON number, as the standard writes it.
    assert_eq!(json["registrations"][0]["agentId"], json!(7));
    let read = AgentCard::from_slice(&serde_json::to_vec(&json).unwrap()).unwrap();
    assert_eq!(read, card());
    assert!(read.names(&registration(7)));
    assert!(!read.names(&registration(8)));
}

#[test]
fn every_violation_is_listed() {
    let mut bad: Value = card().to_json();
    bad["type"] = json!("https://example.com/other");
    bad["name"] = json!("");
    bad["image"] = json!("not a url");
    bad["services"][1] = json!({"name": "DID"});
    bad["registrations"][0]["agentRegistry"] = json!("eip155:x:0x1");
    bad["active"] = json!("yes");
    let err = AgentCard::from_value(&bad).unwrap_err();
    let all = err.violations.join("\n");
    for expected in [
        "type must be",
        "name must be",
        "image must be a url",
        "services[1] needs an endpoint",
        "registrations[0] agentRegistry",
        "active must be true or false",
    ] {
        assert!(all.contains(expected), "{expected} missing from:\n{all}");
    }
    assert_eq!(err.violations.len(), 6, "{all}");
}

#[test]
fn untrusted_cards_are_bounded() {
    let mut many = card().to_json();
    many["services"] = Value::Array(vec![
        json!({"name": "web", "endpoint": "https://a.example/"});
        MAX_LIST + 1
    ]);
    assert!(AgentCard::from_value(&many).is_err());
    let huge = vec![b' '; 64 * 1024 + 1];
    assert!(AgentCard::from_slice(&huge).is_err());
    // A card with a hundred bad entries reports a bounded number of them.
    let mut noisy = card().to_json();
    noisy["services"] = Value::Array(vec![json!(1); MAX_LIST]);
    let err = AgentCard::from_value(&noisy).unwrap_err();
    assert!(err.violations.len() <= 32);
}

#[test]
fn the_domain_verification_file_lists_the_registrations() {
    let file = well_known(&[registration(7), registration(9)]);
    assert_eq!(
        file,
        json!({"registrations": [
            {"agentId": 7, "agentRegistry": "eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3"},
            {"agentId": 9, "agentRegistry": "eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3"}
        ]})
    );
}
