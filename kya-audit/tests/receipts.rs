//! Receipts from a real gate, in a real log, checked as an auditor would: every refusal the
//! auditor's tools promise, on tampered receipts, a forked log and an unanchored checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kya_audit::audit::{ConsistencyEvidence, InclusionEvidence, hex_path};
use kya_audit::{
    Anchor, AuditError, Evidence, Outcome, ProveError, ReceiptIssuer, SignedReceipt, audit,
};
use kya_core::credential::AgentAuthorization;
use kya_core::grant::{Action, Amount, Asset, Grant};
use kya_core::{Did, DidKey, SecretKey, Timestamp};
use kya_log::{FileLog, NoteVerifier, TreeSize};
use kya_verify::http::{HttpPolicy, HttpRequest, KyaGate, RequestSigner, Route, SignOptions};
use kya_verify::{Policy, Verifier};

const ORIGIN: &str = "shop.example/kya/receipts";

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

fn did(k: &SecretKey) -> DidKey {
    DidKey::from_public_key(k.public_key())
}

struct Merchant {
    gate: KyaGate,
    issuer: ReceiptIssuer,
    _dir: tempfile::TempDir,
}

fn merchant() -> Merchant {
    let policy = Policy::builder()
        .trust_root(Did::Key(did(&key(1))))
        .audience("did:web:shop.example")
        .build();
    let gate = KyaGate::new(
        Arc::new(Verifier::new(policy)),
        HttpPolicy::default()
            .authority("shop.example")
            .route(Route::new("/pay", Action::parse("payments/send").unwrap())),
    );
    let dir = tempfile::tempdir().unwrap();
    let issuer = ReceiptIssuer::open(
        key(9),
        ORIGIN,
        "did:web:shop.example",
        dir.path().join("log"),
    )
    .unwrap();
    Merchant {
        gate,
        issuer,
        _dir: dir,
    }
}

/// The agent's chain, made once per test process.
fn chain() -> serde_json::Value {
    static CHAIN: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    CHAIN.get_or_init(make_chain).clone()
}

fn make_chain() -> serde_json::Value {
    let grant = Grant::builder(Action::parse("payments").unwrap())
        .max_amount(Amount::parse("20").unwrap(), Asset::parse("USD").unwrap())
        .build()
        .unwrap();
    let start = Timestamp::now().add_seconds(-60);
    let credential = AgentAuthorization::builder(Did::Key(did(&key(1))), did(&key(2)))
        .valid_from(start)
        .valid_until(start.add_seconds(3600))
        .grant(grant)
        .sign(&key(1), start)
        .unwrap();
    serde_json::Value::Array(vec![credential.document().clone()])
}

fn signed(amount: &str, nonce: &str) -> HttpRequest {
    let (_, mut request) = HttpRequest::from_url("POST", "https://shop.example/pay").unwrap();
    request.body = br#"{"order":"A-1"}"#.to_vec();
    let now = Timestamp::now();
    let money = kya_verify::http::parse_amount_header(&format!("{amount} USD")).unwrap();
    RequestSigner::new(&key(2), &chain())
        .unwrap()
        .sign(
            &mut request,
            &SignOptions {
                action: Some(&Action::parse("payments/send").unwrap()),
                amount: Some(&money),
                created: now,
                expires: now.add_seconds(60),
                nonce,
            },
        )
        .unwrap();
    request
}

/// Decides and records; returns the receipt.
fn decide(m: &Merchant, request: &HttpRequest) -> SignedReceipt {
    let outcome = m.gate.admit(request);
    m.issuer
        .record(request, &outcome, Timestamp::now())
        .unwrap()
}

fn log_key() -> NoteVerifier {
    NoteVerifier::new(ORIGIN, key(9).public_key()).unwrap()
}

