//! The typed client against a real anvil: deploy, register, keys, principal keys,
//! revocation, feedback, typed reverts, and the ERC-8004 read-only view.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use alloy::primitives::{Address, B256, U256};
use common::{Anvil, ed_key};
use kya_core::CredentialDigest;
use kya_registry::bindings::KyaIdentityRegistry::{self as id_errors, KyaIdentityRegistryErrors};
use kya_registry::bindings::KyaReputationRegistry::{
    self as rep_errors, KyaReputationRegistryErrors,
};
use kya_registry::{ContractRevert, Erc8004Registry, NewAgent, NewFeedbackEntry, RegistryError};

#[tokio::test]
async fn deploy_register_with_key_and_read_back() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    assert_eq!(reg.deployment().chain_id, 31337);
    let alice = anvil.as_account(&reg, 1);
    let k1 = ed_key(1);
    let r = alice
        .register(&NewAgent {
            uri: "ipfs://agent-one".into(),
            key: Some(k1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.agent_id, U256::ZERO);
    let info = alice.agent(r.agent_id).await.unwrap();
    assert_eq!(info.record.owner, anvil.signer(1).address());
    assert_eq!(info.record.uri, "ipfs://agent-one");
    assert_eq!(info.record.wallet, Some(anvil.signer(1).address()));
    assert_eq!(info.keys.len(), 1);
    assert_eq!(info.keys[0].key, B256::from(k1.to_bytes()));
    assert_eq!(info.keys[0].bound_at, r.tx.block_number);
    assert_eq!(info.keys[0].unbound_at, None);
    assert!(alice.is_agent_key_bound(r.agent_id, &k1).await.unwrap());

    // Metadata + key: two transactions, same result shape.
    let r2 = alice
        .register(&NewAgent {
            uri: "ipfs://agent-two".into(),
            metadata: vec![("role".into(), b"shopper".to_vec())],
            key: Some(ed_key(2)),
        })
        .await
        .unwrap();
    assert_eq!(r2.agent_id, U256::from(1));
    assert_eq!(
        &alice.erc8004().metadata(r2.agent_id, "role").await.unwrap()[..],
        b"shopper"
    );
    assert!(
        alice
            .is_agent_key_bound(r2.agent_id, &ed_key(2))
            .await
            .unwrap()
    );
    assert_eq!(alice.agent_count().await.unwrap(), U256::from(2));
}

#[tokio::test]
async fn rotate_revoke_keys_and_history() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let alice = anvil.as_account(&reg, 1);
    let (k1, k2, k3) = (ed_key(1), ed_key(2), ed_key(3));
    let id = alice
        .register(&NewAgent {
            uri: "ipfs://a".into(),
            key: Some(k1),
            ..Default::default()
        })
        .await
        .unwrap()
        .agent_id;
    let bound = alice
        .agent_key_period(id, &k1)
        .await
        .unwrap()
        .unwrap()
        .bound_at;
    let rot = alice.rotate_agent_key(id, &k1, &k2).await.unwrap();
    assert!(rot.block_number > bound);
    assert!(alice.key_bound_at(id, &k1, bound).await.unwrap());
    assert!(
        alice
            .key_bound_at(id, &k1, rot.block_number - 1)
            .await
            .unwrap()
    );
    assert!(!alice.key_bound_at(id, &k1, rot.block_number).await.unwrap());
    assert!(alice.key_bound_at(id, &k2, rot.block_number).await.unwrap());
    assert!(
        !alice
            .key_bound_at(id, &k2, rot.block_number - 1)
            .await
            .unwrap()
    );

    // A retired key can never come back.
    let err = alice.set_agent_key(id, &k1).await.unwrap_err();
    assert_eq!(
        identity(err),
        KyaIdentityRegistryErrors::KyaKeyRetired(id_errors::KyaKeyRetired {
            agentId: id,
            key: B256::from(k1.to_bytes()),
            unboundAt: rot.block_number
        })
    );
    // Binding a second key, then revoking it.
    alice.set_agent_key(id, &k3).await.unwrap();
    let rev = alice.revoke_agent_key(id, &k3).await.unwrap();
    let keys = alice.agent_keys(id).await.unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0].unbound_at, Some(rot.block_number));
    assert_eq!(keys[1].unbound_at, None);
    assert_eq!(keys[2].unbound_at, Some(rev.block_number));
    assert!(keys[1].bound_at_block(rev.block_number));
    let err = alice.revoke_agent_key(id, &k3).await.unwrap_err();
    assert!(matches!(
        identity(err),
        KyaIdentityRegistryErrors::KyaKeyNotBound(_)
    ));
}

