//! The auditor's side: a receipt with the evidence that it is in the merchant's log, that
//! the log's checkpoint is anchored on chain, and that the log only ever grew between
//! anchors (one chain of consistency proofs through every anchor, the checkpoint in it).
//! Every check refuses with its own reason. The merchant's side, [`prove`], writes that
//! evidence from the log.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kya_core::{Ed25519Signer, PublicKey};
use kya_log::{
    ConsistencyProof, FileLog, Hash, InclusionProof, LeafHash, NoteVerifier, Root,
    SignedCheckpoint, TreeSize, verify_consistency, verify_inclusion,
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
    /// The checkpoint is not anchored: no anchor is at or above its size.
    #[error(
        "the checkpoint of size {size} is not anchored on chain: no anchor is at or above its size"
    )]
    NotAnchored {
        /// The checkpoint's size.
        size: u64,
    },
    /// The evidence lacks a consistency proof the auditor needs: between two consecutive
    /// anchors, or between the checkpoint and the anchor next below or above it.
    #[error(
        "the evidence has no consistency proof from size {old_size} to size {new_size}: every anchor must be shown consistent with the next, and the checkpoint with the anchors next to it"
    )]
    MissingConsistency {
        /// The earlier size.
        old_size: u64,
        /// The later size.
        new_size: u64,
    },
    /// The evidence has two consistency proofs between the same sizes.
    #[error("the evidence has two consistency proofs from size {old_size} to size {new_size}")]
    DuplicateConsistency {
        /// The earlier size.
        old_size: u64,
        /// The later size.
        new_size: u64,
    },
    /// Two views of the log disagree: the log was forked or rewritten.
    #[error("the log was forked or rewritten: {detail}")]
    Forked {
        /// Where the views disagree.
        detail: String,
    },
    /// The chain the receipt names did not verify at the receipt's time.
    #[error("the chain was not valid at {at}: {reason}")]
    ChainInvalidAt {
        /// The receipt's time.
        at: kya_core::Timestamp,
        /// Why.
        reason: String,
    },
    /// The chain given is not the one the receipt names.
    #[error("the receipt names chain `{named}`, the chain given is `{given}`")]
    ChainMismatch {
        /// The receipt's chain digest.
        named: String,
        /// The given chain's digest.
        given: String,
    },
    /// The evidence file is malformed.
    #[error("malformed evidence: {0}")]
    Evidence(String),
}

/// Why evidence could not be written from the merchant's log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProveError {
    /// The log could not be read, or has no entry at the index.
    #[error("the receipt log: {0}")]
    Log(#[from] kya_log::LogError),
    /// The entry at the index is not a receipt.
    #[error("entry {index} of the log is not a receipt: {source}")]
    NotAReceipt {
        /// The index.
        index: u64,
        /// Why.
        #[source]
        source: ReceiptError,
    },
    /// The checkpoint could not be signed.
    #[error("cannot sign the checkpoint: {0}")]
    Checkpoint(#[from] kya_log::NoteError),
    /// An anchor's root is not a 32-byte hex hash.
    #[error("the anchor of size {size} has a malformed root: {detail}")]
    MalformedAnchor {
        /// The anchored size.
        size: u64,
        /// What is wrong.
        detail: String,
    },
    /// An anchor is beyond the end of this log: the log given is older than its anchors (a
    /// stale copy), or another log.
    #[error(
        "an anchor is at size {anchored}, beyond the log of {size} entries (a stale copy, or another log)"
    )]
    AnchorBeyondLog {
        /// The anchored size.
        anchored: u64,
        /// The log's size.
        size: u64,
    },
    /// An anchored root is not this log's root at that size: the anchored history is another
    /// one, and no auditor would accept evidence of this log.
    #[error(
        "the anchored root of size {size} is {anchored}, this log's is {log}: the log was forked or rewritten"
    )]
    AnchorNotInLog {
        /// The anchored size.
        size: u64,
        /// The anchored root (hex).
        anchored: String,
        /// The log's root at that size (hex).
        log: String,
    },
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
    /// Consistency proofs: from each anchored size to the next (first anchor to last), and,
    /// when the checkpoint's size is not anchored, from the largest anchored size below it to
    /// it and from it to the smallest anchored size above it. [`prove`] writes them.
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
    /// The anchor that covers the checkpoint (itself, or the next one above it, shown
    /// consistent).
    pub anchor: Anchor,
    /// How many consistency proofs were checked: one from each anchor to the next, and one
    /// to each anchor next to the checkpoint when its size is not anchored.
    pub consistent_intervals: usize,
}