/// Evidence for receipt `index` at checkpoint size `size`, from the log itself.
fn evidence(log: &FileLog, index: u64, size: u64, later: &[u64]) -> Evidence {
    let root = log.root_at(TreeSize(size)).unwrap();
    let mut checkpoint = log.checkpoint(ORIGIN);
    checkpoint.size = TreeSize(size);
    checkpoint.root = root;
    let note = checkpoint.sign(&key(9)).unwrap();
    let proof = log.prove_inclusion(index, TreeSize(size)).unwrap();
    let mut consistency = Vec::new();
    let mut from = size;
    for &to in later {
        let p = log.prove_consistency(TreeSize(from), TreeSize(to)).unwrap();
        consistency.push(ConsistencyEvidence {
            old_size: from,
            new_size: to,
            path: hex_path(&p.path),
        });
        from = to;
    }
    Evidence {
        receipt: URL_SAFE_NO_PAD.encode(log.entry(index).unwrap()),
        checkpoint: note.as_note().to_owned(),
        inclusion: InclusionEvidence {
            index,
            tree_size: size,
            path: hex_path(&proof.path),
        },
        consistency,
    }
}

/// The log's consistency proof from `old` to `new`, as evidence.
fn proof(log: &FileLog, old: u64, new: u64) -> ConsistencyEvidence {
    let p = log.prove_consistency(TreeSize(old), TreeSize(new)).unwrap();
    ConsistencyEvidence {
        old_size: old,
        new_size: new,
        path: hex_path(&p.path),
    }
}

fn anchor_of(log: &FileLog, size: u64) -> Anchor {
    Anchor {
        tree_size: size,
        root: log.root_at(TreeSize(size)).unwrap().to_hex(),
        block: 1,
        tx: String::new(),
    }
}

#[test]
fn allowed_denied_and_refused_requests_each_get_a_logged_signed_receipt() {
    let m = merchant();
    let allowed = decide(&m, &signed("12.50", "n-1"));
    let denied = decide(&m, &signed("25.00", "n-2"));
    let replayed = decide(&m, &signed("12.50", "n-1"));
    let a = allowed.receipt();
    assert_eq!(a.activity.decision.outcome, Outcome::Allowed);
    assert_eq!(a.agent.as_ref(), Some(&did(&key(2))));
    assert_eq!(a.activity.request.amount.as_ref().unwrap().value, "12.50");
    assert_eq!(denied.receipt().activity.decision.outcome, Outcome::Denied);
    assert_eq!(
        denied.receipt().activity.decision.reasons[0].code,
        "amount_exceeds_ceiling"
    );
    let refused = replayed.receipt();
    assert_eq!(refused.activity.decision.outcome, Outcome::Refused);
    assert_eq!(refused.activity.decision.reasons[0].code, "nonce_replayed");
    assert_eq!(
        [a, denied.receipt(), refused].map(|r| r.activity.log.index),
        [0, 1, 2]
    );
    // Each receipt is, byte for byte, the log's entry at its index.
    m.issuer.journal().with_log(|log| {
        for r in [&allowed, &denied, &replayed] {
            let index = r.receipt().activity.log.index;
            assert_eq!(log.entry(index).unwrap(), r.as_bytes());
        }
    });
    let story = kya_audit::explain(a);
    assert!(story.contains("allowed it"), "{story}");
    assert!(story.contains("payments/send of 12.50 USD"), "{story}");
}

#[test]
fn a_tampered_receipt_is_refused() {
    let m = merchant();
    let receipt = decide(&m, &signed("12.50", "n-1"));
    let text = String::from_utf8(receipt.as_bytes().to_vec()).unwrap();
    // The decision rewritten: the signature no longer verifies.
    let forged = text.replace("\"allowed\"", "\"denied\"");
    assert_ne!(forged, text);
    assert!(matches!(
        SignedReceipt::from_slice(forged.as_bytes()),
        Err(kya_audit::ReceiptError::Proof(_))
    ));
    // Re-serialised (same content, other bytes): not the receipt's name any more.
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_str::<serde_json::Value>(&text).unwrap())
            .unwrap();
    assert!(matches!(
        SignedReceipt::from_slice(&pretty),
        Err(kya_audit::ReceiptError::NotCanonical)
    ));
}