#[tokio::test]
async fn principal_keys_and_credential_revocation() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let principal = anvil.as_account(&reg, 2);
    let pk = ed_key(9);
    let b = principal.bind_principal_key(&pk).await.unwrap();
    let who = anvil.signer(2).address();
    assert!(
        principal
            .principal_key_bound_at(who, &pk, b.block_number)
            .await
            .unwrap()
    );
    assert!(
        !principal
            .principal_key_bound_at(who, &pk, b.block_number - 1)
            .await
            .unwrap()
    );
    let err = principal.bind_principal_key(&pk).await.unwrap_err();
    assert_eq!(
        identity(err),
        KyaIdentityRegistryErrors::KyaPrincipalKeyAlreadyBound(
            id_errors::KyaPrincipalKeyAlreadyBound {
                principal: who,
                key: B256::from(pk.to_bytes()),
                boundAt: b.block_number
            }
        )
    );
    let u = principal.unbind_principal_key(&pk).await.unwrap();
    let keys = principal.principal_keys(who).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0].bound_at, keys[0].unbound_at),
        (b.block_number, Some(u.block_number))
    );

    let alice = anvil.as_account(&reg, 1);
    let id = alice.register(&NewAgent::default()).await.unwrap().agent_id;
    let digest = CredentialDigest([7u8; 32]);
    assert!(!alice.is_revoked(id, &digest).await.unwrap());
    let r = alice.revoke_credential(id, &digest).await.unwrap();
    assert!(alice.is_revoked(id, &digest).await.unwrap());
    assert_eq!(
        alice.revoked_at(id, &digest).await.unwrap(),
        Some(r.block_number)
    );
    // Only per agent: the same digest is not revoked for another agent.
    let other = alice.register(&NewAgent::default()).await.unwrap().agent_id;
    assert!(!alice.is_revoked(other, &digest).await.unwrap());
    let err = alice.revoke_credential(id, &digest).await.unwrap_err();
    assert!(
        matches!(identity(err), KyaIdentityRegistryErrors::KyaCredentialAlreadyRevoked(e) if e.revokedAt == r.block_number)
    );
}

