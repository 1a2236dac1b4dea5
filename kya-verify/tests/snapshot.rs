//! Snapshot files: built from events, deterministic bytes, validated on load, used as a
//! registry view.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use kya_core::DidPkh;
use kya_core::credential::AgentId;
use kya_verify::RegistryView;
use kya_verify::snapshot::{BlockTime, Snapshot};

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
    let mut s = Snapshot::new(31337, REGISTRY, [0x77; 20]);
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
    s.apply_block(2, [2; 32], t("2026-01-02T00:00:00Z"))
        .unwrap();
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
    assert_eq!(v["version"], 1);
    assert_eq!(v["chainId"], 31337);
    assert_eq!(v["block"]["number"], 2);
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
            &policy(),
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
            &policy(),
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
        good.replace("\"version\":1", "\"version\":2"),
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
