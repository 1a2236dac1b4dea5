//! The independent Python checker (`scripts/audit_check.py`, standard library only) agrees
//! with kya-log's proofs and checkpoints and with kya's eddsa-jcs-2022 credentials, and
//! refuses tampered ones with a non-zero exit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use kya_core::SecretKey;
use kya_log::{FileLog, NoteVerifier, TreeSize};

fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> Option<&'static str> {
    let found = Command::new("python3").arg("--version").output().is_ok();
    if !found {
        eprintln!("NOTICE: python3 is not installed; the audit_check.py tests are skipped");
    }
    found.then_some("python3")
}

/// Runs the checker; returns (exit code, stdout).
fn check(args: &[&str]) -> (i32, String) {
    let out = Command::new("python3")
        .arg(root_dir().join("scripts/audit_check.py"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

const ORIGIN: &str = "merchant.example/kya/receipts";

struct Fixture {
    dir: tempfile::TempDir,
    log: FileLog,
    checkpoint: PathBuf,
    key: String,
}

fn fixture(n: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::create(dir.path().join("log")).unwrap();
    let receipts: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("{{\"receipt\":{i},\"decision\":\"allow\"}}").into_bytes())
        .collect();
    log.append_batch(&receipts).unwrap();
    let secret = SecretKey::from_seed(&[5; 32]);
    let signed = log.checkpoint(ORIGIN).sign(&secret).unwrap();
    let checkpoint = dir.path().join("checkpoint");
    std::fs::write(&checkpoint, signed.as_note()).unwrap();
    let key = NoteVerifier::new(ORIGIN, secret.public_key())
        .unwrap()
        .to_string();
    Fixture {
        dir,
        log,
        checkpoint,
        key,
    }
}

fn inclusion_args(f: &Fixture, index: u64, entry: &Path) -> Vec<String> {
    let proof = f.log.prove_inclusion(index, f.log.size()).unwrap();
    let mut args = vec![
        "inclusion".to_owned(),
        "--entry".to_owned(),
        entry.display().to_string(),
        "--index".to_owned(),
        index.to_string(),
        "--checkpoint".to_owned(),
        f.checkpoint.display().to_string(),
        "--verifier-key".to_owned(),
        f.key.clone(),
        "--proof".to_owned(),
    ];
    args.extend(proof.path.iter().map(|h| h.to_hex()));
    args
}

fn run(args: &[String]) -> (i32, String) {
    check(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn python_recomputes_inclusion_proofs_from_a_signed_checkpoint() {
    if python().is_none() {
        return;
    }
    for n in [1u64, 2, 3, 7, 8, 9, 300] {
        let f = fixture(n);
        for index in [0, n / 2, n - 1] {
            let entry = f.dir.path().join(format!("entry-{index}"));
            std::fs::write(&entry, f.log.entry(index).unwrap()).unwrap();
            let (code, out) = run(&inclusion_args(&f, index, &entry));
            assert_eq!(code, 0, "size {n} index {index}: {out}");
            assert!(out.starts_with("ok:"), "{out}");
        }
    }
}

#[test]
fn python_refuses_tampered_entries_indices_roots_and_signatures() {
    if python().is_none() {
        return;
    }
    let f = fixture(300);
    let index = 123;
    let entry = f.dir.path().join("entry");
    let mut data = f.log.entry(index).unwrap();
    std::fs::write(&entry, &data).unwrap();
    let good = inclusion_args(&f, index, &entry);
    assert_eq!(run(&good).0, 0);

    // A changed receipt.
    data[3] ^= 1;
    let tampered = f.dir.path().join("tampered");
    std::fs::write(&tampered, &data).unwrap();
    let (code, out) = run(&inclusion_args(&f, index, &tampered));
    assert_eq!(code, 1, "{out}");
    // Another index, another size.
    let mut wrong = good.clone();
    wrong[4] = "124".to_owned();
    assert_eq!(run(&wrong).0, 1);
    let mut sized = good.clone();
    sized.extend(["--size".to_owned(), "299".to_owned()]);
    assert_eq!(run(&sized).0, 1);
    // A proof hash changed.
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    let first = if flipped[last].starts_with('f') {
        "0"
    } else {
        "f"
    };
    flipped[last] = format!("{first}{}", &good[last][1..]);
    assert_eq!(run(&flipped).0, 1);
    // The checkpoint signed by another key, or altered after signing.
    let other = NoteVerifier::new(ORIGIN, SecretKey::from_seed(&[6; 32]).public_key()).unwrap();
    let mut other_key = good.clone();
    other_key[8] = other.to_string();
    assert_eq!(run(&other_key).0, 1);
    let note = std::fs::read_to_string(&f.checkpoint).unwrap();
    let forged = note.replacen("300\n", "301\n", 1);
    std::fs::write(&f.checkpoint, forged).unwrap();
    let (code, out) = run(&good);
    assert_eq!(code, 1, "{out}");
    // With an explicit root and size instead of a checkpoint.
    let proof = f.log.prove_inclusion(index, TreeSize(300)).unwrap();
    let root = f.log.root().to_hex();
    let mut explicit = vec!["inclusion", "--leaf-hash"];
    let leaf = f.log.leaf_hash(index).unwrap().to_hex();
    let hashes: Vec<String> = proof.path.iter().map(|h| h.to_hex()).collect();
    explicit.extend([
        leaf.as_str(),
        "--index",
        "123",
        "--size",
        "300",
        "--root",
        &root,
        "--proof",
    ]);
    explicit.extend(hashes.iter().map(String::as_str));
    assert_eq!(check(&explicit).0, 0);
    let wrong_root = f.log.root_at(TreeSize(299)).unwrap().to_hex();
    let pos = explicit.iter().position(|a| *a == root).unwrap();
    explicit[pos] = &wrong_root;
    assert_eq!(check(&explicit).0, 1);
}

fn credential_files() -> Vec<PathBuf> {
    let mut files =
        vec![root_dir().join("test-vectors/w3c/vc-di-eddsa/eddsa-jcs-2022/signedJCS.json")];
    let kya = root_dir().join("test-vectors/kya/credentials");
    for item in std::fs::read_dir(kya).unwrap() {
        files.push(item.unwrap().path());
    }
    files
}

#[test]
fn python_verifies_w3c_and_kya_credentials_and_refuses_tampering() {
    if python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = credential_files();
    assert!(files.len() >= 5);
    for file in files {
        let path = file.display().to_string();
        let (code, out) = check(&["credential", &path]);
        assert_eq!(code, 0, "{path}: {out}");
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let signer = doc["proof"]["verificationMethod"]
            .as_str()
            .unwrap()
            .split('#')
            .next()
            .unwrap()
            .to_owned();
        assert_eq!(
            check(&["credential", &path, "--expect-signer", &signer]).0,
            0
        );
        assert_eq!(
            check(&[
                "credential",
                &path,
                "--expect-signer",
                "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
            ])
            .0,
            1
        );
        let tampered_cases = {
            let mut id = doc.clone();
            id["id"] = serde_json::json!("urn:uuid:00000000-0000-4000-8000-0000000000ff");
            let mut sig = doc.clone();
            let value = sig["proof"]["proofValue"].as_str().unwrap().to_owned();
            let last = value.chars().last().unwrap();
            let swapped = if last == '2' { '3' } else { '2' };
            sig["proof"]["proofValue"] =
                serde_json::json!(format!("{}{swapped}", &value[..value.len() - 1]));
            let mut created = doc.clone();
            created["proof"]["created"] = serde_json::json!("2020-01-01T00:00:00Z");
            [id, sig, created]
        };
        for (i, bad) in tampered_cases.iter().enumerate() {
            let bad_path = dir.path().join(format!("bad-{i}.json"));
            std::fs::write(&bad_path, serde_json::to_vec(bad).unwrap()).unwrap();
            let (code, out) = check(&["credential", &bad_path.display().to_string()]);
            assert_eq!(code, 1, "{path} case {i}: {out}");
        }
    }
}

#[test]
fn python_refuses_json_it_cannot_canonicalise_exactly() {
    if python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let signed = root_dir().join("test-vectors/w3c/vc-di-eddsa/eddsa-jcs-2022/signedJCS.json");
    let text = std::fs::read_to_string(signed).unwrap();
    for (name, bad) in [
        (
            "float",
            text.replacen("\"name\"", "\"n\": 1.5, \"name\"", 1),
        ),
        (
            "duplicate",
            text.replacen("\"name\"", "\"name\": \"x\", \"name\"", 1),
        ),
    ] {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, bad).unwrap();
        let (code, out) = check(&["credential", &path.display().to_string()]);
        assert_ne!(code, 0, "{name}: {out}");
        assert!(out.contains("refused"), "{name}: {out}");
    }
}