#[test]
fn the_auditor_accepts_an_anchored_receipt_and_refuses_each_broken_piece() {
    let m = merchant();
    for i in 0..5 {
        decide(&m, &signed("1.00", &format!("n-{i}")));
    }
    m.issuer.journal().with_log(|log| {
        // Anchored at its own size: accepted.
        let anchors = [anchor_of(log, 3), anchor_of(log, 5)];
        let ok = audit(&evidence(log, 1, 3, &[5]), &log_key(), &anchors).unwrap();
        assert_eq!((ok.checkpoint_size, ok.consistent_intervals), (3, 1));
        // Checkpoint at 4, anchored later at 5 with a consistency proof: accepted.
        let ok = audit(&evidence(log, 2, 4, &[5]), &log_key(), &anchors[1..]).unwrap();
        assert_eq!(ok.anchor.tree_size, 5);

        // Not anchored: no anchor at or above its size.
        assert!(matches!(
            audit(&evidence(log, 1, 3, &[]), &log_key(), &[anchor_of(log, 2)]),
            Err(AuditError::NotAnchored { size: 3 })
        ));
        // Not in the log: another receipt's bytes at this index.
        let mut e = evidence(log, 1, 3, &[5]);
        e.receipt = URL_SAFE_NO_PAD.encode(log.entry(2).unwrap());
        assert!(matches!(
            audit(&e, &log_key(), &anchors),
            Err(AuditError::NotInLog { .. })
        ));
        // A signer that is not the merchant's log key.
        let stranger = NoteVerifier::new(ORIGIN, key(8).public_key()).unwrap();
        assert!(matches!(
            audit(&evidence(log, 1, 3, &[5]), &stranger, &anchors),
            Err(AuditError::SignerNotMerchant { .. })
        ));
    });
}

#[test]
fn a_forked_log_is_refused() {
    let honest = merchant();
    let forked = merchant();
    for i in 0..4 {
        decide(&honest, &signed("1.00", &format!("h-{i}")));
        decide(&forked, &signed("2.00", &format!("f-{i}")));
    }
    let anchors = honest.issuer.journal().with_log(|log| [anchor_of(log, 4)]);
    forked.issuer.journal().with_log(|log| {
        // The same key signs another history of the same size: the anchored root differs.
        assert!(matches!(
            audit(&evidence(log, 1, 4, &[]), &log_key(), &anchors),
            Err(AuditError::Forked { .. })
        ));
        // A smaller checkpoint of the other history cannot be shown consistent with the anchor.
        let mut e = evidence(log, 1, 2, &[4]);
        e.consistency[0].new_size = 4;
        assert!(matches!(
            audit(&e, &log_key(), &anchors),
            Err(AuditError::Forked { .. })
        ));
    });
}

