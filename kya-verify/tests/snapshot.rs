//! Snapshot files: built from events, deterministic bytes, validated on load, used as a
//! registry view.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use kya_core::DidPkh;
use kya_core::credential::AgentId;
use kya_core::json::canonicalize;
use kya_verify::RegistryView;
use kya_verify::snapshot::{BlockTime, MAX_KEYS_PER_OWNER, MAX_STRING_BYTES, Snapshot};
use sha2::{Digest as _, Sha256};

const REGISTRY: [u8; 20] = [
    0x5f, 0xbd, 0xb2, 0x31, 0x56, 0x78, 0xaf, 0xec, 0xb3, 0x67, 0xf0, 0x32, 0xd9, 0x3f, 0x64, 0x2f,
    0x64, 0x18, 0x0a, 0xa3,
];

fn at(block: u64, time: &str) -> BlockTime {
    BlockTime {
        block,
        time: t(time),
    }
}

fn built() -> Snapshot {
    built_on(None)
}

/// The test snapshot, with a validation registry when `validation` is given.
fn built_on(validation: Option<[u8; 20]>) -> Snapshot {
    let mut s = Snapshot::with_validation(31337, REGISTRY, [0x77; 20], validation);
    let one = AgentId::from(1);
    s.apply_block(1, [1; 32], t("2025-12-31T00:00:00Z"))
        .unwrap();
    s.apply_agent_registered(
        one.clone(),
        [0x11; 20],
        "https://agent.example/1.json".into(),
    )
    .unwrap();
    s.apply_agent_registered(AgentId::from(10), [0x12; 20], "ten".into())
        .unwrap();
    s.apply_agent_registered(AgentId::from(2), [0x13; 20], "two".into())
        .unwrap();
    s.apply_agent_key_bound(&one, agent(0).public_key(), at(1, "2025-12-31T00:00:00Z"))
        .unwrap();
    s.apply_principal_key_bound(
        [0xaa; 20],
        principal().public_key(),
        at(1, "2025-12-31T00:00:00Z"),
    )
    .unwrap();
    s.apply_feedback(&one, [0x22; 20], 1, 95, 0, "quality".into(), String::new())
        .unwrap();
    s.apply_feedback(
        &one,
        [0x22; 20],
        2,
        -105,
        1,
        "quality".into(),
        String::new(),
    )
    .unwrap();
    s.apply_block_with_root(2, [2; 32], [3; 32], t("2026-01-02T00:00:00Z"))
        .unwrap();
    s.set_genesis_hash([9; 32]).unwrap();
    s
}

#[test]
fn round_trips_deterministically() {
    let s = built();
    let bytes = s.to_json_bytes();
    let loaded = Snapshot::load(&bytes).unwrap();
    assert_eq!(loaded.to_json_bytes(), bytes);
    assert_eq!(built().to_json_bytes(), bytes, "same events, same bytes");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["version"], 4);
    assert_eq!(v["chainId"], 31337);
    assert_eq!(v["block"]["number"], 2);
    assert_eq!(v["block"]["stateRoot"], format!("0x{}", "03".repeat(32)));
    assert_eq!(v["genesisHash"], format!("0x{}", "09".repeat(32)));
    // A recorded genesis never changes: another chain under the same id is not this one.
    let mut other = loaded.clone();
    assert!(other.set_genesis_hash([8; 32]).is_err());
    assert!(other.set_genesis_hash([9; 32]).is_ok());
    assert_eq!(v["recentBlocks"].as_array().unwrap().len(), 2);
    // Agents sorted numerically: 1, 2, 10.
    let ids: Vec<&str> = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agentId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "10"]);
    assert_eq!(v["feedback"][1]["value"], "-105");
}

