//! ERC-8004 agent cards under a policy that requires them: a registered agent whose card
//! (at the `agentURI` the registry records) is missing, names another agent, or is inactive
//! is refused; an agent cannot borrow another agent's card by pointing at it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use kya_core::card::{AgentCard, KYA_TRUST, Service};
use kya_verify::{AgentCards, MemoryRegistry, Policy, Verifier};

const URI: &str = "https://agent.example/1.json";

fn registry(uri: &str) -> Arc<MemoryRegistry> {
    let r = Arc::new(MemoryRegistry::new());
    r.add_agent(&registration(1), [0x11; 20], uri);
    r.bind_agent_key(&registration(1), agent(0).public_key(), t0());
    r
}

fn card(id: u64, active: bool) -> AgentCard {
    AgentCard {
        name: "agent".into(),
        description: "the tests' agent".into(),
        image: None,
        services: vec![Service::new("DID", did(&agent(0)).to_string())],
        registrations: vec![registration(id)],
        supported_trust: vec![KYA_TRUST.into()],
        active,
        x402_support: None,
    }
}

fn cards(entries: &[(&str, AgentCard)]) -> Arc<AgentCards> {
    let mut c = AgentCards::new();
    for (uri, card) in entries {
        c.insert(*uri, card.clone());
    }
    Arc::new(c)
}

fn requiring() -> Policy {
    Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .audience("did:web:shop.example")
        .require_agent_cards(true)
        .build()
}

fn verify(
    policy: Policy,
    uri: &str,
    held: Option<Arc<AgentCards>>,
) -> Result<(), kya_verify::VerifyError> {
    let mut v = Verifier::new(policy)
        .with_clock(Arc::new(clock()))
        .with_registry(registry(uri));
    if let Some(c) = held {
        v = v.with_agent_cards(c);
    }
    v.verify_chain(&bytes(&docs(&chain_with(2, true))))
        .map(|_| ())
}

#[test]
fn a_registered_agent_with_its_active_card_is_admitted() {
    verify(requiring(), URI, Some(cards(&[(URI, card(1, true))]))).unwrap();
    // Without the requirement, cards are not consulted.
    verify(policy(), URI, None).unwrap();
}

#[test]
fn a_missing_card_is_a_refusal() {
    assert_err(
        verify(requiring(), URI, None),
        "agent_card_missing",
        Some(0),
    );
    assert_err(
        verify(
            requiring(),
            URI,
            Some(cards(&[("https://elsewhere.example/", card(1, true))])),
        ),
        "agent_card_missing",
        Some(0),
    );
}

#[test]
fn a_card_for_another_agent_or_an_inactive_one_is_a_refusal() {
    // The agent points its agentURI at agent 2's card.
    let borrowed = "https://famous.example/2.json";
    let e = assert_err(
        verify(
            requiring(),
            borrowed,
            Some(cards(&[(borrowed, card(2, true))])),
        ),
        "agent_card_mismatch",
        Some(0),
    );
    assert!(e.to_string().contains("does not name"), "{e}");
    let e = assert_err(
        verify(requiring(), URI, Some(cards(&[(URI, card(1, false))]))),
        "agent_card_mismatch",
        Some(0),
    );
    assert!(e.to_string().contains("inactive"), "{e}");
}