/// The merchant anchors its honest log at size 4, rewrites the log (same key, same origin:
/// another receipt at index 1) and anchors the rewritten log at size 8, which the contract
/// takes (sizes increase). Neither history's receipt at index 1 passes: the anchors 4 and 8
/// cannot be shown consistent, whichever checkpoint the evidence shows and whichever proofs
/// it leaves out.
#[test]
fn a_log_rewritten_between_anchors_is_refused() {
    let honest = merchant();
    let forked = merchant();
    for i in 0..8 {
        decide(&honest, &signed("1.00", &format!("h-{i}")));
        decide(&forked, &signed("2.00", &format!("f-{i}")));
    }
    let anchors = [
        honest.issuer.journal().with_log(|log| anchor_of(log, 4)),
        forked.issuer.journal().with_log(|log| anchor_of(log, 8)),
    ];
    let honest_receipt = honest
        .issuer
        .journal()
        .with_log(|log| log.entry(1).unwrap());
    let forked_receipt = forked
        .issuer
        .journal()
        .with_log(|log| log.entry(1).unwrap());
    assert_ne!(honest_receipt, forked_receipt);

    forked.issuer.journal().with_log(|log| {
        // The rewritten receipt at the anchored size 8: the anchor below it must be shown
        // consistent with it, and cannot be.
        contradicted_by_the_other_anchor(log, 8, &anchors, 4);
        // A checkpoint of the rewritten log between the anchors, with every proof it has.
        let mut e = evidence(log, 1, 6, &[8]);
        e.consistency.extend([proof(log, 4, 6), proof(log, 4, 8)]);
        let refused = audit(&e, &log_key(), &anchors);
        assert!(
            matches!(refused, Err(AuditError::Forked { .. })),
            "{refused:?}"
        );
    });
    honest.issuer.journal().with_log(|log| {
        // The honest receipt at the anchored size 4: its proof to 8 cannot exist.
        contradicted_by_the_other_anchor(log, 4, &anchors, 8);
        // Before the rewritten log was anchored, the honest receipt passed.
        assert!(audit(&evidence(log, 1, 4, &[]), &log_key(), &anchors[..1]).is_ok());
    });
}

/// The receipt at index 1 of `log`, at its anchored `size`, under anchors of which one
/// (`foreign`) is of another history: refused for the missing proof from 4 to 8, refused as
/// a fork with `log`'s own proof from 4 to 8, and the merchant's own tool will not write
/// evidence the anchors contradict.
fn contradicted_by_the_other_anchor(log: &FileLog, size: u64, anchors: &[Anchor], foreign: u64) {
    let mut e = evidence(log, 1, size, &[]);
    let refused = audit(&e, &log_key(), anchors);
    assert!(
        matches!(
            refused,
            Err(AuditError::MissingConsistency {
                old_size: 4,
                new_size: 8
            })
        ),
        "{refused:?}"
    );
    e.consistency.push(proof(log, 4, 8));
    let refused = audit(&e, &log_key(), anchors);
    assert!(
        matches!(refused, Err(AuditError::Forked { .. })),
        "{refused:?}"
    );
    let refused = kya_audit::prove(log, &key(9), 1, anchors);
    assert!(
        matches!(refused, Err(ProveError::AnchorNotInLog { size, .. }) if size == foreign),
        "{refused:?}"
    );
}

/// Evidence must carry a consistency proof from every anchor to the next and between its
/// checkpoint and the anchors next to it; one left out is a refusal naming its sizes.
#[test]
fn evidence_without_a_proof_between_anchors_is_refused() {
    let m = merchant();
    for i in 0..10 {
        decide(&m, &signed("1.00", &format!("n-{i}")));
    }
    m.issuer.journal().with_log(|log| {
        let anchors = [3, 5, 8].map(|s| anchor_of(log, s));
        // Receipt 1 at the anchored checkpoint 3: the proofs 3 -> 5 and 5 -> 8.
        let full = evidence(log, 1, 3, &[5, 8]);
        let ok = audit(&full, &log_key(), &anchors).unwrap();
        assert_eq!((ok.anchor.tree_size, ok.consistent_intervals), (3, 2));
        for dropped in 0..full.consistency.len() {
            let mut e = full.clone();
            let gone = e.consistency.remove(dropped);
            let refused = audit(&e, &log_key(), &anchors);
            assert!(
                matches!(
                    refused,
                    Err(AuditError::MissingConsistency { old_size, new_size })
                        if (old_size, new_size) == (gone.old_size, gone.new_size)
                ),
                "{refused:?}"
            );
        }
        // Receipt 6 at the last anchored checkpoint: the anchors below it are in the chain too.
        let refused = audit(&evidence(log, 6, 8, &[]), &log_key(), &anchors);
        assert!(
            matches!(
                refused,
                Err(AuditError::MissingConsistency {
                    old_size: 3,
                    new_size: 5
                })
            ),
            "{refused:?}"
        );
        // A checkpoint between two anchors (6): consistent with 5 below it and 8 above it.
        let mut e = evidence(log, 4, 6, &[8]);
        e.consistency.extend([proof(log, 3, 5), proof(log, 5, 8)]);
        let refused = audit(&e, &log_key(), &anchors);
        assert!(
            matches!(
                refused,
                Err(AuditError::MissingConsistency {
                    old_size: 5,
                    new_size: 6
                })
            ),
            "{refused:?}"
        );
        e.consistency.push(proof(log, 5, 6));
        let ok = audit(&e, &log_key(), &anchors).unwrap();
        assert_eq!((ok.anchor.tree_size, ok.consistent_intervals), (8, 4));
        // Two proofs between the same sizes: refused, not one of them picked.
        e.consistency.push(proof(log, 3, 5));
        let refused = audit(&e, &log_key(), &anchors);
        assert!(
            matches!(
                refused,
                Err(AuditError::DuplicateConsistency {
                    old_size: 3,
                    new_size: 5
                })
            ),
            "{refused:?}"
        );
    });
}

