//! Registry checks: a revoked link, a key not bound at the time, an unregistered or inactive
//! agent, a wallet principal whose issuing key was not bound when it signed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::verify_chain;
use common::*;
use kya_core::credential::AgentAuthorization;
use kya_core::{Did, DidPkh};
use kya_verify::{Feedback, MemoryRegistry, Policy, RegistryView};

fn registry() -> std::sync::Arc<MemoryRegistry> {
    let r = std::sync::Arc::new(MemoryRegistry::new());
    r.add_agent(&registration(1), [0x11; 20], "https://agent.example/1.json");
    r.bind_agent_key(&registration(1), agent(0).public_key(), t0());
    r
}

#[test]
fn a_registered_chain_verifies_with_registry_facts() {
    let d = docs(&chain_with(2, true));
    let r = registry();
    let rater = [0x22; 20];
    for (index, value) in [(1, 90), (2, 70)] {
        r.add_feedback(
            &registration(1),
            Feedback {
                client: rater,
                index,
                value,
                value_decimals: 0,
                tag1: "quality".into(),
                tag2: String::new(),
                revoked: false,
            },
        );
    }
    let p = Policy::builder()
        .trust_root(Did::Key(did(&principal())))
        .trust_rater(rater)
        .build();
    let agent = verify_chain(&bytes(&d), &p, &clock(), Some(r.clone())).unwrap();
    assert!(agent.registry_checked());
    let facts = agent.chain()[0].registry_facts().unwrap();
    assert!(facts.record.active);
    let rep = facts.reputation.as_ref().unwrap();
    assert_eq!((rep.count, rep.average), (2, 80));
    let json = serde_json::to_value(&agent).unwrap();
    assert_eq!(json["chain"][0]["registry"]["record"]["agentId"], "1");
}

#[test]
fn a_revoked_link_is_refused() {
    let links = chain_with(3, true);
    let d = docs(&links);
    // The registered agent revokes the delegation it issued (link 1).
    let r = registry();
    r.revoke(
        &registration(1),
        links[1].digest(),
        42,
        t("2026-01-15T00:00:00Z"),
    );
    let e = assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), Some(r.clone())),
        "revoked",
        Some(1),
    );
    assert!(e.to_string().contains("block 42"), "{e}");
    // The owner revokes the authorisation itself (link 0).
    let r = registry();
    r.revoke(
        &registration(1),
        links[0].digest(),
        43,
        t("2026-01-15T00:00:00Z"),
    );
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), Some(r.clone())),
        "revoked",
        Some(0),
    );
    // A revocation under an unrelated agent's registration does not count.
    let r = registry();
    r.add_agent(&registration(7), [0x33; 20], "x");
    r.revoke(
        &registration(7),
        links[1].digest(),
        44,
        t("2026-01-15T00:00:00Z"),
    );
    assert!(verify_chain(&bytes(&d), &policy(), &clock(), Some(r.clone())).is_ok());
}

#[test]
fn a_key_not_bound_at_the_time_is_refused() {
    let d = docs(&chain_with(2, true));
    // Bound only after now.
    let r = std::sync::Arc::new(MemoryRegistry::new());
    r.add_agent(&registration(1), [0x11; 20], "x");
    r.bind_agent_key(
        &registration(1),
        agent(0).public_key(),
        t("2026-03-01T00:00:00Z"),
    );
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), Some(r.clone())),
        "key_not_bound",
        Some(0),
    );
    // Unbound before now (rotated away).
    let r = registry();
    r.unbind_agent_key(
        &registration(1),
        agent(0).public_key(),
        t("2026-01-20T00:00:00Z"),
    );
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), Some(r.clone())),
        "key_not_bound",
        Some(0),
    );
    // Another key bound.
    let r = std::sync::Arc::new(MemoryRegistry::new());
    r.add_agent(&registration(1), [0x11; 20], "x");
    r.bind_agent_key(&registration(1), key(9).public_key(), t0());
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), Some(r.clone())),
        "key_not_bound",
        Some(0),
    );
}