/// Checks a receipt's evidence against the merchant's log key and the anchors read from
/// chain: signature and signer, inclusion, anchoring, and consistency between anchors.
///
/// `anchors` must be every anchor of the log read from chain (`kya audit anchors`), not a
/// choice of them: the log must be shown consistent from the first anchor to the last, and
/// the checkpoint with the anchors next to it, so a log rewritten after one anchor and
/// anchored again is refused whichever checkpoint the evidence shows.
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

/// Writes the evidence for receipt `index` of the merchant's `log`, with the checkpoint
/// signed by the log key `signer` and every anchor of the log read from chain (`anchors`):
/// the checkpoint is the smallest anchored one that includes the receipt (the log's current
/// one when none does, which an auditor refuses as not anchored until an anchor covers it),
/// and the consistency proofs are those [`audit`] needs — from each anchor to the next, and
/// between the checkpoint and the anchors next to it when its size is not anchored.
///
/// Every anchor must be of this log: an anchor beyond its end or with another root is an
/// error, as no auditor would accept the evidence.
pub fn prove(
    log: &FileLog,
    signer: &impl Ed25519Signer,
    index: u64,
    anchors: &[Anchor],
) -> Result<Evidence, ProveError> {
    let entry = log.entry(index)?;
    let receipt = SignedReceipt::from_slice(&entry)
        .map_err(|source| ProveError::NotAReceipt { index, source })?;
    let origin = &receipt.receipt().activity.log.origin;
    let size = log.size().0;
    let mut sizes = Vec::with_capacity(anchors.len());
    for anchor in anchors {
        let root = parse_root(&anchor.root).map_err(|e| ProveError::MalformedAnchor {
            size: anchor.tree_size,
            detail: e.to_string(),
        })?;
        if anchor.tree_size > size {
            return Err(ProveError::AnchorBeyondLog {
                anchored: anchor.tree_size,
                size,
            });
        }
        let ours = log.root_at(TreeSize(anchor.tree_size))?;
        if ours != root {
            return Err(ProveError::AnchorNotInLog {
                size: anchor.tree_size,
                anchored: root.to_hex(),
                log: ours.to_hex(),
            });
        }
        sizes.push(anchor.tree_size);
    }
    sizes.sort_unstable();
    sizes.dedup();
    // The smallest anchored size that includes the receipt, or the whole log.
    let above = sizes.partition_point(|s| *s <= index);
    let at = sizes.get(above).copied().unwrap_or(size);
    let mut checkpoint = log.checkpoint(origin);
    checkpoint.size = TreeSize(at);
    checkpoint.root = log.root_at(TreeSize(at))?;
    let note = checkpoint.sign(signer)?;
    let inclusion = log.prove_inclusion(index, TreeSize(at))?;

    let prove_consistency = |old: u64, new: u64| -> Result<ConsistencyEvidence, ProveError> {
        let p = log.prove_consistency(TreeSize(old), TreeSize(new))?;
        Ok(ConsistencyEvidence {
            old_size: old,
            new_size: new,
            path: hex_path(&p.path),
        })
    };
    let mut consistency = Vec::with_capacity(sizes.len().saturating_add(1));
    if sizes.binary_search(&at).is_err() {
        // Not anchored itself: with the anchors next to it.
        let next = sizes.partition_point(|s| *s < at);
        if let Some(below) = next.checked_sub(1).and_then(|i| sizes.get(i)) {
            consistency.push(prove_consistency(*below, at)?);
        }
        if let Some(above) = sizes.get(next) {
            consistency.push(prove_consistency(at, *above)?);
        }
    }
    for pair in sizes.windows(2) {
        if let [old, new] = pair {
            consistency.push(prove_consistency(*old, *new)?);
        }
    }
    Ok(Evidence {
        receipt: URL_SAFE_NO_PAD.encode(&entry),
        checkpoint: note.as_note().to_owned(),
        inclusion: InclusionEvidence {
            index,
            tree_size: at,
            path: hex_path(&inclusion.path),
        },
        consistency,
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

/// The anchors, sorted by size, one per size (the same anchor read twice counts once); two
/// anchors of one size with different roots are a fork.
fn sorted_anchors(anchors: &[Anchor]) -> Result<Vec<(u64, Root, &Anchor)>, AuditError> {
    let mut sorted: Vec<(u64, Root, &Anchor)> = anchors
        .iter()
        .map(|a| Ok((a.tree_size, parse_root(&a.root)?, a)))
        .collect::<Result<_, AuditError>>()?;
    sorted.sort_by_key(|(s, _, _)| *s);
    let mut unique: Vec<(u64, Root, &Anchor)> = Vec::with_capacity(sorted.len());
    for anchor in sorted {
        match unique.last() {
            Some(last) if last.0 == anchor.0 => {
                if last.1 != anchor.1 {
                    return Err(AuditError::Forked {
                        detail: format!("two anchors of size {} with different roots", anchor.0),
                    });
                }
            }
            _ => unique.push(anchor),
        }
    }
    Ok(unique)
}

/// The checkpoint (`size`, `root`) fits the anchored history: every anchor is shown
/// consistent with the next one (one unbroken chain from the first anchor to the last), and
/// the checkpoint either equals the anchor of its size or is shown consistent with the
/// largest anchor below it and with the smallest anchor above it. A proof the chain needs
/// and the evidence lacks is a refusal ([`AuditError::MissingConsistency`]), a proof that
/// fails or an anchored root that disagrees with the checkpoint is a fork. Returns the
/// anchor that covers the checkpoint (the smallest at or above its size) and how many
/// proofs were checked. The work is linear in the proofs given, and in the anchors once
/// sorted (they come from chain in order).
fn anchored(
    size: TreeSize,
    root: Root,
    proofs: &[ConsistencyEvidence],
    anchors: &[Anchor],
) -> Result<(Anchor, usize), AuditError> {
    let anchors = sorted_anchors(anchors)?;
    let mut by_sizes: HashMap<(u64, u64), &ConsistencyEvidence> =
        HashMap::with_capacity(proofs.len());
    for proof in proofs {
        if by_sizes
            .insert((proof.old_size, proof.new_size), proof)
            .is_some()
        {
            return Err(AuditError::DuplicateConsistency {
                old_size: proof.old_size,
                new_size: proof.new_size,
            });
        }
    }
    let consistent = |old: (u64, &Root), new: (u64, &Root)| -> Result<(), AuditError> {
        let evidence = by_sizes
            .get(&(old.0, new.0))
            .ok_or(AuditError::MissingConsistency {
                old_size: old.0,
                new_size: new.0,
            })?;
        let proof = consistency_proof(evidence)?;
        verify_consistency(&proof, old.1, new.1).map_err(|e| AuditError::Forked {
            detail: format!("no consistency from size {} to size {}: {e}", old.0, new.0),
        })
    };

    // Where the checkpoint sits among the anchors: `anchors[above]` is the smallest anchor
    // at or above its size.
    let above = anchors.partition_point(|(s, _, _)| *s < size.0);
    let Some((covering_size, covering_root, covering)) = anchors.get(above) else {
        return Err(AuditError::NotAnchored { size: size.0 });
    };
    let mut intervals = 0;
    if *covering_size == size.0 {
        if *covering_root != root {
            return Err(AuditError::Forked {
                detail: format!(
                    "the anchored root of size {covering_size} is {}, the log's is {}",
                    covering_root.to_hex(),
                    root.to_hex()
                ),
            });
        }
    } else {
        if let Some(below) = above.checked_sub(1).and_then(|i| anchors.get(i)) {
            consistent((below.0, &below.1), (size.0, &root))?;
            intervals += 1;
        }
        consistent((size.0, &root), (*covering_size, covering_root))?;
        intervals += 1;
    }
    // Every anchor with the next one: a history rewritten between two anchors breaks here,
    // whichever anchor the checkpoint sits next to.
    for pair in anchors.windows(2) {
        if let [(old_size, old_root, _), (new_size, new_root, _)] = pair {
            consistent((*old_size, old_root), (*new_size, new_root))?;
            intervals += 1;
        }
    }
    Ok(((*covering).clone(), intervals))
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