#[test]
fn answers_the_registry_questions() {
    let mut s = built();
    let reg = registration(1);
    assert!(s.agent(&reg).unwrap().active);
    assert!(s.agent_key_bound(&reg, &agent(0).public_key(), now()));
    assert!(!s.agent_key_bound(&reg, &agent(0).public_key(), t("2025-01-01T00:00:00Z")));
    let wallet = DidPkh::new(31337, [0xaa; 20]);
    assert!(s.principal_key_bound(&wallet, &principal().public_key(), now()));
    assert!(!s.principal_key_bound(
        &DidPkh::new(1, [0xaa; 20]),
        &principal().public_key(),
        now()
    ));
    // 95 and -10.5 average 42.25; as the contract's getSummary reports it, at the most
    // frequent precision with ties going to fewer decimals: 42 at 0 decimals.
    let rep = s.reputation(&reg, &[[0x22; 20]]).unwrap();
    assert_eq!((rep.count, rep.average, rep.value_decimals), (2, 42, 0));
    assert!(s.reputation(&reg, &[]).is_none());
    assert!(s.reputation(&reg, &[[0x23; 20]]).is_none());
    // A rater listed twice counts once.
    assert_eq!(
        s.reputation(&reg, &[[0x22; 20], [0x23; 20], [0x22; 20]]),
        Some(rep.clone())
    );
    // Another registry contract knows nothing.
    let mut other = reg.clone();
    other.agent_registry.address = [0x01; 20];
    assert!(s.agent(&other).is_none());

    let before = s.state_id();
    let links = chain_with(2, true);
    s.apply_revocation(
        &AgentId::from(1),
        links[1].digest(),
        at(3, "2026-01-20T00:00:00Z"),
    )
    .unwrap();
    assert_ne!(s.state_id(), before);
    let r = s.revoked(&reg, &links[1].digest()).unwrap();
    assert_eq!(r.block, 3);

    // And drives verification.
    let d = bytes(&docs(&links));
    assert_err(
        common::verify_chain(
            &d,
            &snapshot_policy(),
            &clock(),
            Some(std::sync::Arc::new(s.clone())),
        ),
        "revoked",
        Some(1),
    );
    s.apply_agent_key_unbound(
        &AgentId::from(1),
        agent(0).public_key(),
        at(4, "2026-01-21T00:00:00Z"),
    )
    .unwrap();
    let d0 = bytes(&docs(&links[..1]));
    assert_err(
        common::verify_chain(
            &d0,
            &snapshot_policy(),
            &clock(),
            Some(std::sync::Arc::new(s.clone())),
        ),
        "key_not_bound",
        Some(0),
    );
}

#[test]
fn load_refuses_bad_files() {
    let good = String::from_utf8(built().to_json_bytes()).unwrap();
    let bad = [
        good.replace("\"version\":4", "\"version\":1"),
        good.replace("\"chainId\":31337", "\"chainId\":31337,\"extra\":1"),
        good.replace("\"chainId\":31337", "\"chainId\":31337,\"chainId\":1"),
        good.replace("\"agentId\":\"2\"", "\"agentId\":\"20\""),
        good.replace("\"value\":\"-105\"", "\"value\":\"-0105\""),
        good.replace("\"value\":\"-105\"", "\"value\":1.5"),
        good.replace("\"valueDecimals\":1", "\"valueDecimals\":19"),
        good.replace("z6Mk", "z6Mx"),
        String::from("[]"),
        String::new(),
    ];
    for b in bad {
        assert!(Snapshot::load(b.as_bytes()).is_err(), "{b}");
    }
}

#[test]
fn events_are_validated() {
    let mut s = built();
    assert!(s.apply_block(1, [9; 32], now()).is_err(), "backwards");
    assert!(s.apply_agent_active(&AgentId::from(99), false).is_err());
    assert!(
        s.apply_agent_key_unbound(
            &AgentId::from(1),
            key(9).public_key(),
            at(5, "2026-01-22T00:00:00Z")
        )
        .is_err()
    );
    assert!(
        s.apply_feedback_revoked(&AgentId::from(1), [0x22; 20], 7)
            .is_err()
    );
    s.apply_feedback_revoked(&AgentId::from(1), [0x22; 20], 2)
        .unwrap();
    let rep = s.reputation(&registration(1), &[[0x22; 20]]).unwrap();
    assert_eq!((rep.count, rep.average), (1, 95));
    for n in 3..300 {
        s.apply_block(n, [0; 32], now()).unwrap();
    }
    assert_eq!(s.recent_blocks().len(), 256);
    assert_eq!(s.recent_blocks().last().unwrap().number, 299);
}

/// Re-seals a snapshot's JSON after an edit, as a deliberate forger would: drops the old
/// content digest, writes the canonical form and the digest it hashes to.
fn reseal(mut v: serde_json::Value) -> Vec<u8> {
    let o = v.as_object_mut().unwrap();
    o.remove("contentDigest");
    let body = canonicalize(&v).unwrap();
    let digest = format!("0x{}", hex::encode(Sha256::digest(&body)));
    v.as_object_mut()
        .unwrap()
        .insert("contentDigest".into(), digest.into());
    canonicalize(&v).unwrap()
}

fn with_revocation() -> Snapshot {
    let mut s = built();
    s.apply_revocation(
        &AgentId::from(1),
        kya_core::CredentialDigest([7; 32]),
        at(2, "2026-01-02T00:00:00Z"),
    )
    .unwrap();
    s
}