#[tokio::test]
async fn typed_revert_errors() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let alice = anvil.as_account(&reg, 1);
    let mallory = anvil.as_account(&reg, 3);
    let k1 = ed_key(1);
    let id = alice
        .register(&NewAgent {
            uri: "ipfs://a".into(),
            key: Some(k1),
            ..Default::default()
        })
        .await
        .unwrap()
        .agent_id;
    let err = mallory
        .rotate_agent_key(id, &k1, &ed_key(66))
        .await
        .unwrap_err();
    let msg = err.to_string();
    // The accessor and a direct match on the generated type agree.
    assert_eq!(
        err.as_identity(),
        Some(&KyaIdentityRegistryErrors::KyaUnauthorized(
            id_errors::KyaUnauthorized {
                caller: anvil.signer(3).address(),
                agentId: id
            }
        ))
    );
    assert!(matches!(
        err,
        RegistryError::Contract(ContractRevert::Identity(
            KyaIdentityRegistryErrors::KyaUnauthorized(_)
        ))
    ));
    assert!(
        msg.contains("is neither the owner nor an operator of agent 0"),
        "{msg}"
    );
    assert!(!msg.contains("0x4b"), "no raw revert data in: {msg}");

    let err = mallory
        .revoke_credential(id, &CredentialDigest([1; 32]))
        .await
        .unwrap_err();
    assert!(matches!(
        identity(err),
        KyaIdentityRegistryErrors::KyaUnauthorized(_)
    ));

    let err = alice.set_agent_key(U256::from(42), &k1).await.unwrap_err();
    assert_eq!(
        identity(err),
        KyaIdentityRegistryErrors::ERC721NonexistentToken(id_errors::ERC721NonexistentToken {
            tokenId: U256::from(42)
        })
    );

    let err = alice
        .register(&NewAgent {
            uri: "x".into(),
            metadata: vec![("agentWallet".into(), vec![1, 2])],
            key: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        identity(err),
        KyaIdentityRegistryErrors::KyaReservedMetadataKey(id_errors::KyaReservedMetadataKey {
            metadataKey: "agentWallet".into()
        })
    );

    // Reputation errors: self-feedback and bad decimals.
    let err = alice.give_feedback(id, &feedback(5, 0)).await.unwrap_err();
    assert_eq!(
        reputation(err),
        KyaReputationRegistryErrors::KyaSelfFeedback(rep_errors::KyaSelfFeedback {
            caller: anvil.signer(1).address(),
            agentId: id
        })
    );
    let err = mallory
        .give_feedback(id, &feedback(5, 19))
        .await
        .unwrap_err();
    assert_eq!(
        reputation(err),
        KyaReputationRegistryErrors::KyaValueDecimalsTooLarge(
            rep_errors::KyaValueDecimalsTooLarge { valueDecimals: 19 }
        )
    );
    let err = mallory.summary(id, &[], "", "").await.unwrap_err();
    assert_eq!(
        reputation(err),
        KyaReputationRegistryErrors::KyaClientsRequired(rep_errors::KyaClientsRequired {})
    );

    // A transport failure is its own variant, and its typed source says it is a connection
    // failure rather than an error answer from the node.
    let dead = kya_registry::connect_http("http://127.0.0.1:9", None).unwrap();
    let dead = kya_registry::Registry::from_deployment(dead, *reg.deployment());
    let err = dead.agent_count().await.unwrap_err();
    assert!(
        matches!(&err, RegistryError::Rpc(e) if e.is_transport_error()),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());

    // After all those refusals the signer's nonce is still in step.
    alice.set_agent_key(id, &ed_key(2)).await.unwrap();
}

#[tokio::test]
async fn feedback_and_summary() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let alice = anvil.as_account(&reg, 1);
    let id = alice.register(&NewAgent::default()).await.unwrap().agent_id;
    let (r1, r2) = (anvil.as_account(&reg, 4), anvil.as_account(&reg, 5));
    let (a1, a2) = (anvil.signer(4).address(), anvil.signer(5).address());
    assert_eq!(
        r1.give_feedback(id, &feedback(80, 0)).await.unwrap().index,
        1
    );
    assert_eq!(
        r1.give_feedback(id, &feedback(90, 0)).await.unwrap().index,
        2
    );
    let g = r2.give_feedback(id, &feedback(40, 0)).await.unwrap();
    assert_eq!(g.index, 1);
    let s = alice.summary(id, &[a1], "", "").await.unwrap();
    assert_eq!((s.count, s.average, s.value_decimals), (2, 85, 0));
    let s = alice.summary(id, &[a1, a2], "starred", "").await.unwrap();
    assert_eq!((s.count, s.average), (3, 70));
    let s = alice.summary(id, &[a1], "other-tag", "").await.unwrap();
    assert_eq!(s.count, 0);
    r1.revoke_feedback(id, 1).await.unwrap();
    let s = alice.summary(id, &[a1, a2], "", "").await.unwrap();
    assert_eq!((s.count, s.average), (2, 65));
    let err = r1.revoke_feedback(id, 1).await.unwrap_err();
    assert_eq!(
        reputation(err),
        KyaReputationRegistryErrors::KyaFeedbackAlreadyRevoked(
            rep_errors::KyaFeedbackAlreadyRevoked {
                agentId: id,
                clientAddress: a1,
                feedbackIndex: 1
            }
        )
    );
    let err = r1.revoke_feedback(id, 7).await.unwrap_err();
    assert!(matches!(
        reputation(err),
        KyaReputationRegistryErrors::KyaFeedbackIndexOutOfBounds(e) if e.lastIndex == 2
    ));
}

