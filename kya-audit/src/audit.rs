//! The auditor's side: a receipt with the evidence that it is in the merchant's log, that
//! the log's checkpoint is anchored on chain, and that the log only ever grew between
//! anchors. Every check refuses with its own reason.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kya_core::PublicKey;
use kya_log::{
    ConsistencyProof, Hash, InclusionProof, LeafHash, NoteVerifier, Root, SignedCheckpoint,
    TreeSize, verify_consistency, verify_inclusion,
};
use serde::{Deserialize, Serialize};

use crate::receipt::{ReceiptError, SignedReceipt};

/// Why a receipt's evidence was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The receipt itself is malformed or its signature does not verify.
    #[error("the receipt does not verify: {0}")]
    Receipt(#[from] ReceiptError),
    /// The receipt verifies, but not by the merchant's key.
    #[error("the receipt is signed by {signer}, not by the merchant's key {merchant}")]
    SignerNotMerchant {
        /// Who signed.
        signer: String,
        /// The merchant's key.
        merchant: String,
    },
    /// The receipt names another log.
    #[error("the receipt is in log `{named}`, not in `{expected}`")]
    OtherLog {
        /// The log it names.
        named: String,
        /// The merchant's log.
        expected: String,
    },
    /// The checkpoint is not signed by the merchant's log key.
    #[error("the checkpoint does not verify with the merchant's log key: {0}")]
    Checkpoint(#[from] kya_log::NoteError),
    /// The receipt is not in the checkpointed log at the index it names.
    #[error(
        "the receipt is not in the log at index {index} of the checkpoint of size {size}: {detail}"
    )]
    NotInLog {
        /// The index the receipt names.
        index: u64,
        /// The checkpoint's size.
        size: u64,
        /// What failed.
        detail: String,
    },
    /// The checkpoint is not anchored, and no consistency proof leads from it to an
    /// anchored one.
    #[error(
        "the checkpoint of size {size} is not anchored on chain, nor shown consistent with an anchored one"
    )]
    NotAnchored {
        /// The checkpoint's size.
        size: u64,
    },
    /// Two views of the log disagree: the log was forked or rewritten.
    #[error("the log was forked or rewritten: {detail}")]
    Forked {
        /// Where the views disagree.
        detail: String,
    },
    /// The evidence file is malformed.
    #[error("malformed evidence: {0}")]
    Evidence(String),
}

/// A checkpoint anchored on chain (from the anchor contract's events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Anchor {
    /// The tree size anchored.
    pub tree_size: u64,
    /// The root anchored (hex).
    pub root: String,
    /// The block it was mined in.
    #[serde(default)]
    pub block: u64,
    /// The transaction.
    #[serde(default)]
    pub tx: String,
}

/// A consistency proof as evidence (hashes in hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsistencyEvidence {
    /// The earlier size.
    pub old_size: u64,
    /// The later size.
    pub new_size: u64,
    /// The path.
    pub path: Vec<String>,
}

/// An inclusion proof as evidence (hashes in hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InclusionEvidence {
    /// The receipt's index.
    pub index: u64,
    /// The checkpoint's size.
    pub tree_size: u64,
    /// The path.
    pub path: Vec<String>,
}

/// Everything the merchant gives an auditor for one receipt (`kya audit prove`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Evidence {
    /// The receipt's bytes, base64url.
    pub receipt: String,
    /// The signed checkpoint (a C2SP note).
    pub checkpoint: String,
    /// The receipt's inclusion in the checkpoint.
    pub inclusion: InclusionEvidence,
    /// Consistency proofs from the checkpoint and between later anchored sizes.
    #[serde(default)]
    pub consistency: Vec<ConsistencyEvidence>,
}

/// What an audit established.
#[derive(Debug, Clone)]
pub struct Audited {
    /// The verified receipt.
    pub receipt: SignedReceipt,
    /// The checkpoint it is included in.
    pub checkpoint_size: u64,
    /// The anchor that covers the checkpoint (itself, or a later consistent one).
    pub anchor: Anchor,
    /// How many anchored intervals were shown consistent.
    pub consistent_intervals: usize,
}

/// Checks a receipt's evidence against the merchant's log key and the anchors read from
/// chain: signature and signer, inclusion, anchoring, and consistency between anchors.
pub fn audit(
    evidence: &Evidence,
    merchant: &NoteVerifier,
    anchors: &[Anchor],
) -> Result<Audited, AuditError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(&evidence.receipt)
        .map_err(|e| AuditError::Evidence(format!("receipt: {e}")))?;
    let receipt = SignedReceipt::from_slice(&bytes)?;
    check_signer(&receipt, merchant.public_key())?;
    let position = &receipt.receipt().activity.log;
    if position.origin != merchant.name() {
        return Err(AuditError::OtherLog {
            named: position.origin.clone(),
            expected: merchant.name().to_owned(),
        });
    }
    let checkpoint = SignedCheckpoint::open(evidence.checkpoint.as_bytes(), merchant)?;
    let head = checkpoint.checkpoint();
    let inclusion = inclusion_proof(&evidence.inclusion)?;
    let not_in_log = |detail: String| AuditError::NotInLog {
        index: position.index,
        size: head.size.0,
        detail,
    };
    if inclusion.index != position.index || inclusion.tree_size != head.size {
        return Err(not_in_log(format!(
            "the proof is for index {} of size {}",
            inclusion.index, inclusion.tree_size
        )));
    }
    verify_inclusion(&LeafHash::of(&bytes), &inclusion, &head.root)
        .map_err(|e| not_in_log(e.to_string()))?;
    let (anchor, intervals) = anchored(head.size, head.root, &evidence.consistency, anchors)?;
    Ok(Audited {
        receipt,
        checkpoint_size: head.size.0,
        anchor,
        consistent_intervals: intervals,
    })
}