/// The canonical form is enforced on load: a pretty-printed or re-ordered file (same JSON
/// value) is refused, so equal states are equal bytes across sources.
#[test]
fn load_refuses_a_non_canonical_file() {
    let bytes = with_revocation().to_json_bytes();
    assert!(Snapshot::load(&bytes).is_ok());
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let pretty = serde_json::to_vec_pretty(&v).unwrap();
    let e = Snapshot::load(&pretty).unwrap_err().to_string();
    assert!(e.contains("canonical"), "{e}");
    let mut spaced = bytes.clone();
    spaced.push(b'\n');
    assert!(Snapshot::load(&spaced).is_err(), "a trailing newline");
    // Re-ordered members: `version` moved to the front.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let reordered = format!(
        "{{\"version\":4,{}}}",
        text.trim_start_matches('{').replace(",\"version\":4}", "")
    );
    assert_ne!(reordered.as_bytes(), &bytes[..]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&reordered).unwrap(),
        v,
        "same value"
    );
    let e = Snapshot::load(reordered.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("canonical"), "{e}");
}

/// The content digest catches accidental corruption that keeps the file valid JSON (a flipped
/// digit, a deleted entry); it cannot catch a forger who recomputes it, which only
/// re-deriving from the chain does (kya-registry `verify_snapshot`).
#[test]
fn the_content_digest_catches_corruption_but_not_a_resealed_edit() {
    let bytes = with_revocation().to_json_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\"contentDigest\":\"0x"), "{text}");
    // A changed number: still canonical JSON, different content.
    let flipped = text.replace("\"chainId\":31337", "\"chainId\":31338");
    let e = Snapshot::load(flipped.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("content digest mismatch"), "{e}");
    // A deleted revocation, canonical form kept.
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["revocations"] = serde_json::json!([]);
    let digest = v["contentDigest"].clone();
    let edited = canonicalize(&v).unwrap();
    let e = Snapshot::load(&edited).unwrap_err().to_string();
    assert!(e.contains("content digest mismatch"), "{e}");
    // The same edit, resealed: it loads, and no longer knows the revocation.
    v["contentDigest"] = digest;
    let forged = Snapshot::load(&reseal(v)).unwrap();
    assert!(
        forged
            .revoked(&registration(1), &kya_core::CredentialDigest([7; 32]))
            .is_none()
    );
    assert!(
        !forged.same_state(&with_revocation()),
        "re-deriving would tell"
    );
    // A missing digest is refused too.
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v.as_object_mut().unwrap().remove("contentDigest");
    let e = Snapshot::load(&canonicalize(&v).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("contentDigest is missing"), "{e}");
}

/// The snapshot records the time of the block it reflects and reports it as `as_of`.
#[test]
fn as_of_is_the_synced_blocks_time() {
    let fresh = Snapshot::new(31337, REGISTRY, [0x77; 20]);
    assert_eq!(RegistryView::as_of(&fresh), None, "never synced");
    let s = built();
    assert_eq!(RegistryView::as_of(&s), Some(t("2026-01-02T00:00:00Z")));
    let loaded = Snapshot::load(&s.to_json_bytes()).unwrap();
    assert_eq!(
        RegistryView::as_of(&loaded),
        Some(t("2026-01-02T00:00:00Z"))
    );
}

