//! Property tests: every proof between random sizes verifies, agrees with an independent
//! recursive reference of RFC 9162 section 2.1, and fails under any change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kya_log::{
    ConsistencyProof, Hash, InclusionProof, LeafHash, MemoryTree, Root, TreeSize,
    verify_consistency, verify_inclusion,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn entry(i: u64) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

fn tree(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(&entry(i));
    }
    t
}

/// MTH(D[n]) written straight from RFC 9162 section 2.1.1, over the entries.
fn mth(entries: &[Vec<u8>]) -> [u8; 32] {
    match entries.len() {
        0 => Sha256::digest([]).into(),
        1 => LeafHash::of(&entries[0]).0,
        n => {
            let k = largest_below(n);
            let mut h = Sha256::new();
            h.update([1]);
            h.update(mth(&entries[..k]));
            h.update(mth(&entries[k..]));
            h.finalize().into()
        }
    }
}

/// PATH(m, D[n]) of RFC 9162 section 2.1.3.1, recursively.
fn path(m: usize, entries: &[Vec<u8>]) -> Vec<[u8; 32]> {
    let n = entries.len();
    if n == 1 {
        return Vec::new();
    }
    let k = largest_below(n);
    if m < k {
        let mut p = path(m, &entries[..k]);
        p.push(mth(&entries[k..]));
        p
    } else {
        let mut p = path(m - k, &entries[k..]);
        p.push(mth(&entries[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b) of RFC 9162 section 2.1.4.1, recursively.
fn subproof(m: usize, entries: &[Vec<u8>], whole: bool) -> Vec<[u8; 32]> {
    let n = entries.len();
    if m == n {
        return if whole {
            Vec::new()
        } else {
            vec![mth(entries)]
        };
    }
    let k = largest_below(n);
    if m <= k {
        let mut p = subproof(m, &entries[..k], whole);
        p.push(mth(&entries[k..]));
        p
    } else {
        let mut p = subproof(m - k, &entries[k..], false);
        p.push(mth(&entries[..k]));
        p
    }
}

fn largest_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = h.0;
    b[bit / 8 % 32] ^= 1 << (bit % 8);
    Hash(b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inclusion_proofs_verify_and_match_the_reference(
        n in 1u64..300, idx in any::<u64>(), size in any::<u64>()
    ) {
        let t = tree(n);
        let size = 1 + size % n;
        let index = idx % size;
        let entries: Vec<_> = (0..size).map(entry).collect();
        let root = t.root_at(TreeSize(size)).unwrap();
        prop_assert_eq!(root.0, mth(&entries));
        let proof = t.prove_inclusion(index, TreeSize(size)).unwrap();
        let reference: Vec<[u8; 32]> = path(index as usize, &entries);
        prop_assert_eq!(proof.path.iter().map(|h| h.0).collect::<Vec<_>>(), reference);
        verify_inclusion(&LeafHash::of(&entry(index)), &proof, &root).unwrap();
    }

    #[test]
    fn any_change_to_an_inclusion_proof_fails(
        n in 2u64..200, idx in any::<u64>(), bit in 0usize..256, other in any::<u64>()
    ) {
        let t = tree(n);
        let index = idx % n;
        let root = t.root();
        let leaf = LeafHash::of(&entry(index));
        let proof = t.prove_inclusion(index, TreeSize(n)).unwrap();
        for i in 0..proof.path.len() {
            let mut p = proof.clone();
            p.path[i] = flip(&p.path[i], bit);
            prop_assert!(verify_inclusion(&leaf, &p, &root).is_err());
        }
        prop_assert!(verify_inclusion(&LeafHash(flip(&leaf.as_node(), bit).0), &proof, &root).is_err());
        prop_assert!(verify_inclusion(&leaf, &proof, &Root(flip(&Hash(root.0), bit).0)).is_err());
        // Another index of the same tree.
        let j = (index + 1 + other % (n - 1)) % n;
        let wrong_index = InclusionProof { index: j, ..proof.clone() };
        prop_assert!(verify_inclusion(&leaf, &wrong_index, &root).is_err());
        // Another size, checked against that size's own head.
        let m = 1 + other % (n + 50);
        if m != n && index < m {
            let wrong_size = InclusionProof { tree_size: TreeSize(m), ..proof.clone() };
            let m_root = if m <= n { t.root_at(TreeSize(m)).unwrap() } else { tree(m).root() };
            prop_assert!(verify_inclusion(&leaf, &wrong_size, &m_root).is_err());
        }
        // A hash added or removed.
        let mut longer = proof.clone();
        longer.path.push(Hash(root.0));
        prop_assert!(verify_inclusion(&leaf, &longer, &root).is_err());
        if !proof.path.is_empty() {
            let mut shorter = proof.clone();
            shorter.path.pop();
            prop_assert!(verify_inclusion(&leaf, &shorter, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_match_the_reference(
        n in 1u64..300, a in any::<u64>(), b in any::<u64>()
    ) {
        let t = tree(n);
        let (x, y) = (a % (n + 1), b % (n + 1));
        let (old, new) = (x.min(y), x.max(y));
        let entries: Vec<_> = (0..new).map(entry).collect();
        let proof = t.prove_consistency(TreeSize(old), TreeSize(new)).unwrap();
        if old > 0 && old < new {
            let reference = subproof(old as usize, &entries, true);
            prop_assert_eq!(proof.path.iter().map(|h| h.0).collect::<Vec<_>>(), reference);
        } else {
            prop_assert!(proof.path.is_empty());
        }
        let (r1, r2) = (t.root_at(TreeSize(old)).unwrap(), t.root_at(TreeSize(new)).unwrap());
        verify_consistency(&proof, &r1, &r2).unwrap();
    }

    #[test]
    fn any_change_to_a_consistency_proof_fails(
        n in 3u64..200, a in any::<u64>(), b in any::<u64>(), bit in 0usize..256, other in any::<u64>()
    ) {
        let t = tree(n);
        let new = 2 + b % (n - 1);
        let old = 1 + a % (new - 1);
        let proof = t.prove_consistency(TreeSize(old), TreeSize(new)).unwrap();
        let (r1, r2) = (t.root_at(TreeSize(old)).unwrap(), t.root_at(TreeSize(new)).unwrap());
        for i in 0..proof.path.len() {
            let mut p = proof.clone();
            p.path[i] = flip(&p.path[i], bit);
            prop_assert!(verify_consistency(&p, &r1, &r2).is_err());
        }
        prop_assert!(verify_consistency(&proof, &Root(flip(&Hash(r1.0), bit).0), &r2).is_err());
        prop_assert!(verify_consistency(&proof, &r1, &Root(flip(&Hash(r2.0), bit).0)).is_err());
        prop_assert!(verify_consistency(&proof, &r2, &r1).is_err());
        // Another old size (with its own true head), or another new size.
        let m = 1 + other % (n - 1);
        if m != old && m < new {
            let p = ConsistencyProof { old_size: TreeSize(m), ..proof.clone() };
            prop_assert!(verify_consistency(&p, &t.root_at(TreeSize(m)).unwrap(), &r2).is_err());
        }
        let m = 2 + other % (n - 1);
        if m != new && m > old {
            let p = ConsistencyProof { new_size: TreeSize(m), ..proof.clone() };
            prop_assert!(verify_consistency(&p, &r1, &t.root_at(TreeSize(m)).unwrap()).is_err());
        }
        let mut longer = proof.clone();
        longer.path.push(Hash(r2.0));
        prop_assert!(verify_consistency(&longer, &r1, &r2).is_err());
        let mut shorter = proof.clone();
        shorter.path.pop();
        prop_assert!(verify_consistency(&shorter, &r1, &r2).is_err());
    }
}

#[test]
fn proofs_out_of_range_are_refused_not_panicking() {
    let t = tree(5);
    assert!(t.prove_inclusion(5, TreeSize(5)).is_err());
    assert!(t.prove_inclusion(0, TreeSize(6)).is_err());
    assert!(t.prove_consistency(TreeSize(4), TreeSize(3)).is_err());
    let leaf = LeafHash::of(b"x");
    let huge = InclusionProof {
        index: u64::MAX - 1,
        tree_size: TreeSize(u64::MAX),
        path: vec![Hash([0; 32]); 65],
    };
    assert!(verify_inclusion(&leaf, &huge, &t.root()).is_err());
    let zero = InclusionProof {
        index: 0,
        tree_size: TreeSize(0),
        path: vec![],
    };
    assert!(verify_inclusion(&leaf, &zero, &Root::empty()).is_err());
}
