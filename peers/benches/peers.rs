//! kya against its peers, every comparison measured in the same run.
//!
//! Each comparison is a criterion group with two functions, `kya` and the baseline; at the
//! end the median of each (criterion's `estimates.json`, `median.point_estimate`) gives
//!
//! ```text
//! TIME <name> <µs>            kya's time per operation (and `TIME raw_verify_strict <µs>`)
//! RATIO <name> <kya/baseline>  one line per comparison
//! MEMORY cached_chain_bytes <n>
//! ```
//!
//! on stdout. See peers/README.md.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{BatchSize, Criterion};
use kya_peers::*;
use kya_verify::http::ChainTransport;

/// (comparison, kya function, baseline function) — in print order.
const COMPARISONS: &[(&str, &str)] = &[
    ("fresh_chain3_vs_raw_verify4", "raw_verify4"),
    ("cached_chain3_vs_raw_verify1", "raw_verify1"),
    ("chain2_vs_biscuit2", "biscuit"),
    ("cred1_vs_affinidi", "affinidi"),
    ("chain1_vs_ssi", "ssi"),
];

/// Set in the child processes that only repeat the interleaved ratios (see
/// [`ratio_processes`]).
const RATIOS_ONLY: &str = "KYA_PEERS_RATIOS_ONLY";