/// Records anyone can write beyond the snapshot's bounds degrade only themselves: the events
/// apply, the record is marked over bounds (and survives a round trip), the verifier refuses
/// what depends on it with a clear reason, and every other record is untouched.
#[test]
fn over_bounds_records_degrade_only_themselves() {
    let mut s = built();
    let attacker = AgentId::from(666);
    let long = "x".repeat(MAX_STRING_BYTES + 1);
    s.apply_agent_registered(attacker.clone(), [0x66; 20], long.clone())
        .unwrap();
    let keys: Vec<kya_core::PublicKey> = (0..=MAX_KEYS_PER_OWNER)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            seed[31] = 0x5a;
            kya_core::SecretKey::from_seed(&seed).public_key()
        })
        .collect();
    let greedy = AgentId::from(667);
    s.apply_agent_registered(greedy.clone(), [0x67; 20], "ok".into())
        .unwrap();
    for k in &keys {
        s.apply_agent_key_bound(&greedy, *k, at(2, "2026-01-02T00:00:00Z"))
            .unwrap();
        s.apply_principal_key_bound([0x68; 20], *k, at(2, "2026-01-02T00:00:00Z"))
            .unwrap();
    }
    // Later events of the degraded records still apply (no "unknown key" stop).
    s.apply_agent_key_unbound(&greedy, keys[0], at(2, "2026-01-02T00:00:00Z"))
        .unwrap();
    s.apply_principal_key_unbound([0x68; 20], keys[5], at(2, "2026-01-02T00:00:00Z"))
        .unwrap();
    s.apply_agent_uri(&AgentId::from(2), long.clone()).unwrap();
    // Feedback beyond bounds: dropped, marks only (agent, that rater); its revocation applies.
    s.apply_feedback(
        &AgentId::from(1),
        [0x69; 20],
        1,
        1,
        0,
        long.clone(),
        String::new(),
    )
    .unwrap();
    s.apply_feedback(
        &AgentId::from(1),
        [0x69; 20],
        2,
        1,
        200,
        String::new(),
        String::new(),
    )
    .unwrap();
    s.apply_feedback_revoked(&AgentId::from(1), [0x69; 20], 1)
        .unwrap();
    // A legitimate revocation after all that.
    s.apply_revocation(
        &AgentId::from(1),
        kya_core::CredentialDigest([7; 32]),
        at(3, "2026-01-03T00:00:00Z"),
    )
    .unwrap();

    let s = Snapshot::load(&s.to_json_bytes()).unwrap();
    let reg = |id: u64| registration(id);
    assert!(s.agent_over_bounds(&reg(666)).unwrap().contains("agentURI"));
    assert_eq!(s.agent(&reg(666)).unwrap().agent_uri, "", "not kept");
    assert!(
        s.agent_over_bounds(&reg(667))
            .unwrap()
            .contains("key bindings")
    );
    assert!(
        !s.agent_key_bound(&reg(667), &keys[1], now()),
        "fail closed"
    );
    assert!(s.agent_over_bounds(&reg(2)).unwrap().contains("agentURI"));
    let greedy_wallet = DidPkh::new(31337, [0x68; 20]);
    assert!(s.principal_over_bounds(&greedy_wallet).is_some());
    assert!(!s.principal_key_bound(&greedy_wallet, &keys[1], now()));
    // Everyone else is untouched.
    assert_eq!(s.agent_over_bounds(&reg(1)), None);
    assert!(s.agent_key_bound(&reg(1), &agent(0).public_key(), now()));
    assert!(s.principal_key_bound(
        &DidPkh::new(31337, [0xaa; 20]),
        &principal().public_key(),
        now()
    ));
    assert!(
        s.revoked(&reg(1), &kya_core::CredentialDigest([7; 32]))
            .is_some()
    );
    assert!(
        s.reputation(&reg(1), &[[0x22; 20]]).is_some(),
        "honest rater still summarised"
    );
    assert!(
        s.reputation(&reg(1), &[[0x22; 20], [0x69; 20]]).is_none(),
        "not with the over-bounds rater"
    );

    // The verifier refuses a chain naming a degraded agent, with the reason.
    let mut rs = s.clone();
    let links = chain_with(1, true);
    assert!(
        common::verify_chain(
            &bytes(&docs(&links)),
            &snapshot_policy(),
            &clock(),
            Some(std::sync::Arc::new(rs.clone()))
        )
        .is_ok()
    );
    rs.apply_agent_uri(&AgentId::from(1), long).unwrap();
    let e = assert_err(
        common::verify_chain(
            &bytes(&docs(&links)),
            &snapshot_policy(),
            &clock(),
            Some(std::sync::Arc::new(rs.clone())),
        ),
        "registry_record_over_bounds",
        Some(0),
    );
    assert!(e.to_string().contains("agent 1"), "{e}");
    assert!(e.to_string().contains("agentURI"), "{e}");
}

