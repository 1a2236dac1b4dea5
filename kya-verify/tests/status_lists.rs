//! Bitstring Status List revocation, from the attacker's side: a did:key principal revokes an
//! authorisation it gave (no registry involved) and every verifier holding the list refuses
//! it, fresh or cached; a list the verifier does not hold, a list by anyone but the link's
//! issuer and signing key, and a stale list are refusals, never a pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, RwLock};

use common::*;
use kya_core::credential::{AgentAuthorization, AgentDelegation, VerifiedCredential};
use kya_core::status::{
    Bitstring, MIN_BITS, StatusEntry, StatusList, StatusPurpose, VerifiedStatusList,
};
use kya_core::{Did, SecretKey, Timestamp};
use kya_verify::{FixedClock, StatusLists, Verifier};

const LIST: &str = "https://principal.example/status/1";
const AGENT_LIST: &str = "https://agent.example/status/1";
const INDEX: u64 = 4242;

/// principal → agent(0) (status entry in LIST at INDEX) → agent(1) (status entry in
/// AGENT_LIST, kept by agent(0), at INDEX + 1).
fn chain_with_status(purpose: StatusPurpose) -> Vec<VerifiedCredential> {
    let p = principal();
    let root = AgentAuthorization::builder(Did::Key(did(&p)), did(&agent(0)))
        .id("urn:uuid:00000000-0000-4000-8000-00000000a001")
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(root_grant())
        .status(StatusEntry::new(LIST, INDEX, purpose))
        .sign(&p, t0())
        .unwrap();
    let child = AgentDelegation::builder(&root, did(&agent(1)))
        .unwrap()
        .id("urn:uuid:00000000-0000-4000-8000-00000000a002")
        .grant(child_grant())
        .status(StatusEntry::new(
            AGENT_LIST,
            INDEX + 1,
            StatusPurpose::Revocation,
        ))
        .sign(&agent(0), t0())
        .unwrap();
    vec![root, child]
}

fn published(
    id: &str,
    issuer: &SecretKey,
    purpose: StatusPurpose,
    set: &[u64],
    valid_from: Timestamp,
) -> VerifiedStatusList {
    let mut bits = Bitstring::new(MIN_BITS).unwrap();
    for i in set {
        bits.set(*i, true).unwrap();
    }
    let list = StatusList {
        id: id.into(),
        issuer: Did::Key(did(issuer)),
        purpose,
        bits,
        valid_from,
        valid_until: Some(valid_from.add_seconds(2 * 86_400)),
    };
    VerifiedStatusList::from_value(list.sign(issuer, valid_from).unwrap()).unwrap()
}

/// The principal's and agent(0)'s lists, with the given bits set in the principal's.
fn lists(principal_set: &[u64], purpose: StatusPurpose) -> StatusLists {
    let fresh = now().add_seconds(-3600);
    let mut lists = StatusLists::new();
    lists.insert(published(LIST, &principal(), purpose, principal_set, fresh));
    lists.insert(published(
        AGENT_LIST,
        &agent(0),
        StatusPurpose::Revocation,
        &[],
        fresh,
    ));
    lists
}

fn verifier(lists: Option<Arc<RwLock<StatusLists>>>, clock: Arc<FixedClock>) -> Verifier {
    let v = Verifier::new(policy()).with_clock(clock);
    match lists {
        Some(l) => v.with_status_lists(l),
        None => v,
    }
}

fn chain_bytes(purpose: StatusPurpose) -> Vec<u8> {
    bytes(&docs(&chain_with_status(purpose)))
}

#[test]
fn a_did_key_principal_revokes_what_it_issued_and_verifiers_see_it_offline() {
    let chain = chain_bytes(StatusPurpose::Revocation);
    let clean = Arc::new(RwLock::new(lists(
        &[1, INDEX + 1],
        StatusPurpose::Revocation,
    )));
    let v = verifier(Some(clean), Arc::new(clock()));
    v.verify_chain(&chain).unwrap();

    let revoked = Arc::new(RwLock::new(lists(&[INDEX], StatusPurpose::Revocation)));
    let v = verifier(Some(revoked), Arc::new(clock()));
    assert_err(v.verify_chain(&chain), "status_revoked", Some(0));
}

#[test]
fn a_suspension_is_its_own_refusal() {
    let chain = chain_bytes(StatusPurpose::Suspension);
    let suspended = Arc::new(RwLock::new(lists(&[INDEX], StatusPurpose::Suspension)));
    let v = verifier(Some(suspended), Arc::new(clock()));
    assert_err(v.verify_chain(&chain), "status_suspended", Some(0));
}

