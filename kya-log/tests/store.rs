//! The file store: round trips, the writer lock, crash recovery, corruption, export.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use kya_core::SecretKey;
use kya_log::{
    FileLog, LeafHash, LogError, MemoryTree, NoteError, NoteVerifier, SignedCheckpoint, TreeSize,
    export, tile_path, verify_consistency, verify_export, verify_inclusion,
};

fn entry(i: u64) -> Vec<u8> {
    format!("receipt {i}").into_bytes()
}

fn filled(dir: &Path, n: u64) -> FileLog {
    let mut log = FileLog::create(dir).unwrap();
    for i in 0..n {
        assert_eq!(log.append(&entry(i)).unwrap(), i);
    }
    log
}

fn append_raw(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

fn record(data: &[u8]) -> Vec<u8> {
    let mut r = (data.len() as u32).to_le_bytes().to_vec();
    r.extend_from_slice(&LeafHash::of(data).0);
    r.extend_from_slice(data);
    r
}

#[test]
fn appends_survive_reopening_and_match_the_memory_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let mut mem = MemoryTree::new();
    {
        let mut log = filled(&path, 300);
        let batch: Vec<Vec<u8>> = (300..333).map(entry).collect();
        assert_eq!(log.append_batch(&batch).unwrap(), 300);
        log.append(b"").unwrap();
    }
    for i in 0..333 {
        mem.append(&entry(i));
    }
    mem.append(b"");
    let log = FileLog::open(&path).unwrap();
    assert_eq!(log.size(), TreeSize(334));
    assert_eq!(log.root(), mem.root());
    assert_eq!(log.verify_all().unwrap(), TreeSize(334));
    assert_eq!(log.entry(333).unwrap(), b"");
    assert_eq!(log.entry(17).unwrap(), entry(17));
    for (index, size) in [(0, 1), (17, 300), (299, 334), (333, 334)] {
        let proof = log.prove_inclusion(index, TreeSize(size)).unwrap();
        assert_eq!(proof, mem.prove_inclusion(index, TreeSize(size)).unwrap());
        let root = log.root_at(TreeSize(size)).unwrap();
        verify_inclusion(&log.leaf_hash(index).unwrap(), &proof, &root).unwrap();
    }
    let proof = log.prove_consistency(TreeSize(100), TreeSize(334)).unwrap();
    verify_consistency(&proof, &log.root_at(TreeSize(100)).unwrap(), &log.root()).unwrap();
    assert!(log.prove_inclusion(0, TreeSize(335)).is_err());
    assert!(log.entry(334).is_err());
}

#[test]
fn a_second_writer_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let log = filled(&path, 3);
    assert!(matches!(FileLog::open(&path), Err(LogError::Locked { .. })));
    drop(log);
    assert_eq!(FileLog::open(&path).unwrap().size(), TreeSize(3));
    assert!(matches!(
        FileLog::create(&path),
        Err(LogError::NotEmpty { .. })
    ));
    assert!(matches!(
        FileLog::open(dir.path()),
        Err(LogError::NotALog { .. })
    ));
}

#[test]
fn oversized_entries_and_empty_batches_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::create(dir.path().join("log")).unwrap();
    let big = vec![0u8; kya_log::MAX_ENTRY_BYTES + 1];
    assert!(matches!(
        log.append(&big),
        Err(LogError::EntryTooLarge { .. })
    ));
    let none: [&[u8]; 0] = [];
    assert!(matches!(
        log.append_batch(&none),
        Err(LogError::BatchSize { .. })
    ));
    assert_eq!(log.size(), TreeSize(0));
    log.append(&vec![1u8; kya_log::MAX_ENTRY_BYTES]).unwrap();
}

