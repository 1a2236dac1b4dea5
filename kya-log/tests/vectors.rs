//! Known answers: the RFC 6962 eight-leaf tree, transparency-dev/merkle's proof vectors, and
//! Go's sumdb/note signed note.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use kya_core::SecretKey;
use kya_log::note::Note;
use kya_log::{
    Checkpoint, ConsistencyProof, Hash, InclusionProof, LeafHash, MemoryTree, NoteError,
    NoteVerifier, Root, TreeSize, verify_consistency, verify_inclusion,
};
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/log")
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn hex32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn path_hex(v: &Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| Hash(hex32(h)))
        .collect()
}

fn eight_leaves() -> (Value, MemoryTree) {
    let doc = json(&vectors().join("rfc6962-eight-leaves.json"));
    let mut tree = MemoryTree::new();
    for leaf in doc["leaves_hex"].as_array().unwrap() {
        tree.append(&hex::decode(leaf.as_str().unwrap()).unwrap());
    }
    (doc, tree)
}

#[test]
fn eight_leaf_tree_heads_and_leaf_hashes() {
    let (doc, tree) = eight_leaves();
    for (size, root) in doc["roots_hex"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            tree.root_at(TreeSize(size as u64)).unwrap(),
            Root(hex32(root)),
            "size {size}"
        );
    }
    assert_eq!(Root::empty(), Root(hex32(&doc["roots_hex"][0])));
    for (i, leaf) in doc["leaf_hashes_hex"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let entry = hex::decode(doc["leaves_hex"][i].as_str().unwrap()).unwrap();
        assert_eq!(LeafHash::of(&entry), LeafHash(hex32(leaf)));
    }
}

#[test]
fn eight_leaf_proofs_are_generated_and_verified_as_published() {
    let (doc, tree) = eight_leaves();
    let roots = doc["roots_hex"].as_array().unwrap();
    for v in doc["inclusion"].as_array().unwrap() {
        let (index, size) = (
            v["index"].as_u64().unwrap(),
            v["tree_size"].as_u64().unwrap(),
        );
        let proof = tree.prove_inclusion(index, TreeSize(size)).unwrap();
        assert_eq!(
            proof.path,
            path_hex(&v["path_hex"]),
            "inclusion {index} in {size}"
        );
        let leaf = LeafHash(hex32(&doc["leaf_hashes_hex"][index as usize]));
        verify_inclusion(&leaf, &proof, &Root(hex32(&roots[size as usize]))).unwrap();
    }
    for v in doc["consistency"].as_array().unwrap() {
        let (old, new) = (
            v["old_size"].as_u64().unwrap(),
            v["new_size"].as_u64().unwrap(),
        );
        let proof = tree
            .prove_consistency(TreeSize(old), TreeSize(new))
            .unwrap();
        assert_eq!(
            proof.path,
            path_hex(&v["path_hex"]),
            "consistency {old} to {new}"
        );
        verify_consistency(
            &proof,
            &Root(hex32(&roots[old as usize])),
            &Root(hex32(&roots[new as usize])),
        )
        .unwrap();
    }
}

fn b64_hash(v: &Value) -> Option<[u8; 32]> {
    B64.decode(v.as_str().unwrap_or_default())
        .ok()?
        .try_into()
        .ok()
}

