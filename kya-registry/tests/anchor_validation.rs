//! The checkpoint anchor and the validation registry through the typed client, against a
//! real anvil: deploy, anchor and read back (latest and events), typed reverts, a request and
//! its appended answers, a front-run hash that blocks nothing, and old deployment files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use alloy::primitives::B256;
use common::Anvil;
use kya_core::CredentialDigest;
use kya_registry::bindings::KyaLogAnchor::KyaLogAnchorErrors;
use kya_registry::bindings::KyaValidationRegistry::KyaValidationRegistryErrors;
use kya_registry::{
    ContractRevert, Deployment, LogId, NewAgent, Registry, RegistryError, RequestHash,
};

#[tokio::test]
async fn anchor_checkpoints_and_read_them_back() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    assert!(reg.deployment().log_anchor.is_some());
    let merchant = anvil.as_account(&reg, 1);
    let anchorer = anvil.signer(1).address();
    let log = LogId::from_origin("shop.example/kya-receipts");
    // SHA-256 of the origin line (FIPS 180-2's "abc" vector).
    assert_eq!(
        LogId::from_origin("abc").to_b256().to_string(),
        "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(
        merchant
            .latest_checkpoint(anchorer, log)
            .await
            .unwrap()
            .is_none()
    );

    let (r1, r2) = (B256::repeat_byte(0x11), B256::repeat_byte(0x22));
    let t1 = merchant.anchor_checkpoint(log, 1000, r1).await.unwrap();
    let t2 = merchant.anchor_checkpoint(log, 2000, r2).await.unwrap();
    assert!(t2.block_number > t1.block_number);
    assert!(
        t1.gas_used < 50_000,
        "first anchor used {} gas",
        t1.gas_used
    );
    assert!(
        t2.gas_used < 50_000,
        "repeat anchor used {} gas",
        t2.gas_used
    );

    let latest = merchant
        .latest_checkpoint(anchorer, log)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.tree_size, 2000);
    assert_eq!(latest.block_number, t2.block_number);
    assert_eq!(latest.anchor_count, 2);

    let all = merchant
        .checkpoint_anchors(anchorer, log, 0, t2.block_number, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].tree_size, all[0].root), (1000, r1));
    assert_eq!((all[1].tree_size, all[1].root), (2000, r2));
    assert_eq!(all[0].tx_hash, t1.tx_hash);
    assert_eq!(all[1].block_number, t2.block_number);
    // Bounded: the range holds two anchors.
    let e = merchant
        .checkpoint_anchors(anchorer, log, 0, t2.block_number, 1)
        .await
        .unwrap_err();
    assert!(
        matches!(e, RegistryError::TooManyResults { max: 1, .. }),
        "{e}"
    );
    // A range that holds only the second.
    let one = merchant
        .checkpoint_anchors(anchorer, log, t2.block_number, t2.block_number, 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].tree_size, 2000);

    // Another account's anchors of the same log id live in its own namespace.
    let other = anvil.as_account(&reg, 2);
    other
        .anchor_checkpoint(log, 5, B256::repeat_byte(0x33))
        .await
        .unwrap();
    let mine = merchant
        .checkpoint_anchors(anchorer, log, 0, u64::MAX >> 1, 10)
        .await
        .unwrap();
    assert_eq!(
        mine.len(),
        2,
        "the other account's anchor is not the merchant's"
    );

    // An old, smaller tree is refused with the values.
    let e = merchant.anchor_checkpoint(log, 1500, r1).await.unwrap_err();
    match e.as_log_anchor() {
        Some(KyaLogAnchorErrors::KyaTreeSizeNotIncreasing(x)) => {
            assert_eq!((x.latestTreeSize, x.treeSize), (2000, 1500));
            assert_eq!(x.anchorer, anchorer);
        }
        other => panic!("expected KyaTreeSizeNotIncreasing, got {other:?} ({e})"),
    }
    assert!(e.to_string().contains("is not above 2000"), "{e}");
}

