//! Kills a writer process with SIGKILL at random points, several times, and checks after
//! each kill that every acknowledged entry is present, the tree verifies, and proofs hold.
//!
//! The writer is this test binary itself, run in child mode (`crash_child`, ignored unless
//! asked for by name with `KYA_LOG_CRASH_DIR` set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kya_log::{FileLog, TreeSize, verify_consistency, verify_inclusion};

const DIR_VAR: &str = "KYA_LOG_CRASH_DIR";

fn entry(i: u64) -> Vec<u8> {
    // Sizes vary so that records straddle pages and writes can tear.
    let mut e = format!("entry {i} ").into_bytes();
    e.resize(e.len() + (i as usize * 37) % 3000, b'a' + (i % 26) as u8);
    e
}

/// The writer: appends forever (single entries and small batches), printing `ack <index>`
/// for each entry once its append returned.
#[test]
#[ignore = "child process of crash_recovery_keeps_every_acknowledged_entry"]
fn crash_child() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let dir = Path::new(&dir);
    let mut log = if dir.join("FORMAT").exists() {
        FileLog::open(dir).unwrap()
    } else {
        FileLog::create(dir).unwrap()
    };
    let mut out = std::io::stdout().lock();
    for round in 0u64.. {
        let first = log.size().0;
        let count = 1 + round % 4;
        let batch: Vec<Vec<u8>> = (first..first + count).map(entry).collect();
        let at = log.append_batch(&batch).unwrap();
        for i in at..at + count {
            writeln!(out, "ack {i}").unwrap();
        }
        out.flush().unwrap();
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// Runs the child until it has acknowledged `target` more entries (plus a random delay),
/// SIGKILLs it, and returns every index it acknowledged.
fn run_and_kill(dir: &Path, target: u64, delay_us: u64) -> Vec<u64> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_VAR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while (acked.len() as u64) < target {
        let Some(line) = lines.next() else { break };
        if let Some(i) = line.unwrap().strip_prefix("ack ") {
            acked.push(i.parse::<u64>().unwrap());
        }
    }
    std::thread::sleep(Duration::from_micros(delay_us));
    child.kill().unwrap(); // SIGKILL
    // Acknowledgements already written to the pipe count too.
    for line in lines {
        if let Some(i) = line.unwrap().strip_prefix("ack ") {
            acked.push(i.parse::<u64>().unwrap());
        }
    }
    child.wait().unwrap();
    acked
}

#[test]
fn crash_recovery_keeps_every_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let mut previous: Option<(TreeSize, kya_log::Root)> = None;
    let mut max_acked: Option<u64> = None;
    let (mut torn, mut adopted) = (0, 0);
    for round in 0..6 {
        let acked = run_and_kill(&log_dir, 5 + rng.next(150), rng.next(3000));
        assert!(
            !acked.is_empty(),
            "round {round}: the child acknowledged nothing"
        );
        max_acked = acked.iter().copied().max().max(max_acked);
        let log = FileLog::open(&log_dir).unwrap();
        let recovery = log.recovery();
        torn += u64::from(recovery.truncated_bytes > 0);
        adopted += recovery.adopted;
        let size = log.size();
        let max = max_acked.unwrap();
        assert!(
            size.0 > max,
            "round {round}: entry {max} acknowledged, log has {size}"
        );
        assert_eq!(log.verify_all().unwrap(), size);
        for i in 0..size.0 {
            assert_eq!(log.entry(i).unwrap(), entry(i), "entry {i}");
        }
        for _ in 0..20 {
            let index = rng.next(size.0);
            let proof = log.prove_inclusion(index, size).unwrap();
            verify_inclusion(&log.leaf_hash(index).unwrap(), &proof, &log.root()).unwrap();
        }
        if let Some((old_size, old_root)) = previous {
            let proof = log.prove_consistency(old_size, size).unwrap();
            verify_consistency(&proof, &old_root, &log.root()).unwrap();
        }
        previous = Some((size, log.root()));
        eprintln!(
            "round {round}: {} acknowledged, log size {size}, {recovery:?}",
            acked.len()
        );
    }
    eprintln!("torn tails truncated in {torn} of 6 rounds, {adopted} records adopted");
}