fn b64_path(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(|h| b64_hash(h).map(Hash)).collect(),
        _ => None,
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for item in std::fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Each vector either verifies (`wantErr: false`) or is refused. Hashes that are not 32
/// bytes cannot even be expressed in the typed API: refused at decoding.
#[test]
fn transparency_dev_inclusion_vectors() {
    let (_, tree) = eight_leaves();
    let mut all = Vec::new();
    files(&vectors().join("transparency-dev/inclusion"), &mut all);
    assert!(all.len() > 80, "{}", all.len());
    let mut accepted = 0;
    for path in all {
        let v = json(&path);
        let want_ok = !v["wantErr"].as_bool().unwrap();
        let proof = b64_path(&v["proof"]).map(|path| InclusionProof {
            index: v["leafIdx"].as_u64().unwrap(),
            tree_size: TreeSize(v["treeSize"].as_u64().unwrap()),
            path,
        });
        let leaf = b64_hash(&v["leafHash"]).map(LeafHash);
        let root = b64_hash(&v["root"]).map(Root);
        let ok = match (proof, leaf, root) {
            (Some(p), Some(l), Some(r)) => verify_inclusion(&l, &p, &r).is_ok(),
            _ => false,
        };
        assert_eq!(ok, want_ok, "{}", path.display());
        // Happy paths over the eight-leaf tree: our prover makes the same proof.
        if want_ok && v["treeSize"].as_u64().unwrap() <= 8 {
            let (index, size) = (
                v["leafIdx"].as_u64().unwrap(),
                v["treeSize"].as_u64().unwrap(),
            );
            if tree.root_at(TreeSize(size)).unwrap().0 == b64_hash(&v["root"]).unwrap() {
                let made = tree.prove_inclusion(index, TreeSize(size)).unwrap();
                assert_eq!(Some(made.path), b64_path(&v["proof"]), "{}", path.display());
            }
        }
        accepted += usize::from(ok);
    }
    assert!(accepted >= 6, "{accepted}");
}

#[test]
fn transparency_dev_consistency_vectors() {
    let (_, tree) = eight_leaves();
    let mut all = Vec::new();
    files(&vectors().join("transparency-dev/consistency"), &mut all);
    assert!(all.len() > 90, "{}", all.len());
    let mut accepted = 0;
    for path in all {
        let v = json(&path);
        let want_ok = !v["wantErr"].as_bool().unwrap();
        let (old, new) = (v["size1"].as_u64().unwrap(), v["size2"].as_u64().unwrap());
        let proof = b64_path(&v["proof"]).map(|path| ConsistencyProof {
            old_size: TreeSize(old),
            new_size: TreeSize(new),
            path,
        });
        let mut roots = b64_hash(&v["root1"]).zip(b64_hash(&v["root2"]));
        // One vector checks that equal sizes with equal (opaque, not hash-sized) roots and
        // an empty proof pass; the typed API holds 32-byte roots, so use a stand-in.
        if roots.is_none() && old == new && v["root1"] == v["root2"] {
            roots = Some(([7; 32], [7; 32]));
        }
        let ok = match (proof, roots) {
            (Some(p), Some((r1, r2))) => verify_consistency(&p, &Root(r1), &Root(r2)).is_ok(),
            _ => false,
        };
        assert_eq!(ok, want_ok, "{}", path.display());
        if want_ok && new <= 8 && tree.root_at(TreeSize(new)).unwrap().0 == roots.unwrap().1 {
            let made = tree
                .prove_consistency(TreeSize(old), TreeSize(new))
                .unwrap();
            assert_eq!(Some(made.path), b64_path(&v["proof"]), "{}", path.display());
        }
        accepted += usize::from(ok);
    }
    assert!(accepted >= 5, "{accepted}");
}

fn go_note() -> Value {
    json(&vectors().join("go-sumdb-note.json"))
}

/// Go's private key text is `PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)`.
fn go_secret(v: &Value) -> SecretKey {
    let key = v["signer_key"].as_str().unwrap();
    let b64 = key.splitn(5, '+').nth(4).unwrap();
    let raw = B64.decode(b64).unwrap();
    assert_eq!(raw[0], 0x01);
    SecretKey::from_seed(&raw[1..].try_into().unwrap())
}

#[test]
fn go_note_verifies_and_our_signature_is_byte_identical() {
    let v = go_note();
    let verifier = NoteVerifier::parse(v["verifier_key"].as_str().unwrap()).unwrap();
    assert_eq!(verifier.to_string(), v["verifier_key"].as_str().unwrap());
    let secret = go_secret(&v);
    assert_eq!(
        NoteVerifier::new("PeterNeumann", secret.public_key()).unwrap(),
        verifier
    );
    let signed = v["signed_note"].as_str().unwrap();
    let note = verifier.verify(signed.as_bytes()).unwrap();
    assert_eq!(note.text, v["text"].as_str().unwrap());
    // Our signature line over the same text with the same key: Ed25519 is deterministic.
    let sig = secret.sign(note.text.as_bytes());
    let mut blob = verifier.key_id().to_vec();
    blob.extend_from_slice(&sig.to_bytes());
    let ours = format!(
        "{}\n\u{2014} PeterNeumann {}\n",
        note.text,
        B64.encode(blob)
    );
    assert_eq!(ours, signed);
}

#[test]
fn go_note_with_an_unknown_witness_signature_still_verifies_but_tampering_fails() {
    let v = go_note();
    let verifier = NoteVerifier::parse(v["verifier_key"].as_str().unwrap()).unwrap();
    let signed = v["signed_note"].as_str().unwrap();
    let both = format!("{signed}{}", v["other_signature_line"].as_str().unwrap());
    let note = verifier.verify(both.as_bytes()).unwrap();
    assert_eq!(note.signatures.len(), 2);
    let enoch = NoteVerifier::parse(v["other_verifier_key"].as_str().unwrap()).unwrap();
    enoch.verify(both.as_bytes()).unwrap();
    assert!(matches!(
        enoch.verify(signed.as_bytes()),
        Err(NoteError::NotSigned { .. })
    ));
    let tampered = signed.replace("cryptography", "cryptographY");
    assert!(matches!(
        verifier.verify(tampered.as_bytes()),
        Err(NoteError::BadSignature { .. })
    ));
}

#[test]
fn go_malformed_notes_are_refused() {
    let v = go_note();
    let text = v["text"].as_str().unwrap();
    let sig_line = v["signed_note"]
        .as_str()
        .unwrap()
        .strip_prefix(text)
        .unwrap()[1..]
        .to_owned();
    let bad = [
        text.to_owned(),
        format!("{text}\n"),
        format!("{text}\n{}", &sig_line[..sig_line.len() - 1]),
        format!("\x01{text}\n{sig_line}"),
        format!(
            "{text}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        ),
        format!("{text}\n{sig_line}Unexpected line.\n"),
        format!("{text}\n{sig_line}{sig_line}"),
        format!(
            "{text}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        ),
        format!(
            "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n"
        ),
        format!("{text}\n{}", sig_line.repeat(40)),
    ];
    for msg in bad {
        assert!(Note::parse(msg.as_bytes()).is_err(), "{msg:?}");
    }
    let mut bytes = format!("{text}\n{sig_line}").into_bytes();
    bytes.insert(3, 0xff);
    assert!(Note::parse(&bytes).is_err());
    let huge = format!("{}\n{sig_line}", "a\n".repeat(60_000));
    assert!(matches!(
        Note::parse(huge.as_bytes()),
        Err(NoteError::TooLarge { .. })
    ));
}

#[test]
fn go_verifier_key_manglings_are_refused() {
    let v = go_note();
    let key = v["verifier_key"].as_str().unwrap();
    let bytes = key.as_bytes();
    for i in 0..bytes.len() {
        for j in i + 1..=bytes.len() {
            if i == 0 && j == bytes.len() {
                continue;
            }
            assert!(NoteVerifier::parse(&key[i..j]).is_err(), "{}", &key[i..j]);
        }
    }
    for i in 0..bytes.len() {
        let mut b = bytes.to_vec();
        b[i] = b[i].wrapping_add(1);
        if let Ok(s) = String::from_utf8(b) {
            assert!(NoteVerifier::parse(&s).is_err(), "{s}");
        }
    }
}

#[test]
fn c2sp_checkpoint_example_parses_and_round_trips() {
    // The example of c2sp.org/tlog-checkpoint (its text only; the signing key is not
    // published).
    let text =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let cp = Checkpoint::parse(text).unwrap();
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, TreeSize(20_852_163));
    assert_eq!(cp.to_text(), text);
    let with_ext = format!("{text}ext one\nExt-2\n");
    let cp = Checkpoint::parse(&with_ext).unwrap();
    assert_eq!(cp.extensions, ["ext one", "Ext-2"]);
    assert_eq!(cp.to_text(), with_ext);
    for bad in [
        "example.com/x\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\r\n",
        "o\n1\n",
    ] {
        assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
    }
}