#[test]
fn a_torn_tail_is_truncated_and_the_log_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let root = filled(&path, 9).root();
    let entries = path.join("entries");
    let len = std::fs::metadata(&entries).unwrap().len();
    // A record cut short: header and half the data of an unacknowledged append.
    let torn = record(b"never acknowledged");
    append_raw(&entries, &torn[..torn.len() - 5]);
    // And a few bytes of a torn hash and offset write.
    append_raw(&path.join("hashes"), &[1, 2, 3]);
    append_raw(&path.join("offsets"), &[9]);
    let mut log = FileLog::open(&path).unwrap();
    assert_eq!(log.recovery().truncated_bytes, torn.len() as u64 - 5);
    assert_eq!(log.size(), TreeSize(9));
    assert_eq!(log.root(), root);
    assert_eq!(std::fs::metadata(&entries).unwrap().len(), len);
    assert_eq!(log.append(&entry(9)).unwrap(), 9);
    log.verify_all().unwrap();
    // A cut header alone is torn too.
    drop(log);
    append_raw(&entries, &[5, 0]);
    assert_eq!(FileLog::open(&path).unwrap().size(), TreeSize(10));
}

#[test]
fn a_durable_record_missing_its_hashes_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    drop(filled(&path, 5));
    // A crash after syncing `entries` and before the hashes and offsets.
    append_raw(&path.join("entries"), &record(&entry(5)));
    append_raw(&path.join("entries"), &record(&entry(6)));
    let log = FileLog::open(&path).unwrap();
    assert_eq!(log.recovery().adopted, 2);
    assert_eq!(log.size(), TreeSize(7));
    let mut mem = MemoryTree::new();
    (0..7).for_each(|i| {
        mem.append(&entry(i));
    });
    assert_eq!(log.root(), mem.root());
    log.verify_all().unwrap();
}

fn flip_byte(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_damaged_acknowledged_record_is_reported_never_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    drop(filled(&path, 6));
    let entries = path.join("entries");
    let len = std::fs::metadata(&entries).unwrap().len();
    // The last record's data: checked on open.
    flip_byte(&entries, len - 1);
    assert!(matches!(
        FileLog::open(&path),
        Err(LogError::Corrupt { .. })
    ));
    assert_eq!(std::fs::metadata(&entries).unwrap().len(), len);
    flip_byte(&entries, len - 1);
    // A record in the middle: found by reading it and by the full check.
    flip_byte(&entries, 36 + 3);
    let log = FileLog::open(&path).unwrap();
    assert!(matches!(log.entry(0), Err(LogError::Corrupt { .. })));
    assert!(matches!(log.verify_all(), Err(LogError::Corrupt { .. })));
    drop(log);
    flip_byte(&entries, 36 + 3);
    // A stored interior hash.
    flip_byte(&path.join("hashes"), 2 * 32 + 1);
    let log = FileLog::open(&path).unwrap();
    assert!(matches!(log.verify_all(), Err(LogError::Corrupt { .. })));
}

#[test]
fn a_huge_length_after_the_covered_records_is_corruption_not_an_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    drop(filled(&path, 2));
    let mut bogus = u32::MAX.to_le_bytes().to_vec();
    bogus.extend_from_slice(&[0u8; 40]);
    append_raw(&path.join("entries"), &bogus);
    assert!(matches!(
        FileLog::open(&path),
        Err(LogError::Corrupt { .. })
    ));
}

#[test]
fn a_bad_record_followed_by_good_ones_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    drop(filled(&path, 2));
    let mut bad = record(b"abc");
    bad[10] ^= 1;
    append_raw(&path.join("entries"), &bad);
    append_raw(&path.join("entries"), &record(b"def"));
    assert!(matches!(
        FileLog::open(&path),
        Err(LogError::Corrupt { .. })
    ));
}

fn key() -> SecretKey {
    SecretKey::from_seed(&[9; 32])
}