/// A wallet principal whose key history is over bounds: its credentials are refused with
/// that reason (not a misleading "key not bound").
#[test]
fn an_over_bounds_principal_is_refused_with_the_reason() {
    use kya_core::Did;
    use kya_core::credential::AgentAuthorization;
    let wallet = DidPkh::new(31337, [0xaa; 20]);
    let root = AgentAuthorization::builder(Did::Pkh(wallet), did(&agent(0)))
        .valid_from(t0())
        .valid_until(t("2027-01-01T00:00:00Z"))
        .grant(root_grant())
        .sign(&principal(), t("2026-01-10T00:00:00Z"))
        .unwrap();
    let chain = bytes(&docs(std::slice::from_ref(&root)));
    let trusting = kya_verify::Policy::builder()
        .max_registry_age_secs(SNAPSHOT_AGE)
        .trust_root(Did::Pkh(wallet))
        .build();
    let mut s = built();
    assert!(
        common::verify_chain(
            &chain,
            &trusting,
            &clock(),
            Some(std::sync::Arc::new(s.clone()))
        )
        .is_ok()
    );
    // The issuer revokes it: refused offline through the snapshot.
    let mut revoked = s.clone();
    revoked
        .apply_issuer_revocation([0xaa; 20], root.digest(), at(3, "2026-01-03T00:00:00Z"))
        .unwrap();
    let revoked = Snapshot::load(&revoked.to_json_bytes()).unwrap();
    assert_err(
        common::verify_chain(
            &chain,
            &trusting,
            &clock(),
            Some(std::sync::Arc::new(revoked.clone())),
        ),
        "revoked_by_issuer",
        Some(0),
    );
    assert!(
        revoked
            .revoked_by_issuer(&DidPkh::new(1, [0xaa; 20]), &root.digest())
            .is_none()
    );
    for i in 0..=MAX_KEYS_PER_OWNER {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
        seed[31] = 0x5b;
        s.apply_principal_key_bound(
            [0xaa; 20],
            kya_core::SecretKey::from_seed(&seed).public_key(),
            at(2, "2026-01-02T00:00:00Z"),
        )
        .unwrap();
    }
    let e = assert_err(
        common::verify_chain(
            &chain,
            &trusting,
            &clock(),
            Some(std::sync::Arc::new(s.clone())),
        ),
        "registry_record_over_bounds",
        Some(0),
    );
    assert!(e.to_string().contains("key bindings"), "{e}");
}

/// The fixtures' snapshots reflect blocks of early 2026 and the tests' clock reads February:
/// a policy that accepts views that old (the default bound of a day is tested elsewhere).
const SNAPSHOT_AGE: u32 = 400 * 86_400;

fn snapshot_policy() -> kya_verify::Policy {
    kya_verify::Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .audience("did:web:shop.example")
        .max_registry_age_secs(SNAPSHOT_AGE)
        .build()
}

// ---- validations ----------------------------------------------------------------------

/// An edit of a snapshot file's JSON.
type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;

const VALIDATIONS: [u8; 20] = [0x88; 20];
const TRUSTED: [u8; 20] = [0xa1; 20];
const UNTRUSTED: [u8; 20] = [0xb2; 20];

fn request(s: &mut Snapshot, id: u64, validator: [u8; 20], hash: u8) {
    s.apply_validation_request(
        &AgentId::from(id),
        validator,
        [hash; 32],
        at(2, "2026-01-02T00:00:00Z"),
    )
    .unwrap();
}

fn answer(s: &mut Snapshot, id: u64, validator: [u8; 20], hash: u8, response: u8, tag: &str) {
    s.apply_validation_response(
        &AgentId::from(id),
        validator,
        [hash; 32],
        response,
        tag.into(),
        at(2, "2026-01-02T00:00:00Z"),
    )
    .unwrap();
}

/// A rewritten file: `edit` applied to its JSON, the digest recomputed (so only the edit's
/// own form is judged).
fn resealed(s: &Snapshot, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&s.to_json_bytes()).unwrap();
    v.as_object_mut().unwrap().remove("contentDigest");
    edit(&mut v);
    let body = canonicalize(&v).unwrap();
    let digest = hex::encode(Sha256::digest(&body));
    v.as_object_mut()
        .unwrap()
        .insert("contentDigest".into(), format!("0x{digest}").into());
    canonicalize(&v).unwrap()
}

#[test]
fn validations_are_recorded_per_request_with_the_latest_answer() {
    let mut s = built_on(Some(VALIDATIONS));
    let reg = registration(1);
    assert_eq!(s.validations(&reg, &[TRUSTED]), Some(vec![]));
    let before = s.state_id();
    request(&mut s, 1, TRUSTED, 1);
    assert_ne!(s.state_id(), before, "a request changes the state id");
    request(&mut s, 1, TRUSTED, 2);
    request(&mut s, 1, UNTRUSTED, 1);
    answer(&mut s, 1, TRUSTED, 1, 90, "soft");
    let before = s.state_id();
    answer(&mut s, 1, TRUSTED, 1, 40, "hard");
    assert_ne!(s.state_id(), before, "an answer changes the state id");
    answer(&mut s, 1, UNTRUSTED, 1, 100, "");

    let got = s.validations(&reg, &[TRUSTED]).unwrap();
    assert_eq!(got.len(), 2, "only the trusted validator's requests");
    assert!(got.iter().all(|v| v.validator == TRUSTED));
    let first = got.iter().find(|v| v.request_hash == [1; 32]).unwrap();
    let latest = first.latest.as_ref().unwrap();
    assert_eq!(
        (latest.response, latest.tag.as_str(), first.responses),
        (40, "hard", 2)
    );
    let second = got.iter().find(|v| v.request_hash == [2; 32]).unwrap();
    assert_eq!((second.latest.as_ref(), second.responses), (None, 0));
    assert_eq!(s.validations(&reg, &[TRUSTED, UNTRUSTED]).unwrap().len(), 3);
    assert_eq!(s.validations(&registration(2), &[TRUSTED]), Some(vec![]));

    // Without a validation registry the view answers nothing, and refuses its events.
    let mut plain = built();
    assert_eq!(plain.validations(&reg, &[TRUSTED]), None);
    assert!(
        plain
            .apply_validation_request(
                &AgentId::from(1),
                TRUSTED,
                [1; 32],
                at(2, "2026-01-02T00:00:00Z")
            )
            .is_err()
    );
    // Another registry's agent is not this snapshot's.
    let other: kya_core::credential::AgentRegistration =
        serde_json::from_value(serde_json::json!({
            "agentRegistry": "eip155:1:0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "agentId": "1"
        }))
        .unwrap();
    assert_eq!(s.validations(&other, &[TRUSTED]), None);
}

