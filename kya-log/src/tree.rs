//! The RFC 9162 (Certificate Transparency 2.0) Merkle tree, section 2.1: hashing, the tree
//! head of any size, inclusion and consistency proofs, and their verification exactly as
//! sections 2.1.3.2 and 2.1.4.2 describe.
//!
//! Leaves and nodes are domain-separated so that a leaf can never be passed off as a node:
//! a leaf hash is `SHA-256(0x00 || entry)`, a node hash `SHA-256(0x01 || left || right)`, and
//! the head of the empty tree is `SHA-256()` (of no bytes).

use std::fmt;

use sha2::{Digest, Sha256};

/// The most hashes an inclusion proof can hold: one per level of a tree of `u64` leaves.
pub const MAX_INCLUSION_PATH: usize = 64;
/// The most hashes a consistency proof can hold (one more than an inclusion proof: the
/// old tree's own subtree root when its size is not a power of two).
pub const MAX_CONSISTENCY_PATH: usize = 65;

macro_rules! hash_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The 32 bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Reads exactly 32 bytes; `None` for any other length.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map(Self)
            }

            /// Lowercase hex, as written in logs and error messages.
            pub fn to_hex(&self) -> String {
                use fmt::Write as _;
                self.0.iter().fold(String::with_capacity(64), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                })
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}

hash_newtype!(
    /// A node hash of the tree: an element of a proof path, or the Merkle Tree Hash of a
    /// subtree.
    Hash
);
hash_newtype!(
    /// The hash of one entry: `SHA-256(0x00 || entry)`.
    LeafHash
);
hash_newtype!(
    /// The Merkle Tree Hash of the whole tree at some size (the tree head).
    Root
);

impl LeafHash {
    /// `SHA-256(0x00 || entry)` (RFC 9162 section 2.1.1).
    pub fn of(entry: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update([0x00]);
        h.update(entry);
        Self(h.finalize().into())
    }

    /// The same bytes as a node hash (a one-leaf subtree's hash is its leaf hash).
    pub fn as_node(&self) -> Hash {
        Hash(self.0)
    }
}

impl Root {
    /// The head of the empty tree: `SHA-256()` of no bytes.
    pub fn empty() -> Self {
        Self(Sha256::digest([]).into())
    }
}

impl From<Hash> for Root {
    fn from(h: Hash) -> Self {
        Self(h.0)
    }
}

/// `SHA-256(0x01 || left || right)` (RFC 9162 section 2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The number of leaves in a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TreeSize(pub u64);

impl fmt::Display for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Proof that the leaf at `index` is in the tree of `tree_size` leaves: the audit path of
/// RFC 9162 section 2.1.3.1, from the leaf's sibling up to the root's child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf's position, from 0.
    pub index: u64,
    /// The size of the tree whose head the proof leads to.
    pub tree_size: TreeSize,
    /// The sibling hashes, bottom-up.
    pub path: Vec<Hash>,
}

/// Proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` leaves
/// (RFC 9162 section 2.1.4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The earlier size.
    pub old_size: TreeSize,
    /// The later size.
    pub new_size: TreeSize,
    /// The consistency path.
    pub path: Vec<Hash>,
}

/// Why a proof did not verify, or could not be made.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// The old size is larger than the new one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizesReversed {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// The path has more hashes than any tree of this kind can need.
    #[error("proof path has {len} hashes, more than the {max} any tree needs")]
    PathTooLong {
        /// Hashes given.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The path has the wrong number of hashes for these sizes (too many or too few).
    #[error("proof path of {len} hashes does not fit the tree sizes")]
    PathLength {
        /// Hashes given.
        len: usize,
    },
    /// The path leads to a different root than the one given.
    #[error("proof leads to root {computed}, not to the expected root {expected}")]
    RootMismatch {
        /// The root the proof leads to.
        computed: Root,
        /// The root it should reach.
        expected: Root,
    },
    /// The consistency path does not reproduce the old tree's root.
    #[error("proof leads to old root {computed}, not to the expected old root {expected}")]
    OldRootMismatch {
        /// The old root the proof leads to.
        computed: Root,
        /// The old root given.
        expected: Root,
    },
    /// Trees of equal size must have the same root (the empty root for size 0) and an
    /// empty proof.
    #[error("trees of equal size {size} have different roots or a non-empty proof")]
    EqualSizes {
        /// The size.
        size: u64,
    },
    /// A proof from the empty tree must be empty, and the old root the empty root.
    #[error("a proof from the empty tree must be empty and start from the empty root")]
    FromEmpty,
    /// A hash the prover needed is not available (a storage failure, reported by the store).
    #[error("node hash at level {level} index {index} is not available: {reason}")]
    Unavailable {
        /// The level of the node.
        level: u8,
        /// Its index in that level.
        index: u64,
        /// Why.
        reason: String,
    },
}