/// `prove` writes, for every receipt of an honest log, evidence that the auditor accepts
/// with any set of anchors (in any order, read twice, or one at every size); a receipt
/// after the last anchor is not anchored; an anchor beyond a stale copy of the log is an
/// error.
#[test]
fn every_anchored_receipt_of_an_honest_log_is_proven_and_accepted() {
    let m = merchant();
    for i in 0..10 {
        decide(&m, &signed("1.00", &format!("n-{i}")));
    }
    m.issuer.journal().with_log(|log| {
        let some = [8, 3, 5, 3].map(|s| anchor_of(log, s)).to_vec();
        let every: Vec<Anchor> = (1..=10).map(|s| anchor_of(log, s)).collect();
        for index in 0..10 {
            let e = kya_audit::prove(log, &key(9), index, &some).unwrap();
            let audited = audit(&e, &log_key(), &some);
            match [3, 5, 8].into_iter().find(|s| *s > index) {
                Some(covering) => {
                    let ok = audited.unwrap();
                    assert_eq!(ok.checkpoint_size, covering);
                    assert_eq!(ok.anchor.tree_size, covering);
                    assert_eq!(ok.consistent_intervals, 2);
                }
                None => assert!(
                    matches!(audited, Err(AuditError::NotAnchored { size: 10 })),
                    "receipt {index}: {audited:?}"
                ),
            }
            let e = kya_audit::prove(log, &key(9), index, &every).unwrap();
            let ok = audit(&e, &log_key(), &every).unwrap();
            assert_eq!(
                (ok.checkpoint_size, ok.consistent_intervals),
                (index + 1, 9)
            );
        }
        // No anchors: the log's own checkpoint, not anchored.
        let e = kya_audit::prove(log, &key(9), 0, &[]).unwrap();
        assert!(matches!(
            audit(&e, &log_key(), &[]),
            Err(AuditError::NotAnchored { size: 10 })
        ));
        // An anchor beyond the log given (a stale copy): no evidence.
        let beyond = Anchor {
            tree_size: 12,
            ..anchor_of(log, 10)
        };
        assert!(matches!(
            kya_audit::prove(log, &key(9), 0, &[beyond]),
            Err(ProveError::AnchorBeyondLog {
                anchored: 12,
                size: 10
            })
        ));
    });
}

#[test]
fn concurrent_receipts_get_distinct_contiguous_indexes() {
    let m = Arc::new(merchant());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                (0..20)
                    .map(|i| {
                        decide(&m, &signed("0.01", &format!("t{t}-{i}")))
                            .receipt()
                            .activity
                            .log
                            .index
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..160).collect::<Vec<u64>>());
    m.issuer.journal().with_log(|log| {
        assert_eq!(log.verify_all().unwrap(), TreeSize(160));
    });
}