#[test]
fn validation_files_round_trip_and_load_strictly() {
    let mut s = built_on(Some(VALIDATIONS));
    request(&mut s, 1, TRUSTED, 1);
    request(&mut s, 1, TRUSTED, 2);
    request(&mut s, 2, UNTRUSTED, 3);
    answer(&mut s, 1, TRUSTED, 1, 95, "hard");
    let bytes = s.to_json_bytes();
    let loaded = Snapshot::load(&bytes).unwrap();
    assert!(loaded.same_state(&s));
    assert_eq!(loaded.to_json_bytes(), bytes);
    assert_eq!(loaded.validation_registry(), Some(VALIDATIONS));
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["validations"].as_array().unwrap().len(), 3);
    assert_eq!(v["validations"][0]["latest"]["response"], 95);
    assert_eq!(v["validationRegistry"], format!("0x{}", "88".repeat(20)));
    // The resealing helper itself yields a loadable file.
    assert!(Snapshot::load(&resealed(&s, |_| {})).is_ok());

    let bad: Vec<(&str, Edit)> = vec![
        (
            "unsorted",
            Box::new(|v| v["validations"].as_array_mut().unwrap().swap(0, 1)),
        ),
        (
            "duplicate",
            Box::new(|v| {
                let first = v["validations"][0].clone();
                v["validations"].as_array_mut().unwrap().insert(0, first);
            }),
        ),
        (
            "unknown member",
            Box::new(|v| {
                v["validations"][0]["extra"] = 1.into();
            }),
        ),
        (
            "response over 100",
            Box::new(|v| {
                v["validations"][0]["latest"]["response"] = 101.into();
            }),
        ),
        (
            "answers without an answer",
            Box::new(|v| {
                v["validations"][1]["responses"] = 1.into();
            }),
        ),
        (
            "over bounds yet listed",
            Box::new(|v| {
                v["validationsOverBounds"] = serde_json::json!(["1"]);
            }),
        ),
        (
            "no validation registry",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("validationRegistry");
            }),
        ),
        (
            "version 4 without validations",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("validations");
            }),
        ),
        (
            "version 3 with validations",
            Box::new(|v| {
                v["version"] = 3.into();
            }),
        ),
    ];
    for (what, edit) in bad {
        assert!(Snapshot::load(&resealed(&s, edit)).is_err(), "{what}");
    }

    // A version 3 file (before validations) still loads, and is written as version 4.
    let v3 = resealed(&built(), |v| {
        let o = v.as_object_mut().unwrap();
        o.remove("validations");
        o.remove("validationsOverBounds");
        o.insert("version".into(), 3.into());
    });
    let old = Snapshot::load(&v3).unwrap();
    assert!(old.same_state(&built()));
    assert_eq!(old.validation_registry(), None);
    let rewritten: serde_json::Value = serde_json::from_slice(&old.to_json_bytes()).unwrap();
    assert_eq!(rewritten["version"], 4);
    assert_eq!(rewritten["validations"], serde_json::json!([]));
    assert!(rewritten.get("validationRegistry").is_none());
}