#[tokio::test]
async fn validation_request_answers_and_front_running() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let alice = anvil.as_account(&reg, 1);
    let validator = anvil.as_account(&reg, 2);
    let attacker = anvil.as_account(&reg, 3);
    let validator_addr = anvil.signer(2).address();
    let agent = alice.register(&NewAgent::default()).await.unwrap().agent_id;
    let forged = attacker
        .register(&NewAgent::default())
        .await
        .unwrap()
        .agent_id;
    let receipt = RequestHash::from(CredentialDigest([0x5a; 32]));

    // The attacker sees the receipt digest first and binds it to its own agent, with the
    // same validator: the agent's own request still goes through.
    attacker
        .validation_request(validator_addr, forged, "ipfs://forged", receipt)
        .await
        .unwrap();
    let t = alice
        .validation_request(validator_addr, agent, "ipfs://req", receipt)
        .await
        .unwrap();
    assert!(t.gas_used > 21_000);
    assert!(
        alice
            .validation_status(agent, validator_addr, receipt)
            .await
            .unwrap()
            .unwrap()
            .answers
            .is_empty()
    );

    // Answers are appended: the first stays readable after the second.
    validator
        .validation_response(
            agent,
            receipt,
            80,
            "ipfs://r1",
            B256::repeat_byte(1),
            "soft_finality",
        )
        .await
        .unwrap();
    validator
        .validation_response(
            agent,
            receipt,
            100,
            "ipfs://r2",
            B256::ZERO,
            "hard_finality",
        )
        .await
        .unwrap();
    let s = alice
        .validation_status(agent, validator_addr, receipt)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.agent_id, agent);
    assert_eq!(s.validator, validator_addr);
    assert_eq!(s.answers.len(), 2);
    assert_eq!(
        (s.answers[0].response, s.answers[0].tag.as_str()),
        (80, "soft_finality")
    );
    assert_eq!(s.answers[0].response_hash, B256::repeat_byte(1));
    assert_eq!(s.latest().unwrap().response, 100);
    assert!(s.answers[1].block_number > s.answers[0].block_number);
    // The attacker's request got none of them.
    let f = alice
        .validation_status(forged, validator_addr, receipt)
        .await
        .unwrap()
        .unwrap();
    assert!(f.answers.is_empty());
    // A request never made reads as none.
    assert!(
        alice
            .validation_status(agent, anvil.signer(4).address(), receipt)
            .await
            .unwrap()
            .is_none()
    );

    // Typed refusals.
    let e = attacker
        .validation_request(validator_addr, agent, "ipfs://x", RequestHash([1; 32]))
        .await
        .unwrap_err();
    assert!(
        matches!(e.as_revert(), Some(ContractRevert::Identity(_))),
        "KyaUnauthorized (shared with the identity registry): {e}"
    );
    assert!(
        e.to_string()
            .contains("is neither the owner nor an operator"),
        "{e}"
    );
    let e = validator
        .validation_response(agent, receipt, 101, "", B256::ZERO, "")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.as_validation(),
            Some(KyaValidationRegistryErrors::KyaResponseOutOfRange(x)) if x.response == 101
        ),
        "{e}"
    );
    let e = alice
        .validation_request(validator_addr, agent, "ipfs://req", receipt)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.as_validation(),
            Some(KyaValidationRegistryErrors::KyaRequestExists(_))
        ),
        "{e}"
    );
    let e = attacker
        .validation_response(agent, receipt, 0, "", B256::ZERO, "")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.as_validation(),
            Some(KyaValidationRegistryErrors::KyaUnknownRequest(_))
        ),
        "{e}"
    );
}

#[tokio::test]
async fn deployment_files_without_the_new_contracts() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    // A registry.json written before the anchor and validation contracts existed.
    let old = r#"{"chainId": 31337, "identity": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "reputation": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", "fromBlock": 1}"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.json");
    std::fs::write(&path, old).unwrap();
    let d = Deployment::read(&path).unwrap();
    assert_eq!((d.log_anchor, d.validation), (None, None));
    let client = Registry::from_deployment(anvil.provider(1), d);
    let e = client
        .anchor_checkpoint(LogId([1; 32]), 1, B256::repeat_byte(1))
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::NotDeployed { .. }), "{e}");
    // A new file round-trips all four addresses.
    reg.deployment().write(&path).unwrap();
    let back = Deployment::read(&path).unwrap();
    assert_eq!(&back, reg.deployment());
    assert!(back.validation.is_some() && back.log_anchor.is_some());
}