#[test]
fn unregistered_and_inactive_agents_are_refused() {
    let d = docs(&chain_with(2, true));
    let r = std::sync::Arc::new(MemoryRegistry::new());
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), Some(r.clone())),
        "agent_not_registered",
        Some(0),
    );
    let r = registry();
    r.set_active(&registration(1), false);
    assert_err(
        verify_chain(&bytes(&d), &policy(), &clock(), Some(r.clone())),
        "agent_inactive",
        Some(0),
    );
}

fn pkh_chain() -> (DidPkh, Vec<u8>) {
    let wallet = DidPkh::new(31337, [0xaa; 20]);
    let root = AgentAuthorization::builder(Did::Pkh(wallet), did(&agent(0)))
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(root_grant())
        .sign(&principal(), t("2026-01-10T00:00:00Z"))
        .unwrap();
    (wallet, bytes(&docs(&[root])))
}

#[test]
fn a_wallet_principal_needs_its_key_bound_now() {
    let (wallet, chain) = pkh_chain();
    let trusting = Policy::builder().trust_root(Did::Pkh(wallet)).build();
    let any_registered = Policy::builder().trust_registry_principals(true).build();
    // No registry view: cannot be checked.
    let e = assert_err(
        verify_chain(&chain, &trusting, &clock(), None),
        "principal_key_not_bound",
        Some(0),
    );
    assert!(e.to_string().contains("no registry view"), "{e}");
    // Bound after now (a binding the view does not hold yet): refused.
    let r = std::sync::Arc::new(MemoryRegistry::new());
    r.bind_principal_key(&wallet, principal().public_key(), now().add_seconds(3600));
    assert_err(
        verify_chain(&chain, &trusting, &clock(), Some(r.clone())),
        "principal_key_not_bound",
        Some(0),
    );
    // Bound now (even if bound after the proof's `created`): verifies, under an explicit
    // root or "any registered principal".
    let r = std::sync::Arc::new(MemoryRegistry::new());
    r.bind_principal_key(&wallet, principal().public_key(), t("2026-01-11T00:00:00Z"));
    assert!(verify_chain(&chain, &trusting, &clock(), Some(r.clone())).is_ok());
    let agent = verify_chain(&chain, &any_registered, &clock(), Some(r.clone())).unwrap();
    assert_eq!(agent.principal(), &Did::Pkh(wallet));
    // Not trusted at all without either.
    assert_err(
        verify_chain(&chain, &Policy::default(), &clock(), Some(r.clone())),
        "untrusted_root",
        Some(0),
    );
    // Unbound before now: every credential the key signed is refused.
    r.unbind_principal_key(&wallet, principal().public_key(), now().add_seconds(-1));
    assert_err(
        verify_chain(&chain, &trusting, &clock(), Some(r.clone())),
        "principal_key_not_bound",
        Some(0),
    );
    // A binding on another chain does not count.
    let r = std::sync::Arc::new(MemoryRegistry::new());
    r.bind_principal_key(&DidPkh::new(1, [0xaa; 20]), principal().public_key(), t0());
    assert!(!r.principal_key_bound(&wallet, &principal().public_key(), now()));
    assert_err(
        verify_chain(&chain, &trusting, &clock(), Some(r.clone())),
        "principal_key_not_bound",
        Some(0),
    );
}