fn check_signer(receipt: &SignedReceipt, merchant: &PublicKey) -> Result<(), AuditError> {
    if receipt.signer() != *merchant {
        return Err(AuditError::SignerNotMerchant {
            signer: receipt.receipt().issuer.to_string(),
            merchant: kya_core::DidKey::from_public_key(*merchant).to_string(),
        });
    }
    Ok(())
}

/// The checkpoint is anchored if an anchor has its size and root, or a consistency proof
/// leads from it to an anchored size; then every later pair of anchors must be consistent
/// (by the proofs given). An anchor at the same size with another root is a fork.
fn anchored(
    size: TreeSize,
    root: Root,
    proofs: &[ConsistencyEvidence],
    anchors: &[Anchor],
) -> Result<(Anchor, usize), AuditError> {
    let mut anchors: Vec<(u64, Root, &Anchor)> = anchors
        .iter()
        .map(|a| Ok((a.tree_size, parse_root(&a.root)?, a)))
        .collect::<Result<_, AuditError>>()?;
    anchors.sort_by_key(|(s, _, _)| *s);
    for pair in anchors.windows(2) {
        if pair[0].0 == pair[1].0 && pair[0].1 != pair[1].1 {
            return Err(AuditError::Forked {
                detail: format!("two anchors of size {} with different roots", pair[0].0),
            });
        }
    }
    // From the checkpoint, walk up through the anchored sizes with the proofs given.
    let mut at = (size.0, root);
    let mut covering: Option<&Anchor> = None;
    let mut intervals = 0;
    for (anchored_size, anchored_root, anchor) in anchors.iter().filter(|(s, _, _)| *s >= size.0) {
        if *anchored_size == at.0 {
            if *anchored_root != at.1 {
                return Err(AuditError::Forked {
                    detail: format!(
                        "the anchored root of size {anchored_size} is {}, the log's is {}",
                        anchored_root.to_hex(),
                        at.1.to_hex()
                    ),
                });
            }
        } else {
            let Some(proof) = proofs
                .iter()
                .find(|p| p.old_size == at.0 && p.new_size == *anchored_size)
            else {
                break;
            };
            let proof = consistency_proof(proof)?;
            verify_consistency(&proof, &at.1, anchored_root).map_err(|e| AuditError::Forked {
                detail: format!(
                    "no consistency from size {} to the anchored size {anchored_size}: {e}",
                    at.0
                ),
            })?;
            intervals += 1;
        }
        covering.get_or_insert(anchor);
        at = (*anchored_size, *anchored_root);
    }
    match covering {
        Some(anchor) => Ok((anchor.clone(), intervals)),
        None => Err(AuditError::NotAnchored { size: size.0 }),
    }
}

fn parse_hash(hex_text: &str) -> Result<Hash, AuditError> {
    let bytes = hex::decode(hex_text).map_err(|e| AuditError::Evidence(format!("hash: {e}")))?;
    Hash::from_slice(&bytes).ok_or_else(|| AuditError::Evidence("a hash is 32 bytes".into()))
}

fn parse_root(hex_text: &str) -> Result<Root, AuditError> {
    parse_hash(hex_text.trim_start_matches("0x")).map(Root::from)
}

fn path(hashes: &[String]) -> Result<Vec<Hash>, AuditError> {
    if hashes.len() > 64 {
        return Err(AuditError::Evidence("a proof has at most 64 hashes".into()));
    }
    hashes.iter().map(|h| parse_hash(h)).collect()
}

fn inclusion_proof(e: &InclusionEvidence) -> Result<InclusionProof, AuditError> {
    Ok(InclusionProof {
        index: e.index,
        tree_size: TreeSize(e.tree_size),
        path: path(&e.path)?,
    })
}

fn consistency_proof(e: &ConsistencyEvidence) -> Result<ConsistencyProof, AuditError> {
    Ok(ConsistencyProof {
        old_size: TreeSize(e.old_size),
        new_size: TreeSize(e.new_size),
        path: path(&e.path)?,
    })
}

/// Hex of proof hashes, for evidence.
pub fn hex_path(path: &[Hash]) -> Vec<String> {
    path.iter().map(Hash::to_hex).collect()
}