/// Where a prover reads the hashes of complete (perfect) subtrees.
pub trait NodeSource {
    /// The Merkle Tree Hash of the perfect subtree of `2^level` leaves starting at leaf
    /// `index << level`. Only asked for subtrees inside the tree being proven.
    fn perfect(&self, level: u8, index: u64) -> Result<Hash, ProofError>;
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[lo..hi]) for a range that is a node of the tree of some size (so `lo` is aligned to
/// a power of two at least as large as the range); a non-empty range.
pub fn range_hash(src: &impl NodeSource, lo: u64, hi: u64) -> Result<Hash, ProofError> {
    let len = hi - lo;
    if len.is_power_of_two() && lo.is_multiple_of(len) {
        return src.perfect(len.trailing_zeros() as u8, lo >> len.trailing_zeros());
    }
    let k = split_point(len);
    let left = range_hash(src, lo, lo + k)?;
    let right = range_hash(src, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// The tree head at `size` (the empty root for size 0).
pub fn root_at(src: &impl NodeSource, size: TreeSize) -> Result<Root, ProofError> {
    if size.0 == 0 {
        return Ok(Root::empty());
    }
    range_hash(src, 0, size.0).map(Root::from)
}

/// PATH(index, D[0..size]) of RFC 9162 section 2.1.3.1.
pub fn prove_inclusion(
    src: &impl NodeSource,
    index: u64,
    size: TreeSize,
) -> Result<InclusionProof, ProofError> {
    if index >= size.0 {
        return Err(ProofError::IndexOutOfRange {
            index,
            size: size.0,
        });
    }
    // Walk down from the root, collecting the sibling of each subtree holding the leaf;
    // the RFC lists them bottom-up.
    let (mut lo, mut hi, mut path) = (0u64, size.0, Vec::new());
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            path.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(range_hash(src, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    Ok(InclusionProof {
        index,
        tree_size: size,
        path,
    })
}

/// PROOF(old, D[0..new]) of RFC 9162 section 2.1.4.1 (empty when the sizes are equal or the
/// old tree is empty: there is nothing to prove).
pub fn prove_consistency(
    src: &impl NodeSource,
    old: TreeSize,
    new: TreeSize,
) -> Result<ConsistencyProof, ProofError> {
    if old > new {
        return Err(ProofError::SizesReversed {
            old: old.0,
            new: new.0,
        });
    }
    let mut path = Vec::new();
    if old.0 > 0 && old < new {
        // SUBPROOF(m, D[lo..hi], b), unrolled: each step appends its sibling after the
        // recursive part, so collect top-down and reverse.
        let (mut lo, mut hi, mut m, mut whole) = (0u64, new.0, old.0, true);
        loop {
            let len = hi - lo;
            if m == len {
                if !whole {
                    path.push(range_hash(src, lo, hi)?);
                }
                break;
            }
            let k = split_point(len);
            if m <= k {
                path.push(range_hash(src, lo + k, hi)?);
                hi = lo + k;
            } else {
                path.push(range_hash(src, lo, lo + k)?);
                lo += k;
                m -= k;
                whole = false;
            }
        }
        path.reverse();
    }
    Ok(ConsistencyProof {
        old_size: old,
        new_size: new,
        path,
    })
}

/// Verifies an inclusion proof for `leaf` against `root`, by the algorithm of RFC 9162
/// section 2.1.3.2.
pub fn verify_inclusion(
    leaf: &LeafHash,
    proof: &InclusionProof,
    root: &Root,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion(leaf, proof)?;
    if computed != *root {
        return Err(ProofError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// The root an inclusion proof leads to (steps 1 to 4 of RFC 9162 section 2.1.3.2, and the
/// `sn == 0` check of step 5).
pub fn root_from_inclusion(leaf: &LeafHash, proof: &InclusionProof) -> Result<Root, ProofError> {
    let (index, size) = (proof.index, proof.tree_size.0);
    if proof.path.len() > MAX_INCLUSION_PATH {
        return Err(ProofError::PathTooLong {
            len: proof.path.len(),
            max: MAX_INCLUSION_PATH,
        });
    }
    // 1. leaf_index must be below tree_size.
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // 2. fn = leaf_index, sn = tree_size - 1; 3. r = hash.
    let (mut fnode, mut snode, mut r) = (index, size - 1, leaf.as_node());
    // 4. for each p in inclusion_path.
    for p in &proof.path {
        if snode == 0 {
            return Err(ProofError::PathLength {
                len: proof.path.len(),
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // 5. sn must be 0.
    if snode != 0 {
        return Err(ProofError::PathLength {
            len: proof.path.len(),
        });
    }
    Ok(Root::from(r))
}

/// Verifies that the tree of `proof.old_size` leaves with head `old_root` is a prefix of the
/// tree of `proof.new_size` leaves with head `new_root`, by the algorithm of RFC 9162
/// section 2.1.4.2 for `0 < old < new`. Equal sizes need equal roots and an empty proof; the
/// empty tree is a prefix of every tree (empty proof, empty old root).
pub fn verify_consistency(
    proof: &ConsistencyProof,
    old_root: &Root,
    new_root: &Root,
) -> Result<(), ProofError> {
    let (first, second) = (proof.old_size.0, proof.new_size.0);
    let path = &proof.path;
    if path.len() > MAX_CONSISTENCY_PATH {
        return Err(ProofError::PathTooLong {
            len: path.len(),
            max: MAX_CONSISTENCY_PATH,
        });
    }
    if first > second {
        return Err(ProofError::SizesReversed {
            old: first,
            new: second,
        });
    }
    if first == second {
        // The empty tree has one head: the empty root.
        let bad_empty = first == 0 && *old_root != Root::empty();
        if !path.is_empty() || old_root != new_root || bad_empty {
            return Err(ProofError::EqualSizes { size: first });
        }
        return Ok(());
    }
    if first == 0 {
        if !path.is_empty() || *old_root != Root::empty() {
            return Err(ProofError::FromEmpty);
        }
        return Ok(());
    }
    let (fr, sr, snode) = consistency_roots(first, second, old_root, path)?;
    // 7. fr == first_hash, sr == second_hash, sn == 0.
    if snode != 0 {
        return Err(ProofError::PathLength { len: path.len() });
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch {
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch {
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}

/// Steps 1 to 6 of RFC 9162 section 2.1.4.2: the old and new roots the path leads to, and
/// the final `sn`.
fn consistency_roots(
    first: u64,
    second: u64,
    first_hash: &Root,
    path: &[Hash],
) -> Result<(Root, Root, u64), ProofError> {
    // 1. An empty path fails.
    if path.is_empty() {
        return Err(ProofError::PathLength { len: 0 });
    }
    // 2. If first is an exact power of 2, prepend first_hash.
    let prepended = Hash(first_hash.0);
    let mut hashes: Vec<&Hash> = Vec::with_capacity(path.len() + 1);
    if first.is_power_of_two() {
        hashes.push(&prepended);
    }
    hashes.extend(path.iter());
    // 3. fn = first - 1, sn = second - 1.
    let (mut fnode, mut snode) = (first - 1, second - 1);
    // 4. Right-shift both while LSB(fn) is set.
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // 5. fr = sr = the first value.
    let (mut fr, mut sr) = (*hashes[0], *hashes[0]);
    // 6. For each subsequent value c.
    for c in &hashes[1..] {
        if snode == 0 {
            return Err(ProofError::PathLength { len: path.len() });
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    Ok((Root::from(fr), Root::from(sr), snode))
}

/// Where the hash of the perfect subtree `(level, index)` sits in a store that keeps every
/// completed subtree hash in the order they complete: appending leaf `n` stores its leaf hash
/// and then one hash per subtree it completes, lowest first. Before leaf `n`, `2n -
/// popcount(n)` hashes are stored.
pub fn stored_index(level: u8, index: u64) -> u64 {
    let last_leaf = ((index + 1) << level) - 1;
    stored_count(last_leaf) + u64::from(level)
}

/// How many hashes a tree of `leaves` leaves stores (see [`stored_index`]).
pub fn stored_count(leaves: u64) -> u64 {
    2 * leaves - u64::from(leaves.count_ones())
}

/// The right edge of a tree: the roots of its perfect subtrees, largest (leftmost) first.
/// Enough to append and to compute the current head without reading anything back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    roots: Vec<Hash>,
}

impl CompactRange {
    /// The range of a tree of `size` leaves, given its perfect subtree roots (largest
    /// first); `None` if their number does not match the size.
    pub fn from_parts(size: u64, roots: Vec<Hash>) -> Option<Self> {
        (roots.len() == size.count_ones() as usize).then_some(Self { size, roots })
    }

    /// The range of the tree of `size` leaves, read from a node source.
    pub fn read(src: &impl NodeSource, size: u64) -> Result<Self, ProofError> {
        let mut roots = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size & (1u64 << level) != 0 {
                roots.push(src.perfect(level, start >> level)?);
                start += 1u64 << level;
            }
        }
        Ok(Self { size, roots })
    }

    /// The number of leaves.
    pub fn size(&self) -> TreeSize {
        TreeSize(self.size)
    }

    /// Appends a leaf; returns the hashes to store, in stored order (the leaf hash, then
    /// each subtree it completes).
    pub fn push(&mut self, leaf: &LeafHash) -> Vec<Hash> {
        let mut h = leaf.as_node();
        let mut stored = vec![h];
        let mut n = self.size;
        while n & 1 == 1 {
            // A right child: its left sibling is the last root.
            let Some(left) = self.roots.pop() else { break };
            h = node_hash(&left, &h);
            stored.push(h);
            n >>= 1;
        }
        self.roots.push(h);
        self.size += 1;
        stored
    }

    /// The tree head.
    pub fn root(&self) -> Root {
        let mut iter = self.roots.iter().rev();
        let Some(last) = iter.next() else {
            return Root::empty();
        };
        Root::from(iter.fold(*last, |acc, left| node_hash(left, &acc)))
    }
}

/// A tree held in memory: every completed subtree hash, in stored order. For tests,
/// benchmarks, and checking exported tiles.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    stored: Vec<Hash>,
    range: CompactRange,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry; returns its index.
    pub fn append(&mut self, entry: &[u8]) -> u64 {
        self.append_leaf(&LeafHash::of(entry))
    }

    /// Appends a leaf hash; returns its index.
    pub fn append_leaf(&mut self, leaf: &LeafHash) -> u64 {
        let index = self.range.size;
        self.stored.extend(self.range.push(leaf));
        index
    }

    /// The number of leaves.
    pub fn size(&self) -> TreeSize {
        self.range.size()
    }

    /// The current head.
    pub fn root(&self) -> Root {
        self.range.root()
    }

    /// The head at an earlier size.
    pub fn root_at(&self, size: TreeSize) -> Result<Root, ProofError> {
        self.check_size(size)?;
        root_at(self, size)
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn prove_inclusion(
        &self,
        index: u64,
        size: TreeSize,
    ) -> Result<InclusionProof, ProofError> {
        self.check_size(size)?;
        prove_inclusion(self, index, size)
    }

    /// Consistency proof between two sizes.
    pub fn prove_consistency(
        &self,
        old: TreeSize,
        new: TreeSize,
    ) -> Result<ConsistencyProof, ProofError> {
        self.check_size(new)?;
        prove_consistency(self, old, new)
    }

    fn check_size(&self, size: TreeSize) -> Result<(), ProofError> {
        if size > self.size() {
            return Err(ProofError::SizesReversed {
                old: size.0,
                new: self.size().0,
            });
        }
        Ok(())
    }
}

impl NodeSource for MemoryTree {
    fn perfect(&self, level: u8, index: u64) -> Result<Hash, ProofError> {
        usize::try_from(stored_index(level, index))
            .ok()
            .and_then(|i| self.stored.get(i))
            .copied()
            .ok_or_else(|| ProofError::Unavailable {
                level,
                index,
                reason: "beyond the tree".to_owned(),
            })
    }
}