/// The attack: a thief holds the wallet principal's issuing key; the principal unbinds it
/// on-chain. The thief then mints a new authorisation whose `created` (and `validFrom`) it
/// back-dates into the bound period. The registry view says the key is not bound *now*, so
/// the credential is refused, whatever times the signer wrote.
#[test]
fn a_stolen_principal_key_is_useless_after_unbinding_whatever_created_says() {
    let wallet = DidPkh::new(31337, [0xaa; 20]);
    let stolen = principal();
    let r = std::sync::Arc::new(MemoryRegistry::new());
    r.bind_principal_key(&wallet, stolen.public_key(), t0());
    let unbound_at = now().add_seconds(-3600);
    r.unbind_principal_key(&wallet, stolen.public_key(), unbound_at);
    let backdated = t("2026-01-10T00:00:00Z");
    assert!(backdated < unbound_at);
    let minted = AgentAuthorization::builder(Did::Pkh(wallet), did(&agent(5)))
        .valid_from(backdated)
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(root_grant())
        .sign(&stolen, backdated)
        .unwrap();
    let trusting = Policy::builder().trust_root(Did::Pkh(wallet)).build();
    let e = assert_err(
        verify_chain(
            &bytes(&docs(&[minted])),
            &trusting,
            &clock(),
            Some(r.clone()),
        ),
        "principal_key_not_bound",
        Some(0),
    );
    assert!(
        e.to_string().contains(&now().to_string()),
        "judged now: {e}"
    );
}

/// A wallet principal revokes what it issued, although someone else owns the agent; the
/// verifier sees it offline. Another wallet's revocation of the same digest, or one on
/// another chain, counts for nothing.
#[test]
fn a_wallet_principal_revokes_what_it_issued() {
    let (wallet, chain) = pkh_chain();
    let trusting = Policy::builder().trust_root(Did::Pkh(wallet)).build();
    let r = std::sync::Arc::new(MemoryRegistry::new());
    r.bind_principal_key(&wallet, principal().public_key(), t0());
    assert!(verify_chain(&chain, &trusting, &clock(), Some(r.clone())).is_ok());
    let digest = verify_chain(&chain, &trusting, &clock(), Some(r.clone()))
        .unwrap()
        .chain()[0]
        .digest();
    r.revoke_as_issuer(&DidPkh::new(31337, [0xbb; 20]), digest, 7, t0());
    r.revoke_as_issuer(&DidPkh::new(1, [0xaa; 20]), digest, 7, t0());
    assert!(
        verify_chain(&chain, &trusting, &clock(), Some(r.clone())).is_ok(),
        "only the issuer's own revocation, on the registry's chain, counts"
    );
    r.revoke_as_issuer(&wallet, digest, 9, t("2026-01-12T00:00:00Z"));
    let e = assert_err(
        verify_chain(&chain, &trusting, &clock(), Some(r.clone())),
        "revoked_by_issuer",
        Some(0),
    );
    assert!(e.to_string().contains(&wallet.to_string()), "{e}");
    assert!(e.to_string().contains("block 9"), "{e}");
}

/// An untrusted rater's feedback never enters a summary (threat model T12).
#[test]
fn an_untrusted_raters_feedback_is_excluded() {
    let r = registry();
    let (trusted, sybil) = ([0x22; 20], [0x66; 20]);
    for (client, value) in [(trusted, 80), (sybil, 0), (sybil, 0)] {
        r.add_feedback(
            &registration(1),
            Feedback {
                client,
                index: 1,
                value,
                value_decimals: 0,
                tag1: String::new(),
                tag2: String::new(),
                revoked: false,
            },
        );
    }
    let s = r.reputation(&registration(1), &[trusted]).unwrap();
    assert_eq!((s.count, s.average), (1, 80));
    assert!(r.reputation(&registration(1), &[]).is_none());
}

/// `as_of` is what the view says it reflects: settable in memory, `None` by default.
#[test]
fn a_memory_registry_reports_its_as_of_time() {
    let r = std::sync::Arc::new(MemoryRegistry::new());
    assert_eq!(r.as_of(), None);
    let before = r.state_id();
    r.set_as_of(Some(t0()));
    assert_eq!(r.as_of(), Some(t0()));
    assert_ne!(
        r.state_id(),
        before,
        "a change of as_of is a change of state"
    );
}