/// The independent check: a short standard-library script recomputes the receipt's
/// signature and its inclusion proof.
#[test]
fn an_independent_script_checks_the_signature_and_the_inclusion() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("NOTICE: python3 is absent; the independent check is skipped");
        return;
    }
    let m = merchant();
    for i in 0..3 {
        decide(&m, &signed("1.00", &format!("p-{i}")));
    }
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/audit_check.py");
    m.issuer.journal().with_log(|log| {
        let e = evidence(log, 1, 3, &[]);
        let receipt = dir.path().join("receipt.json");
        std::fs::write(&receipt, log.entry(1).unwrap()).unwrap();
        let checkpoint = dir.path().join("checkpoint");
        std::fs::write(&checkpoint, &e.checkpoint).unwrap();
        let run = |args: &[&str]| {
            Command::new("python3")
                .arg(script)
                .args(args)
                .status()
                .unwrap()
                .success()
        };
        let receipt_path = receipt.to_str().unwrap();
        assert!(run(&["credential", receipt_path]));
        let mut args = vec![
            "inclusion",
            "--entry",
            receipt_path,
            "--index",
            "1",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--proof",
        ];
        args.extend(e.inclusion.path.iter().map(String::as_str));
        assert!(run(&args));
        // Tampered: one byte of the receipt changed.
        let text = String::from_utf8(log.entry(1).unwrap()).unwrap();
        std::fs::write(&receipt, text.replace("\"1.00\"", "\"9.00\"")).unwrap();
        assert!(!run(&["credential", receipt_path]));
        assert!(!run(&args));
    });
}

#[test]
fn the_chain_a_receipt_names_is_checked_as_of_the_receipts_time() {
    let m = merchant();
    let receipt = decide(&m, &signed("12.50", "c-1"));
    let chain_bytes = serde_json::to_vec(&chain()).unwrap();
    let policy = || {
        Policy::builder()
            .trust_root(Did::Key(did(&key(1))))
            .audience("did:web:shop.example")
            .build()
    };
    let agent = kya_audit::chain_at(receipt.receipt(), &chain_bytes, policy(), None).unwrap();
    assert_eq!(agent.agent(), &did(&key(2)));
    // Before the chain's validFrom, it was not valid.
    let mut early = receipt.receipt().clone();
    early.decided_at = Timestamp::now().add_seconds(-3600);
    assert!(matches!(
        kya_audit::chain_at(&early, &chain_bytes, policy(), None),
        Err(AuditError::ChainInvalidAt { .. })
    ));
    // Another chain than the one named.
    let other = AgentAuthorization::builder(Did::Key(did(&key(1))), did(&key(2)))
        .valid_from(Timestamp::now().add_seconds(-30))
        .valid_until(Timestamp::now().add_seconds(3600))
        .grant(
            Grant::builder(Action::parse("payments").unwrap())
                .build()
                .unwrap(),
        )
        .sign(&key(1), Timestamp::now().add_seconds(-30))
        .unwrap();
    let other = serde_json::to_vec(&[other.document()]).unwrap();
    assert!(matches!(
        kya_audit::chain_at(receipt.receipt(), &other, policy(), None),
        Err(AuditError::ChainMismatch { .. })
    ));
}

#[test]
fn an_oversized_receipt_is_refused_before_parsing() {
    let mut huge = b"{\"a\":\"".to_vec();
    huge.extend(std::iter::repeat_n(
        b'x',
        kya_audit::receipt::MAX_RECEIPT_BYTES,
    ));
    huge.extend_from_slice(b"\"}");
    assert!(matches!(
        SignedReceipt::from_slice(&huge),
        Err(kya_audit::ReceiptError::Json(
            kya_core::json::JsonError::TooLarge { .. }
        ))
    ));
}