#[test]
fn a_status_the_verifier_cannot_check_is_a_refusal() {
    let chain = chain_bytes(StatusPurpose::Revocation);
    // No lists at all.
    let v = verifier(None, Arc::new(clock()));
    assert_err(v.verify_chain(&chain), "status_list_missing", Some(0));
    // The root's list but not the delegation's.
    let mut only_root = StatusLists::new();
    only_root.insert(published(
        LIST,
        &principal(),
        StatusPurpose::Revocation,
        &[],
        now().add_seconds(-60),
    ));
    let v = verifier(Some(Arc::new(RwLock::new(only_root))), Arc::new(clock()));
    assert_err(v.verify_chain(&chain), "status_list_missing", Some(1));
}

#[test]
fn only_the_links_issuer_and_signing_key_speak_for_it() {
    let chain = chain_bytes(StatusPurpose::Revocation);
    let fresh = now().add_seconds(-60);
    // Someone else publishes a clean list under the principal's list URL.
    let mut forged = lists(&[], StatusPurpose::Revocation);
    forged.insert(published(
        LIST,
        &key(9),
        StatusPurpose::Revocation,
        &[],
        fresh,
    ));
    let v = verifier(Some(Arc::new(RwLock::new(forged))), Arc::new(clock()));
    assert_err(v.verify_chain(&chain), "status_list_mismatch", Some(0));
    // The sub-agent publishes its own parent's list (a delegation's status is its issuer's).
    let mut by_subject = lists(&[], StatusPurpose::Revocation);
    by_subject.insert(published(
        AGENT_LIST,
        &agent(1),
        StatusPurpose::Revocation,
        &[],
        fresh,
    ));
    let v = verifier(Some(Arc::new(RwLock::new(by_subject))), Arc::new(clock()));
    assert_err(v.verify_chain(&chain), "status_list_mismatch", Some(1));
    // A list for another purpose cannot clear a revocation entry.
    let v = verifier(
        Some(Arc::new(RwLock::new(lists(&[], StatusPurpose::Suspension)))),
        Arc::new(clock()),
    );
    assert_err(v.verify_chain(&chain), "status_list_mismatch", Some(0));
}

#[test]
fn a_stale_list_is_a_refusal() {
    let chain = chain_bytes(StatusPurpose::Revocation);
    // Published two days ago: past its validUntil and older than the default one day.
    let mut old = lists(&[], StatusPurpose::Revocation);
    old.insert(published(
        LIST,
        &principal(),
        StatusPurpose::Revocation,
        &[],
        now().add_seconds(-2 * 86_400 - 600),
    ));
    let v = verifier(Some(Arc::new(RwLock::new(old))), Arc::new(clock()));
    assert_err(v.verify_chain(&chain), "status_list_stale", Some(0));
    // Published in the future (beyond the skew).
    let mut early = lists(&[], StatusPurpose::Revocation);
    early.insert(published(
        LIST,
        &principal(),
        StatusPurpose::Revocation,
        &[],
        now().add_seconds(3600),
    ));
    let v = verifier(Some(Arc::new(RwLock::new(early))), Arc::new(clock()));
    assert_err(v.verify_chain(&chain), "status_list_stale", Some(0));
}

#[test]
fn a_cached_verdict_does_not_outlive_a_revocation_or_its_list() {
    let chain = chain_bytes(StatusPurpose::Revocation);
    let held = Arc::new(RwLock::new(lists(&[], StatusPurpose::Revocation)));
    let clock = Arc::new(clock());
    let v = verifier(Some(held.clone()), clock.clone());
    v.verify_chain(&chain).unwrap();
    v.verify_chain(&chain).unwrap(); // now from the cache
    // The issuer publishes the revocation; the merchant reloads its lists.
    *held.write().unwrap() = lists(&[INDEX], StatusPurpose::Revocation);
    assert_err(v.verify_chain(&chain), "status_revoked", Some(0));
    // Back to a clean list, then time passes beyond the policy's age bound: the cached
    // verdict is judged again and refused.
    *held.write().unwrap() = lists(&[], StatusPurpose::Revocation);
    v.verify_chain(&chain).unwrap();
    clock.advance(86_400);
    assert_err(v.verify_chain(&chain), "status_list_stale", Some(0));
}