#[test]
fn validations_beyond_bounds_degrade_only_their_agent() {
    use kya_verify::snapshot::MAX_VALIDATIONS_PER_AGENT;
    let mut s = built_on(Some(VALIDATIONS));
    request(&mut s, 1, TRUSTED, 1);
    answer(&mut s, 1, TRUSTED, 1, 100, "");
    // Agent 2's owner floods requests: one more than a snapshot keeps per agent.
    for i in 0..=MAX_VALIDATIONS_PER_AGENT {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
        s.apply_validation_request(
            &AgentId::from(2),
            TRUSTED,
            hash,
            at(2, "2026-01-02T00:00:00Z"),
        )
        .unwrap();
    }
    assert_eq!(
        s.validations(&registration(2), &[TRUSTED]),
        None,
        "over bounds: no answer"
    );
    // Later events of the degraded agent are ignored, never an error.
    answer(&mut s, 2, TRUSTED, 0, 100, "");
    request(&mut s, 2, TRUSTED, 7);
    assert_eq!(s.validations(&registration(2), &[TRUSTED]), None);
    // The other agent is untouched.
    assert_eq!(
        s.validations(&registration(1), &[TRUSTED]).unwrap().len(),
        1
    );
    let bytes = s.to_json_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["validationsOverBounds"], serde_json::json!(["2"]));
    assert_eq!(v["validations"].as_array().unwrap().len(), 1);
    assert!(Snapshot::load(&bytes).unwrap().same_state(&s));

    // An answer the snapshot cannot hold (another deployment's: a response over 100, an
    // over-long tag) must not leave the earlier pass standing.
    let mut t1 = s.clone();
    answer(&mut t1, 1, TRUSTED, 1, 101, "");
    assert_eq!(t1.validations(&registration(1), &[TRUSTED]), None);
    let mut t2 = s.clone();
    answer(&mut t2, 1, TRUSTED, 1, 0, &"x".repeat(MAX_STRING_BYTES + 1));
    assert_eq!(t2.validations(&registration(1), &[TRUSTED]), None);
    // So does an answer to a request the snapshot never saw.
    let mut t3 = s.clone();
    answer(&mut t3, 1, TRUSTED, 9, 100, "");
    assert_eq!(t3.validations(&registration(1), &[TRUSTED]), None);
}

fn validation_policy(
    requirement: kya_verify::validation::ValidationRequirement,
) -> kya_verify::Policy {
    kya_verify::Policy::builder()
        .trust_root(kya_core::Did::Key(did(&principal())))
        .audience("did:web:shop.example")
        .max_registry_age_secs(SNAPSHOT_AGE)
        .min_validation(requirement)
        .build()
}

#[test]
fn min_validation_admits_only_passing_answers_of_trusted_validators() {
    use kya_verify::validation::ValidationRequirement;
    let requirement = ValidationRequirement::new(&[TRUSTED], 80, 1);
    let policy = validation_policy(requirement.clone());
    let registered = bytes(&docs(&chain_with(1, true)));
    let check = |s: &Snapshot, policy: &kya_verify::Policy, chain: &[u8]| {
        common::verify_chain(
            chain,
            policy,
            &clock(),
            Some(std::sync::Arc::new(s.clone())),
        )
    };
    let mut s = built_on(Some(VALIDATIONS));
    request(&mut s, 1, TRUSTED, 1);
    request(&mut s, 1, UNTRUSTED, 1);
    // Asked, not answered.
    assert_err(
        check(&s, &policy, &registered),
        "validation_insufficient",
        None,
    );
    // A pass by an untrusted validator does not count.
    answer(&mut s, 1, UNTRUSTED, 1, 100, "");
    assert_err(
        check(&s, &policy, &registered),
        "validation_insufficient",
        None,
    );
    // Below minResponse does not count.
    answer(&mut s, 1, TRUSTED, 1, 79, "");
    assert_err(
        check(&s, &policy, &registered),
        "validation_insufficient",
        None,
    );
    // A passing answer by the trusted validator admits.
    answer(&mut s, 1, TRUSTED, 1, 80, "hard");
    check(&s, &policy, &registered).unwrap();
    // Two required: one is not enough.
    let two = validation_policy(ValidationRequirement::new(&[TRUSTED], 80, 2));
    let e = assert_err(
        check(&s, &two, &registered),
        "validation_insufficient",
        None,
    );
    assert!(e.to_string().contains("has 1 passing"), "{e}");
    // A tag requirement counts only answers with that tag.
    let tagged = validation_policy(requirement.clone().with_tag("soft"));
    assert_err(
        check(&s, &tagged, &registered),
        "validation_insufficient",
        None,
    );
    let tagged = validation_policy(requirement.clone().with_tag("hard"));
    check(&s, &tagged, &registered).unwrap();
    // The validator withdraws its pass: refused again.
    answer(&mut s, 1, TRUSTED, 1, 0, "hard");
    assert_err(
        check(&s, &policy, &registered),
        "validation_insufficient",
        None,
    );

    // Fail closed: no registry view, a view without validation records, an unregistered leaf.
    assert_err(
        common::verify_chain(&registered, &policy, &clock(), None),
        "validation_insufficient",
        None,
    );
    assert_err(
        check(&built(), &policy, &registered),
        "validation_insufficient",
        None,
    );
    let unregistered = bytes(&docs(&chain_with(1, false)));
    assert_err(
        check(&s, &policy, &unregistered),
        "validation_insufficient",
        None,
    );
}