fn main() {
    let started = std::time::SystemTime::now();
    // A child run: fixtures and interleaved ratios only, no criterion groups.
    let groups = std::env::var_os(RATIOS_ONLY).is_none();
    let target = target_dir();
    let dir = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("criterion"));
    let mut c = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .nresamples(20_000)
        .without_plots()
        .configure_from_args();

    // ---- raw Ed25519 floor ------------------------------------------------------------
    let chain3 = vector("kya/chains/valid-3.json");
    let sigs3 = chain_signatures(&chain3);
    if groups {
        c.benchmark_group("raw")
            .bench_function("verify_strict", |b| {
                b.iter(|| black_box(&sigs3[0]).verify())
            });
    }

    // ---- cred1_vs_affinidi -------------------------------------------------------------
    let cred = vector("kya/credentials/authorization.json");
    assert!(kya_cred1(&cred), "kya verifies the credential");
    assert!(affinidi_cred1(&cred), "affinidi verifies the same bytes");
    if groups {
        let mut g = c.benchmark_group("cred1_vs_affinidi");
        g.bench_function("kya", |b| b.iter(|| assert!(kya_cred1(black_box(&cred)))));
        g.bench_function("affinidi", |b| {
            b.iter(|| assert!(affinidi_cred1(black_box(&cred))))
        });
        g.finish();
    }

    // ---- fresh_chain3_vs_raw_verify4 ---------------------------------------------------
    // A new nonce per request (signed in criterion's untimed setup); a gate without a cache
    // verifies the chain (sent inline, as a default signer does for a chain this size) from
    // scratch each time, with the request signature in the same batch.
    let fresh = HttpFixture::new(&chain3, ChainTransport::Auto, 0);
    let probe = fresh.signed_request();
    assert!(
        kya_admit(&fresh.gate, &probe),
        "kya admits the signed request"
    );
    let mut raw4 = sigs3.clone();
    raw4.push(fresh.request_signature(&probe));
    if groups {
        let mut g = c.benchmark_group("fresh_chain3_vs_raw_verify4");
        g.bench_function("kya", |b| {
            b.iter_batched_ref(
                || fresh.signed_request(),
                |r| assert!(kya_admit(&fresh.gate, r)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("raw_verify4", |b| {
            b.iter(|| {
                for s in black_box(&raw4) {
                    s.verify();
                }
            })
        });
        g.finish();
    }

    // ---- cached_chain3_vs_raw_verify1 --------------------------------------------------
    // The same requests to a gate with its default cache, warmed by one request: a repeat
    // visitor costs the request signature, the nonce and the decision.
    let cached = HttpFixture::new(
        &chain3,
        ChainTransport::Auto,
        merchant_policy().cache_capacity(),
    );
    assert!(
        kya_admit(&cached.gate, &cached.signed_request()),
        "kya admits (and caches)"
    );
    let raw1 = fresh.request_signature(&probe);
    if groups {
        let mut g = c.benchmark_group("cached_chain3_vs_raw_verify1");
        g.bench_function("kya", |b| {
            b.iter_batched_ref(
                || cached.signed_request(),
                |r| assert!(kya_admit(&cached.gate, r)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("raw_verify1", |b| b.iter(|| black_box(&raw1).verify()));
        g.finish();
    }

    // ---- chain2_vs_biscuit2 ------------------------------------------------------------
    let verifier = merchant_verifier();
    let chain2 = chain2_bytes();
    let request2 = payment_request("9.99");
    assert!(
        kya_chain_decide(&chain2, &verifier, &request2),
        "kya allows"
    );
    assert!(
        !kya_chain_decide(&chain2, &verifier, &payment_request("25.01")),
        "kya denies over the ceiling"
    );
    let biscuit = BiscuitFixture::new();
    let facts = biscuit_request_facts("payments/send", 999, "USD", "did:web:shop.example");
    assert!(
        biscuit_authorize(&biscuit.token, &biscuit.root, &facts),
        "biscuit allows"
    );
    let over = biscuit_request_facts("payments/send", 2501, "USD", "did:web:shop.example");
    assert!(
        !biscuit_authorize(&biscuit.token, &biscuit.root, &over),
        "biscuit denies over the ceiling"
    );
    if groups {
        let mut g = c.benchmark_group("chain2_vs_biscuit2");
        g.bench_function("kya", |b| {
            b.iter(|| assert!(kya_chain_decide(black_box(&chain2), &verifier, &request2)))
        });
        g.bench_function("biscuit", |b| {
            b.iter(|| {
                assert!(biscuit_authorize(
                    black_box(&biscuit.token),
                    &biscuit.root,
                    &facts
                ))
            })
        });
        g.finish();
    }

    // ---- chain1_vs_ssi: the ssi side runs in its own build (see ssi/Cargo.toml) ---------
    let chain1 = vector("kya/chains/valid-1.json");
    assert!(kya_chain_verify(&chain1, &verifier), "kya verifies valid-1");
    if groups {
        c.benchmark_group("chain1_vs_ssi")
            .bench_function("kya", |b| {
                b.iter(|| assert!(kya_chain_verify(black_box(&chain1), &verifier)))
            });
    }
    // (Skipped when a filter given to `cargo bench -- <filter>` excludes it.)
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let ssi = match &filter {
        _ if !groups => Err("not run in a ratios-only process".to_owned()),
        Some(f) if !"chain1_vs_ssi/ssi".contains(f.as_str()) => Err("filtered out".to_owned()),
        _ => run_ssi_side(&target, &dir),
    };

    if groups {
        c.final_summary();
    }

    // ---- interleaved ratios ------------------------------------------------------------
    // Each comparison again, kya and its baseline alternating in short rounds (see
    // `interleaved`): the RATIO lines. Criterion's medians above give the TIME lines.
    // (criterion's filter is a regex; its alternatives are enough here.)
    let wanted = |name: &str| {
        filter
            .as_deref()
            .is_none_or(|f| f.split('|').any(|part| name.contains(part)))
    };
    let mut interleaved_ratios: Vec<(&str, f64)> = Vec::new();
    if wanted("fresh_chain3_vs_raw_verify4") {
        let ratio = interleaved(
            |n| admits(&fresh, n),
            |n| {
                timed(n, || {
                    for s in black_box(&raw4) {
                        s.verify();
                    }
                })
            },
            10,
        );
        interleaved_ratios.push(("fresh_chain3_vs_raw_verify4", ratio));
    }
    if wanted("cached_chain3_vs_raw_verify1") {
        let ratio = interleaved(
            |n| admits(&cached, n),
            |n| timed(n, || black_box(&raw1).verify()),
            40,
        );
        interleaved_ratios.push(("cached_chain3_vs_raw_verify1", ratio));
    }
    if wanted("chain2_vs_biscuit2") {
        let ratio = interleaved(
            |n| {
                timed(n, || {
                    assert!(kya_chain_decide(black_box(&chain2), &verifier, &request2))
                })
            },
            |n| {
                timed(n, || {
                    assert!(biscuit_authorize(
                        black_box(&biscuit.token),
                        &biscuit.root,
                        &facts
                    ))
                })
            },
            20,
        );
        interleaved_ratios.push(("chain2_vs_biscuit2", ratio));
    }
    if wanted("cred1_vs_affinidi") {
        let ratio = interleaved(
            |n| timed(n, || assert!(kya_cred1(black_box(&cred)))),
            |n| timed(n, || assert!(affinidi_cred1(black_box(&cred)))),
            30,
        );
        interleaved_ratios.push(("cred1_vs_affinidi", ratio));
    }

    if !groups {
        for (name, ratio) in &interleaved_ratios {
            println!("RATIO {name} {ratio:.3}");
        }
        return;
    }
    let interleaved_ratios = ratio_processes(interleaved_ratios, filter.as_deref());

    // ---- memory per cached chain (its own process: a counting allocator) ----------------
    let memory = Command::new(env!("CARGO_BIN_EXE_cache-memory"))
        .output()
        .map_err(|e| e.to_string())
        .and_then(|o| {
            eprint!("{}", String::from_utf8_lossy(&o.stderr));
            if o.status.success() {
                Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned())
            } else {
                Err(format!("cache-memory failed ({})", o.status))
            }
        });

    // ---- report ------------------------------------------------------------------------
    let median = |group: &str, function: &str| read_median_ns(&dir, group, function, started);
    let raw = median("raw", "verify_strict");
    let mut out = String::new();
    if let Some(raw) = raw {
        out += &format!("TIME raw_verify_strict {:.3}\n", raw / 1e3);
    }
    let mut ratios = String::new();
    for (name, baseline) in COMPARISONS {
        let kya = median(name, "kya");
        if let Some(kya) = kya {
            out += &format!("TIME {name} {:.3}\n", kya / 1e3);
        }
        let interleaved = interleaved_ratios.iter().find(|(n, _)| n == name);
        match (interleaved, kya, median(name, baseline)) {
            (Some((_, r)), _, _) => ratios += &format!("RATIO {name} {r:.3}\n"),
            (None, Some(k), Some(b)) => ratios += &format!("RATIO {name} {:.3}\n", k / b),
            _ => eprintln!("# {name}: not measured in this run"),
        }
    }
    if let Err(e) = &ssi {
        eprintln!("# chain1_vs_ssi: the ssi side did not run: {e}");
    }
    match memory {
        Ok(line) => ratios += &format!("{line}\n"),
        Err(e) => eprintln!("# memory: {e}"),
    }
    print!("{out}{ratios}");
}

/// How many processes' interleaved ratios a `RATIO` line is the median of (this one
/// included): `KYA_PEERS_RATIO_PROCESSES`, 5 unless set.
fn ratio_process_count() -> usize {
    std::env::var("KYA_PEERS_RATIO_PROCESSES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5)
        .max(1)
}

/// Each comparison's ratio as the median over processes: this run's `ours`, and as many
/// again as [`ratio_process_count`] asks from children of this executable that only repeat
/// the interleaved pass. Within a process, interleaving cancels the host's drift; between
/// processes the ratio still moved by ±10 % here (address layout: where the heap, the
/// stack and the tables land differs per process), which no number of rounds in one
/// process averages out. Every process's ratios go to stderr.
fn ratio_processes(
    ours: Vec<(&'static str, f64)>,
    filter: Option<&str>,
) -> Vec<(&'static str, f64)> {
    let mut runs: Vec<(&'static str, Vec<f64>)> =
        ours.iter().map(|(name, r)| (*name, vec![*r])).collect();
    for child in 1..ratio_process_count() {
        let mut command = Command::new(std::env::current_exe().expect("current exe"));
        command.arg("--bench").env(RATIOS_ONLY, "1");
        if let Some(filter) = filter {
            command.arg(filter);
        }
        let output = match command.output() {
            Ok(o) if o.status.success() => o,
            Ok(o) => {
                eprintln!(
                    "# ratio process {child} failed ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                );
                continue;
            }
            Err(e) => {
                eprintln!("# ratio process {child} did not start: {e}");
                continue;
            }
        };
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let mut words = line.split_whitespace();
            if let (Some("RATIO"), Some(name), Some(value)) =
                (words.next(), words.next(), words.next())
            {
                let run = runs.iter_mut().find(|(n, _)| *n == name);
                if let (Some((_, values)), Ok(value)) = (run, value.parse()) {
                    values.push(value);
                }
            }
        }
    }
    runs.into_iter()
        .map(|(name, mut values)| {
            // In process order: this one (after the criterion groups) first.
            let shown: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
            eprintln!("# RATIO {name} per process: {}", shown.join(" "));
            values.sort_by(f64::total_cmp);
            (name, values[values.len() / 2])
        })
        .collect()
}

/// The cargo target directory this bench was built in (`<target>/release/deps/peers-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// Builds (if needed) and runs the `kya-peers-ssi` binary, which writes its criterion
/// results under `dir/chain1_vs_ssi/ssi`.
fn run_ssi_side(target: &Path, dir: &Path) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let status = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "--profile",
            "bench",
            "-p",
            "kya-peers-ssi",
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target)
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building kya-peers-ssi failed ({status})"));
    }
    let exe = target
        .join("release")
        .join(format!("kya-peers-ssi{}", std::env::consts::EXE_SUFFIX));
    let status = Command::new(&exe)
        .arg(dir)
        .status()
        .map_err(|e| format!("running {}: {e}", exe.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", exe.display()))
    }
}

/// `median.point_estimate` (ns) of one benchmark from criterion's `estimates.json`, if it
/// was measured in this run (written after `since`).
fn read_median_ns(
    dir: &Path,
    group: &str,
    function: &str,
    since: std::time::SystemTime,
) -> Option<f64> {
    let path = dir
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    if std::fs::metadata(&path).and_then(|m| m.modified()).ok()? < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.pointer("/median/point_estimate")?.as_f64()
}

/// How many rounds [`interleaved`] runs.
const ROUNDS: usize = 201;

/// The median over [`ROUNDS`] rounds of (time of `n` runs of `kya`) / (time of `n` runs of
/// `baseline`), the two measured back to back in each round, in alternating order. Each
/// closure runs its `n` iterations (with any untimed setup of its own) and returns the time
/// they took. A shared machine's speed drifts by tens of percent over the seconds a criterion
/// group lasts; within one round both sides see the same speed, so the ratio holds still.
fn interleaved(
    mut kya: impl FnMut(usize) -> Duration,
    mut baseline: impl FnMut(usize) -> Duration,
    n: usize,
) -> f64 {
    // Warm both sides (caches, the cached gate's entry, allocator).
    kya(n);
    baseline(n);
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            let (k, b) = if round % 2 == 0 {
                let k = kya(n);
                (k, baseline(n))
            } else {
                let b = baseline(n);
                (kya(n), b)
            };
            k.as_secs_f64() / b.as_secs_f64().max(f64::MIN_POSITIVE)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ROUNDS / 2]
}

/// The time `fixture`'s gate takes to admit `n` requests, each signed with a new nonce
/// beforehand (untimed).
fn admits(fixture: &HttpFixture, n: usize) -> Duration {
    let requests: Vec<_> = (0..n).map(|_| fixture.signed_request()).collect();
    let t = std::time::Instant::now();
    for r in &requests {
        assert!(kya_admit(&fixture.gate, black_box(r)));
    }
    t.elapsed()
}

/// The time of `n` runs of `f`.
fn timed(n: usize, mut f: impl FnMut()) -> Duration {
    let t = std::time::Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed()
}
