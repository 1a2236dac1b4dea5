//! Registry snapshot files (kya_verify::snapshot): arbitrary bytes, and snapshots built from
//! arbitrary event sequences (the way a sync client builds them).
//!
//! Asserts: a snapshot that loads writes back to bytes that load to an equal snapshot, and
//! writing is a fixed point (same state, same bytes: canonical); a snapshot built by events
//! round-trips through its file unchanged and answers every registry question the same way
//! after loading; refused events leave the snapshot unchanged; only canonical files load.
#![no_main]
use arbitrary::{Arbitrary, Unstructured};
use kya_core::credential::{AgentId, AgentRegistration};
use kya_core::{CredentialDigest, DidPkh, Timestamp};
use kya_fuzz::vector_key;
use kya_verify::RegistryView;
use kya_verify::snapshot::{BlockTime, Snapshot};
use libfuzzer_sys::fuzz_target;

const CHAIN: u64 = 31337;
const IDENTITY: [u8; 20] = [0x5f; 20];

fn registration(id: u64) -> AgentRegistration {
    let text = format!(
        r#"{{"agentRegistry":"eip155:{CHAIN}:0x{}","agentId":"{id}"}}"#,
        "5f".repeat(20)
    );
    serde_json::from_str(&text).expect("registration")
}

fn same_answers(a: &Snapshot, b: &Snapshot) {
    let t = Timestamp::from_unix(1_767_225_600 + 86_400).expect("time");
    for id in 0..4u64 {
        let reg = registration(id);
        assert_eq!(a.agent(&reg), b.agent(&reg));
        for k in 1..=3u8 {
            let key = vector_key(k).public_key();
            assert_eq!(
                a.agent_key_bound(&reg, &key, t),
                b.agent_key_bound(&reg, &key, t)
            );
            let p = DidPkh::new(CHAIN, [k; 20]);
            assert_eq!(
                a.principal_key_bound(&p, &key, t),
                b.principal_key_bound(&p, &key, t)
            );
        }
        let d = CredentialDigest([id as u8; 32]);
        assert_eq!(a.revoked(&reg, &d), b.revoked(&reg, &d));
        let issuer = DidPkh::new(CHAIN, [id as u8; 20]);
        assert_eq!(a.revoked_by_issuer(&issuer, &d), b.revoked_by_issuer(&issuer, &d));
        assert_eq!(a.agent_over_bounds(&reg), b.agent_over_bounds(&reg));
        assert_eq!(a.principal_over_bounds(&issuer), b.principal_over_bounds(&issuer));
        assert_eq!(
            a.reputation(&reg, &[[1; 20], [2; 20]]),
            b.reputation(&reg, &[[1; 20], [2; 20]])
        );
    }
}

fn events(u: &mut Unstructured<'_>) -> arbitrary::Result<Snapshot> {
    let mut s = Snapshot::new(CHAIN, IDENTITY, [0x6f; 20]);
    let mut block = 0u64;
    for _ in 0..u.int_in_range(0..=24u8)? {
        let id = AgentId::from(u64::from(u.int_in_range(0..=3u8)?));
        let key = vector_key(u.int_in_range(1..=3u8)?).public_key();
        let at = BlockTime {
            block: block + u64::from(u.int_in_range(0..=1u8)?),
            time: Timestamp::from_unix(
                1_767_225_600 + i64::from(u.int_in_range(0..=3u8)?) * 86_400,
            )
            .expect("time"),
        };
        let before = s.clone();
        let r = match u.int_in_range(0..=10u8)? {
            0 => {
                block += u64::from(u.int_in_range(0..=2u8)?);
                s.apply_block(block, <[u8; 32]>::arbitrary(u)?, at.time)
            }
            1 => {
                s.apply_agent_registered(id, [u.int_in_range(1..=3u8)?; 20], String::arbitrary(u)?)
            }
            2 => s.apply_agent_active(&id, bool::arbitrary(u)?),
            3 => s.apply_agent_key_bound(&id, key, at),
            4 => s.apply_agent_key_unbound(&id, key, at),
            5 => s.apply_principal_key_bound([u.int_in_range(1..=3u8)?; 20], key, at),
            6 => s.apply_principal_key_unbound([u.int_in_range(1..=3u8)?; 20], key, at),
            7 => s.apply_revocation(&id, CredentialDigest([u.int_in_range(0..=3u8)?; 32]), at),
            8 => s.apply_feedback(
                &id,
                [u.int_in_range(1..=2u8)?; 20],
                u64::from(u.int_in_range(0..=2u8)?),
                i128::arbitrary(u)?,
                u.int_in_range(0..=20u8)?,
                String::arbitrary(u)?,
                String::arbitrary(u)?,
            ),
            9 => s.apply_issuer_revocation(
                [u.int_in_range(0..=3u8)?; 20],
                CredentialDigest([u.int_in_range(0..=3u8)?; 32]),
                at,
            ),
            _ => s.apply_feedback_revoked(
                &id,
                [u.int_in_range(1..=2u8)?; 20],
                u64::from(u.int_in_range(0..=2u8)?),
            ),
        };
        if r.is_err() {
            assert_eq!(
                s.to_json_bytes(),
                before.to_json_bytes(),
                "a refused event changed the snapshot"
            );
        }
    }
    Ok(s)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(structured) = bool::arbitrary(&mut u) else {
        return;
    };
    if !structured {
        let bytes = u.take_rest();
        let Ok(s) = Snapshot::load(bytes) else { return };
        let out = s.to_json_bytes();
        let back = Snapshot::load(&out).expect("a loaded snapshot's own bytes load");
        assert_eq!(back.to_json_bytes(), out, "snapshot bytes are canonical");
        // A previous-version file loads and is written as the current version.
        let previous = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("version").and_then(serde_json::Value::as_u64))
            == Some(kya_verify::snapshot::SNAPSHOT_VERSION_PREVIOUS);
        if !previous {
            assert_eq!(out, bytes, "only canonical files load");
        }
        same_answers(&s, &back);
        return;
    }
    let Ok(s) = events(&mut u) else { return };
    let out = s.to_json_bytes();
    assert!(!out.is_empty(), "to_json_bytes failed");
    let back = match Snapshot::load(&out) {
        Ok(b) => b,
        Err(e) => panic!(
            "a snapshot built by events does not load: {e}\n{}",
            String::from_utf8_lossy(&out)
        ),
    };
    assert_eq!(back.to_json_bytes(), out);
    assert_eq!(RegistryView::as_of(&s), RegistryView::as_of(&back));
    same_answers(&s, &back);
});