#[tokio::test]
async fn erc8004_read_only_view_of_a_kya_deployment() {
    let anvil = Anvil::start();
    let reg = anvil.deploy().await;
    let alice = anvil.as_account(&reg, 1);
    let id = alice
        .register(&NewAgent {
            uri: "ipfs://elsewhere".into(),
            metadata: vec![("a2a".into(), b"https://agent.example/a2a".to_vec())],
            key: None,
        })
        .await
        .unwrap()
        .agent_id;
    anvil
        .as_account(&reg, 4)
        .give_feedback(id, &feedback(77, 1))
        .await
        .unwrap();

    // A reader that knows nothing of kya: only the addresses and the ERC-8004 ABI.
    let d = reg.deployment();
    let view = Erc8004Registry::at(anvil.reader(), d.identity, d.reputation)
        .await
        .unwrap();
    assert_eq!(view.chain_id(), 31337);
    let agent = view.agent(id).await.unwrap();
    assert_eq!(agent.owner, anvil.signer(1).address());
    assert_eq!(agent.uri, "ipfs://elsewhere");
    assert_eq!(agent.wallet, Some(anvil.signer(1).address()));
    assert_eq!(
        &view.metadata(id, "a2a").await.unwrap()[..],
        b"https://agent.example/a2a"
    );
    let regs = view.registered_agents(0).await.unwrap();
    assert_eq!(
        regs,
        vec![(id, anvil.signer(1).address(), "ipfs://elsewhere".to_owned())]
    );
    let rater = anvil.signer(4).address();
    assert_eq!(view.clients(id).await.unwrap(), vec![rater]);
    assert_eq!(view.last_index(id, rater).await.unwrap(), 1);
    let f = view.read_feedback(id, rater, 1).await.unwrap();
    assert_eq!(
        (f.value, f.value_decimals, f.tag1.as_str(), f.revoked),
        (77, 1, "starred", false)
    );
    let s = view.summary(id, &[rater], "", "").await.unwrap();
    assert_eq!((s.count, s.average, s.value_decimals), (1, 77, 1));
    let err = view.agent(U256::from(99)).await.unwrap_err();
    assert_eq!(
        identity(err),
        KyaIdentityRegistryErrors::ERC721NonexistentToken(id_errors::ERC721NonexistentToken {
            tokenId: U256::from(99)
        })
    );
    let _ = Address::ZERO;
}

fn feedback(value: i128, decimals: u8) -> NewFeedbackEntry {
    NewFeedbackEntry {
        value,
        value_decimals: decimals,
        tag1: "starred".into(),
        tag2: String::new(),
        endpoint: "https://agent.example.com/mcp".into(),
        feedback_uri: "ipfs://feedback".into(),
        feedback_hash: B256::repeat_byte(0xf6),
    }
}

/// The identity registry's custom error the call reverted with.
fn identity(err: RegistryError) -> KyaIdentityRegistryErrors {
    match err {
        RegistryError::Contract(ContractRevert::Identity(e)) => e,
        other => panic!("expected an identity registry error, got {other:?}"),
    }
}

/// The reputation registry's custom error the call reverted with.
fn reputation(err: RegistryError) -> KyaReputationRegistryErrors {
    match err {
        RegistryError::Contract(ContractRevert::Reputation(e)) => e,
        other => panic!("expected a reputation registry error, got {other:?}"),
    }
}
