//! Crash safety of snapshot files: a writer killed (SIGKILL) in the middle of writing a
//! snapshot leaves the previous snapshot intact and loadable, and a torn (partly written)
//! snapshot is never accepted by `Snapshot::load`.
//!
//! The writer is this test binary itself, re-run as a child process that writes snapshots
//! in a loop through `write_atomic`, the function `sync_file` writes with; the parent kills
//! it at arbitrary moments. (Killing a real `sync_file` needs a chain to sync from; what it
//! does after syncing is exactly this `write_atomic` call.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kya_core::credential::AgentId;
use kya_registry::{Snapshot, write_atomic};

const CHILD_ENV: &str = "KYA_CRASH_SAFETY_WRITER";

/// A valid snapshot with `agents` registered agents (`tag` makes versions differ).
fn snapshot(agents: u64, tag: &str) -> Vec<u8> {
    let mut s = Snapshot::new(31337, [0x5f; 20], [0x6f; 20]);
    for i in 1..=agents {
        s.apply_agent_registered(
            AgentId::from(i),
            [7; 20],
            format!("https://agents.example/{tag}/{i}"),
        )
        .unwrap();
    }
    s.to_json_bytes()
}

fn versions() -> (Vec<u8>, Vec<u8>) {
    // ~1.5 MB and ~1 KB: writing the large one takes long enough to be killed in the middle.
    (snapshot(15_000, "new"), snapshot(3, "old"))
}

/// The child: when run with CHILD_ENV set, writes the two versions alternately forever.
#[test]
fn crash_safety_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (new, old) = versions();
    println!("ready");
    loop {
        write_atomic(Path::new(&path), &new).unwrap();
        write_atomic(Path::new(&path), &old).unwrap();
    }
}

#[test]
fn a_writer_killed_mid_write_leaves_the_previous_snapshot_intact() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("snapshot.json");
    let (new, old) = versions();
    write_atomic(&path, &old).unwrap();
    let rounds = 16;
    let mut killed_mid_write = 0;
    for round in 0..rounds {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_safety_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the child to start writing, then kill it at a varying moment.
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        for line in std::io::BufRead::lines(out) {
            if line.unwrap().contains("ready") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(3 + (round * 37 % 120) as u64));
        child.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs
        child.wait().unwrap();

        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() != "snapshot.json")
            .collect();
        if !leftovers.is_empty() {
            killed_mid_write += 1;
        }
        // The snapshot is one complete version, and it loads.
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes == new || bytes == old,
            "round {round}: a torn snapshot ({} bytes)",
            bytes.len()
        );
        let loaded = Snapshot::load(&bytes).unwrap();
        assert_eq!(loaded.to_json_bytes(), bytes);
        // A reader ignores the dead writer's temporary file; clear it for the next round.
        for e in leftovers {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    eprintln!("{killed_mid_write} of {rounds} kills landed mid-write");
    // The kills did land inside writes (a temporary file was left behind), not only between.
    assert!(
        killed_mid_write > 0,
        "no kill landed mid-write in {rounds} rounds"
    );
}

#[test]
fn a_torn_snapshot_is_refused_by_load() {
    let new = snapshot(200, "torn");
    assert!(Snapshot::load(&new).is_ok());
    // What a non-atomic writer would leave: every strict prefix (sampled) is refused.
    let step = (new.len() / 499).max(1);
    for cut in (0..new.len()).step_by(step).chain([new.len() - 1]) {
        assert!(
            Snapshot::load(&new[..cut]).is_err(),
            "a {cut}-byte prefix loaded"
        );
    }
    // And so are flipped bytes that keep the JSON well formed but break an invariant.
    let text = String::from_utf8(new).unwrap();
    let swapped = text.replacen("\"version\":4", "\"version\":5", 1);
    assert_ne!(swapped, text);
    assert!(Snapshot::load(swapped.as_bytes()).is_err());
}

/// Temporary files of killed writers are removed by the next write; a live writer's file,
/// and other files' temporaries, are left alone.
#[test]
fn the_next_write_removes_temp_files_of_dead_writers() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("snapshot.json");
    // A writer that died: a process that has exited (and was reaped).
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    // A writer still running.
    let mut live = Command::new("sleep").arg("30").spawn().unwrap();
    let live_pid = live.id();
    let stale = dir.path().join(format!(".snapshot.json.tmp-{dead_pid}"));
    let busy = dir.path().join(format!(".snapshot.json.tmp-{live_pid}"));
    let other = dir.path().join(format!(".other.json.tmp-{dead_pid}"));
    for f in [&stale, &busy, &other] {
        std::fs::write(f, b"half a snapshot").unwrap();
    }
    write_atomic(&path, &snapshot(1, "next")).unwrap();
    let left = (stale.exists(), busy.exists(), other.exists());
    live.kill().unwrap();
    live.wait().unwrap();
    assert_eq!(
        left,
        (false, true, true),
        "(dead writer's file removed, live writer's kept, another file's kept)"
    );
    assert_eq!(std::fs::read(&path).unwrap(), snapshot(1, "next"));
}