#[test]
fn checkpoints_sign_and_open_and_refuse_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let log = filled(&dir.path().join("log"), 4);
    let signed = log.checkpoint("example.com/kya/log").sign(&key()).unwrap();
    let verifier = NoteVerifier::new("example.com/kya/log", key().public_key()).unwrap();
    let opened = SignedCheckpoint::open(signed.as_note().as_bytes(), &verifier).unwrap();
    assert_eq!(opened.checkpoint().root, log.root());
    assert_eq!(opened.checkpoint().size, TreeSize(4));
    let again = NoteVerifier::parse(&verifier.to_string()).unwrap();
    assert_eq!(again, verifier);
    let other = NoteVerifier::new(
        "example.com/kya/log",
        SecretKey::from_seed(&[8; 32]).public_key(),
    )
    .unwrap();
    assert!(matches!(
        SignedCheckpoint::open(signed.as_note().as_bytes(), &other),
        Err(NoteError::NotSigned { .. })
    ));
    // A note signed by the right key for another origin.
    let foreign = log.checkpoint("example.com/other").sign(&key()).unwrap();
    let foreign_verifier = NoteVerifier::new("example.com/kya/log", key().public_key()).unwrap();
    assert!(SignedCheckpoint::open(foreign.as_note().as_bytes(), &foreign_verifier).is_err());
    // Origins that cannot be key names or lines are refused at signing.
    assert!(log.checkpoint("has space").sign(&key()).is_err());
    assert!(log.checkpoint("two\nlines").sign(&key()).is_err());
}

#[test]
fn tile_paths_follow_tlog_tiles() {
    assert_eq!(tile_path("0", 1_234_067, 256), "tile/0/x001/x234/067");
    assert_eq!(tile_path("1", 5, 17), "tile/1/005.p/17");
    assert_eq!(tile_path("entries", 1000, 256), "tile/entries/x001/000");
    assert_eq!(tile_path("2", 0, 1), "tile/2/000.p/1");
}

#[test]
fn an_export_verifies_and_any_tampering_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = filled(&dir.path().join("log"), 256 * 2 + 5);
    let out = dir.path().join("www");
    let verifier = NoteVerifier::new("example.com/kya/log", key().public_key()).unwrap();
    let first = log.checkpoint("example.com/kya/log").sign(&key()).unwrap();
    export(&log, &first, &out).unwrap();
    assert_eq!(verify_export(&out, &verifier).unwrap().size, TreeSize(517));
    for f in [
        "tile/0/000",
        "tile/0/001",
        "tile/0/002.p/5",
        "tile/1/000.p/2",
        "tile/entries/002.p/5",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // The log grows; a new export of a later checkpoint is still consistent.
    let batch: Vec<Vec<u8>> = (517..70_000u64).map(entry).collect();
    for chunk in batch.chunks(kya_log::MAX_BATCH) {
        log.append_batch(chunk).unwrap();
    }
    let second = log.checkpoint("example.com/kya/log").sign(&key()).unwrap();
    export(&log, &second, &out).unwrap();
    assert_eq!(
        verify_export(&out, &verifier).unwrap().size,
        TreeSize(70_000)
    );
    assert!(out.join("tile/1/001.p/17").is_file());
    assert!(out.join("tile/2/000.p/1").is_file());

    for (file, at) in [
        ("tile/0/273.p/112", 5),
        ("tile/entries/001", 7),
        ("tile/1/000", 40),
    ] {
        let path = out.join(file);
        flip_byte(&path, at);
        assert!(verify_export(&out, &verifier).is_err(), "{file}");
        flip_byte(&path, at);
    }
    verify_export(&out, &verifier).unwrap();
    flip_byte(&out.join("checkpoint"), 3);
    assert!(verify_export(&out, &verifier).is_err());
}

#[test]
fn exporting_a_checkpoint_of_another_tree_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = filled(&dir.path().join("a"), 3);
    let other = filled(&dir.path().join("b"), 3);
    drop(other);
    let mut cp = log.checkpoint("example.com/kya/log");
    cp.root = LeafHash::of(b"x").as_node().into();
    let signed = cp.sign(&key()).unwrap();
    assert!(export(&log, &signed, &dir.path().join("www")).is_err());
}