#[test]
fn min_validation_reads_from_policy_json_and_holds_on_the_cached_path() {
    let json = serde_json::json!({
        "trustedRoots": [kya_core::Did::Key(did(&principal())).to_string()],
        "audience": "did:web:shop.example",
        "maxRegistryAgeSeconds": SNAPSHOT_AGE,
        "minValidation": {
            "trustedValidators": [format!("0x{}", hex::encode(TRUSTED))],
            "minResponse": 80,
            "minCount": 1,
            "tag": "hard"
        }
    });
    let policy = kya_verify::Policy::from_json(json.to_string().as_bytes()).unwrap();
    let r = policy.min_validation().unwrap();
    assert_eq!(
        (r.validators(), r.min_response, r.min_count),
        (vec![TRUSTED], 80, 1)
    );
    assert_eq!(r.tag.as_deref(), Some("hard"));
    let mut bad = json.clone();
    bad["minValidation"]["extra"] = true.into();
    assert!(
        kya_verify::Policy::from_json(bad.to_string().as_bytes()).is_err(),
        "unknown member"
    );

    // One verifier, its cache on, over a view whose validation answer changes while its
    // state id stays (the worst case for a cache): the cached path reads validations again.
    let registered = bytes(&docs(&chain_with(1, true)));
    let mut s = built_on(Some(VALIDATIONS));
    request(&mut s, 1, TRUSTED, 1);
    answer(&mut s, 1, TRUSTED, 1, 90, "hard");
    let view = std::sync::Arc::new(Withdrawable {
        inner: s,
        withdrawn: std::sync::atomic::AtomicBool::new(false),
    });
    let verifier = kya_verify::Verifier::new(policy)
        .with_clock(std::sync::Arc::new(clock()))
        .with_registry(view.clone());
    let agent = verifier.verify_chain(&registered).unwrap();
    assert!(
        verifier.cached(&agent.chain_digest()).is_some(),
        "cached, and still passing"
    );
    view.withdrawn
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(
        verifier.cached(&agent.chain_digest()).is_none(),
        "the cached path refuses"
    );
    assert_err(
        verifier.verify_chain(&registered),
        "validation_insufficient",
        None,
    );
}

/// A snapshot whose validations can be withdrawn without changing its state id.
struct Withdrawable {
    inner: Snapshot,
    withdrawn: std::sync::atomic::AtomicBool,
}

impl RegistryView for Withdrawable {
    fn agent(
        &self,
        reg: &kya_core::credential::AgentRegistration,
    ) -> Option<kya_verify::AgentRecord> {
        self.inner.agent(reg)
    }
    fn agent_key_bound(
        &self,
        reg: &kya_core::credential::AgentRegistration,
        key: &kya_core::PublicKey,
        at: kya_core::Timestamp,
    ) -> bool {
        self.inner.agent_key_bound(reg, key, at)
    }
    fn principal_key_bound(
        &self,
        p: &DidPkh,
        key: &kya_core::PublicKey,
        at: kya_core::Timestamp,
    ) -> bool {
        self.inner.principal_key_bound(p, key, at)
    }
    fn revoked(
        &self,
        reg: &kya_core::credential::AgentRegistration,
        d: &kya_core::CredentialDigest,
    ) -> Option<kya_verify::Revocation> {
        self.inner.revoked(reg, d)
    }
    fn revoked_by_issuer(
        &self,
        i: &DidPkh,
        d: &kya_core::CredentialDigest,
    ) -> Option<kya_verify::IssuerRevocation> {
        self.inner.revoked_by_issuer(i, d)
    }
    fn reputation(
        &self,
        reg: &kya_core::credential::AgentRegistration,
        raters: &[[u8; 20]],
    ) -> Option<kya_verify::ReputationSummary> {
        self.inner.reputation(reg, raters)
    }
    fn validations(
        &self,
        reg: &kya_core::credential::AgentRegistration,
        validators: &[[u8; 20]],
    ) -> Option<Vec<kya_verify::Validation>> {
        if self.withdrawn.load(std::sync::atomic::Ordering::SeqCst) {
            return Some(Vec::new());
        }
        self.inner.validations(reg, validators)
    }
    fn as_of(&self) -> Option<kya_core::Timestamp> {
        RegistryView::as_of(&self.inner)
    }
    fn state_id(&self) -> Option<[u8; 32]> {
        self.inner.state_id()
    }
}
