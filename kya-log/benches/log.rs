//! Appends per second to the file store (every append synced), batched appends, and proof
//! generation, verification and sizes for a log of one million entries.
//!
//! `cargo bench -p kya-log --bench log`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kya_log::{FileLog, LeafHash, MemoryTree, TreeSize, verify_consistency, verify_inclusion};

/// One million entries when benchmarking; a small tree when `cargo test --all-targets` runs
/// the benchmarks once as a smoke test (criterion passes `--bench` only to real runs).
fn million() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        4_096
    }
}

/// A receipt-sized entry (about 600 bytes).
fn receipt(i: u64) -> Vec<u8> {
    let mut r = format!("{{\"receipt\":{i},\"decision\":\"allow\",\"pad\":\"").into_bytes();
    r.resize(600, b'x');
    r
}

fn appends(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::create(dir.path().join("log")).unwrap();
    let mut g = c.benchmark_group("append");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    g.bench_function("file_synced_single", |b| {
        b.iter(|| {
            i += 1;
            log.append(&receipt(i)).unwrap()
        });
    });
    for batch in [16u64, 256] {
        g.throughput(Throughput::Elements(batch));
        g.bench_function(format!("file_synced_batch_{batch}"), |b| {
            b.iter(|| {
                let entries: Vec<Vec<u8>> = (i..i + batch).map(receipt).collect();
                i += batch;
                log.append_batch(&entries).unwrap()
            });
        });
    }
    g.finish();
}

fn million_tree() -> MemoryTree {
    let n = million();
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append_leaf(&LeafHash::of(&i.to_le_bytes()));
    }
    t
}

fn proofs(c: &mut Criterion) {
    let n = million();
    let t = million_tree();
    let size = TreeSize(n);
    let root = t.root();
    let (index, old) = (n / 3 + 7, TreeSize(n / 2 + 13));
    let leaf = LeafHash::of(&index.to_le_bytes());
    let inclusion = t.prove_inclusion(index, size).unwrap();
    let consistency = t.prove_consistency(old, size).unwrap();
    let old_root = t.root_at(old).unwrap();
    println!(
        "PROOF_SIZE inclusion: {} hashes, {} bytes (index {index} of {n})",
        inclusion.path.len(),
        inclusion.path.len() * 32
    );
    println!(
        "PROOF_SIZE consistency: {} hashes, {} bytes ({} to {n})",
        consistency.path.len(),
        consistency.path.len() * 32,
        old.0
    );
    let mut g = c.benchmark_group("proof_1m");
    g.bench_function("prove_inclusion_memory", |b| {
        b.iter(|| t.prove_inclusion(black_box(index), size).unwrap());
    });
    g.bench_function("verify_inclusion", |b| {
        b.iter(|| verify_inclusion(black_box(&leaf), &inclusion, &root).unwrap());
    });
    g.bench_function("prove_consistency_memory", |b| {
        b.iter(|| t.prove_consistency(black_box(old), size).unwrap());
    });
    g.bench_function("verify_consistency", |b| {
        b.iter(|| verify_consistency(black_box(&consistency), &old_root, &root).unwrap());
    });
    g.finish();
}

fn file_proofs(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::create(dir.path().join("log")).unwrap();
    let n = million();
    let mut next = 0u64;
    while next < n {
        let end = (next + kya_log::MAX_BATCH as u64).min(n);
        let entries: Vec<[u8; 8]> = (next..end).map(u64::to_le_bytes).collect();
        log.append_batch(&entries).unwrap();
        next = end;
    }
    let size = log.size();
    let index = n / 3 + 7;
    let mut g = c.benchmark_group("proof_1m");
    g.bench_function("prove_inclusion_file", |b| {
        b.iter(|| log.prove_inclusion(black_box(index), size).unwrap());
    });
    g.bench_function("prove_consistency_file", |b| {
        b.iter(|| {
            log.prove_consistency(black_box(TreeSize(n / 2 + 13)), size)
                .unwrap()
        });
    });
    g.finish();
}

criterion_group!(benches, appends, proofs, file_proofs);
criterion_main!(benches);
