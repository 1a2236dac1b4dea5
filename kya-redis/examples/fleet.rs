//! The fleet run (`cargo xtask fleet [--short]`): three merchant instances share one Redis;
//! a driver sends many signed requests concurrently across them — from several principals'
//! agents, the same request to every instance at once, many small charges against one
//! shared budget — stops and restarts Redis in the middle, then does the same against a
//! 3-master Redis Cluster (where the principals' keys spread over the masters: the run fails
//! if one master holds them all). It prints, from what it observed:
//!
//! ```text
//! FLEET requests <n>
//! FLEET admitted <n>
//! FLEET replays_admitted <n>
//! FLEET overspend <amount>
//! FLEET unavailable_during_outage <n>
//! FLEET lost_charges <n>
//! RATIO fleet_vs_memory_throughput <x>
//! TIME  redis_added_p99_us <µs>
//! ```
//!
//! ```text
//! cargo run --release -p kya-redis --example fleet -- [--short] [--appendfsync everysec]
//! ```
//!
//! The throughput ratio and the added latency compare the same load against three instances
//! with in-memory stores, in the same run (a benchmark, not a test); everything else must be
//! exactly what the guarantees say, or the run fails.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use kya_core::CredentialDigest;
use kya_core::grant::Amount;
use kya_redis::{RedisConfig, RedisLedger};
use kya_testkit::redis::{Fsync, RedisCluster, RedisServer};
use kya_verify::LedgerKey;
use kya_verify::http::HttpRequest;
use serde_json::Value;
use support::PRINCIPALS;

const INSTANCES: usize = 3;
const SUB_AGENTS: u8 = 8;
const CONCURRENCY: usize = 32;
/// Every charge of the shared-budget phase (USD).
const SMALL_CHARGE: &str = "0.01";

/// How big a run is.
#[derive(Clone, Copy)]
struct Size {
    load: usize,
    sequential: usize,
    replays: usize,
    budget_cents: usize,
    attempts: usize,
}

/// Merchant processes, killed on drop.
struct Fleet {
    children: Vec<Child>,
    addrs: Vec<String>,
}

impl Fleet {
    fn start(bin: &Path, policy: &Path, redis: Option<(&str, &str)>) -> Result<Self> {
        let mut fleet = Self {
            children: Vec::new(),
            addrs: Vec::new(),
        };
        for _ in 0..INSTANCES {
            let mut cmd = Command::new(bin);
            cmd.arg(policy).arg("127.0.0.1:0");
            if let Some((url, namespace)) = redis {
                cmd.args(["--redis", url, "--namespace", namespace]);
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            let stdout = child.stdout.take().context("merchant stdout")?;
            fleet.children.push(child);
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line)?;
            let addr = line
                .trim()
                .strip_prefix("merchant listening on http://")
                .with_context(|| format!("unexpected merchant output `{line}`"))?;
            fleet.addrs.push(addr.to_owned());
        }
        Ok(fleet)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One signed request, sent to `targets` instances (all at once when more than one).
struct Job {
    request: HttpRequest,
    nonce: String,
    /// The sub-agent that signed it (of principal 0 in the shared-budget phase).
    sub: u8,
    targets: Vec<usize>,
}

/// What the driver saw.
#[derive(Default)]
struct Seen {
    requests: usize,
    admitted: usize,
    unavailable_during_outage: usize,
    /// Admissions per nonce (a nonce admitted twice is an admitted replay).
    per_nonce: HashMap<String, usize>,
    /// Cents admitted per sub-agent in the shared-budget phase.
    cents_by_sub: HashMap<u8, usize>,
    latencies_us: Vec<u64>,
    other: HashMap<String, usize>,
}

struct Run {
    client: support::HttpClient,
    seen: Mutex<Seen>,
    outage: AtomicBool,
}

impl Run {
    fn record(&self, job: &Job, status: u16, body: &Value, took: Duration, budget_phase: bool) {
        let mut seen = match self.seen.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        seen.requests += 1;
        seen.latencies_us
            .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        match status {
            200 => {
                seen.admitted += 1;
                *seen.per_nonce.entry(job.nonce.clone()).or_default() += 1;
                if budget_phase {
                    *seen.cents_by_sub.entry(job.sub).or_default() += 1;
                }
            }
            503 if self.outage.load(Ordering::SeqCst) => seen.unavailable_during_outage += 1,
            _ => {
                let key = format!("{status} {}", support::code(body));
                *seen.other.entry(key).or_default() += 1;
            }
        }
    }
}

/// Sends every job with `concurrency` workers; a 503 is retried 50 ms later (the same
/// signed request: nothing was recorded, or its nonce was and the retry is refused).
async fn drive(
    run: &Arc<Run>,
    addrs: &[String],
    jobs: Vec<Job>,
    budget_phase: bool,
    concurrency: usize,
) -> Result<Duration> {
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let addrs = Arc::new(addrs.to_vec());
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (jobs, next, addrs, run) = (jobs.clone(), next.clone(), addrs.clone(), run.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                for attempt in 0..200 {
                    let sends = job.targets.iter().map(|&t| {
                        let (run, addr, jobs) = (run.clone(), addrs[t].clone(), jobs.clone());
                        async move {
                            let t0 = Instant::now();
                            let r = support::send(&run.client, &addr, &jobs[i].request).await;
                            (r, t0.elapsed())
                        }
                    });
                    let mut retry = false;
                    for (result, took) in join_all(sends).await {
                        let (status, _, body) = result.map_err(anyhow::Error::msg)?;
                        run.record(job, status, &body, took, budget_phase);
                        retry |= status == 503;
                    }
                    if !retry || attempt == 199 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            anyhow::Ok(())
        }));
    }
    for w in workers {
        w.await??;
    }
    Ok(started.elapsed())
}

/// Runs the futures concurrently on this task (no extra crate for `join_all`).
async fn join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

/// Each principal's chains (`chains[k][sub]`), and principal 0's root and leaf digests.
struct Chains {
    chains: Vec<Vec<Value>>,
    root: CredentialDigest,
    leaves: Vec<CredentialDigest>,
}

/// The chains of principals `0..principals`, each with `SUB_AGENTS` sub-agents.
fn chains(principals: u8, budget: &str) -> Result<Chains> {
    let mut all = Vec::new();
    let (mut root, mut leaves) = (None, Vec::new());
    for k in 0..principals {
        let (chains, r, l) = support::chains(k, SUB_AGENTS, budget).map_err(anyhow::Error::msg)?;
        all.push(chains);
        if k == 0 {
            (root, leaves) = (Some(r), l);
        }
    }
    Ok(Chains {
        chains: all,
        root: root.context("at least one principal")?,
        leaves,
    })
}

fn jobs(
    tag: &str,
    chains: &Chains,
    n: usize,
    amount: &str,
    targets: impl Fn(usize) -> Vec<usize>,
) -> Result<Vec<Job>> {
    let principals = chains.chains.len();
    (0..n)
        .map(|i| {
            // Sub-agent by sub-agent, principal by principal.
            let sub = u8::try_from(i % usize::from(SUB_AGENTS))?;
            let k = (i / usize::from(SUB_AGENTS)) % principals;
            let nonce = format!("{tag}-{i}");
            let chain = &chains.chains[k][usize::from(sub)];
            let request = support::signed_pay(u8::try_from(k)?, sub, chain, amount, &nonce)
                .map_err(anyhow::Error::msg)?;
            Ok(Job {
                request,
                nonce,
                sub,
                targets: targets(i),
            })
        })
        .collect()
}

fn poisoned<T>(_: T) -> anyhow::Error {
    anyhow::anyhow!("a lock was poisoned")
}

fn p99(latencies: &mut [u64]) -> u64 {
    latencies.sort_unstable();
    let i = (latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1));
    latencies.get(i).copied().unwrap_or(0)
}

/// The Redis under test: one node or a cluster, stopped and restarted on demand.
enum Redis {
    Node(RedisServer),
    Cluster(RedisCluster),
}

impl Redis {
    fn url(&self) -> String {
        match self {
            Self::Node(n) => n.url(),
            Self::Cluster(c) => c.url(),
        }
    }

    fn stop(&mut self) -> Result<()> {
        match self {
            Self::Node(n) => n.shutdown()?,
            Self::Cluster(c) => {
                for n in c.nodes_mut() {
                    n.shutdown()?;
                }
            }
        }
        Ok(())
    }

    /// The keys each master holds (one node: one figure).
    fn keys_per_master(&self) -> Vec<u64> {
        let dbsize = |n: &RedisServer| {
            n.query("DBSIZE")
                .and_then(|r| r.trim().trim_start_matches(':').parse().ok())
                .unwrap_or(0)
        };
        match self {
            Self::Node(n) => vec![dbsize(n)],
            Self::Cluster(c) => c.nodes().iter().map(dbsize).collect(),
        }
    }

    fn start(&mut self) -> Result<()> {
        match self {
            Self::Node(n) => n.start()?,
            Self::Cluster(c) => {
                for n in c.nodes_mut() {
                    n.start()?;
                }
                c.wait_ok()?;
            }
        }
        Ok(())
    }
}

/// Outcome of one backend's run.
struct Outcome {
    seen: Seen,
    overspend_cents: usize,
    lost_charges: usize,
    redis_rps: f64,
    memory_rps: f64,
    redis_p99: u64,
    memory_p99: u64,
    keys_per_master: Vec<u64>,
}

async fn run_backend(
    name: &str,
    mut redis: Redis,
    merchant: &Path,
    policy: &Path,
    size: Size,
) -> Result<Outcome> {
    let url = redis.url();
    let namespace = format!("fleet-{name}-{}", std::process::id());
    let run = Arc::new(Run {
        client: support::client(),
        seen: Mutex::new(Seen::default()),
        outage: AtomicBool::new(false),
    });
    let round_robin = |i: usize| vec![i % INSTANCES];

    // Throughput and latency: the same load against in-memory instances, then Redis ones,
    // from every principal's sub-agents (on a cluster, each principal's keys are one slot).
    let load_chains = chains(PRINCIPALS, "1000000")?;
    let memory_run = Arc::new(Run {
        client: support::client(),
        seen: Mutex::new(Seen::default()),
        outage: AtomicBool::new(false),
    });
    let one = |_| vec![0];
    let (memory_rps, memory_p99) = {
        let fleet = Fleet::start(merchant, policy, None)?;
        let load = jobs(
            &format!("{name}-mem"),
            &load_chains,
            size.load,
            "0.01",
            round_robin,
        )?;
        let took = drive(&memory_run, &fleet.addrs, load, false, CONCURRENCY).await?;
        let rps = memory_run.seen.lock().map_err(poisoned)?.requests as f64 / took.as_secs_f64();
        memory_run
            .seen
            .lock()
            .map_err(poisoned)?
            .latencies_us
            .clear();
        let sequential = jobs(
            &format!("{name}-mem-seq"),
            &load_chains,
            size.sequential,
            "0.01",
            one,
        )?;
        drive(&memory_run, &fleet.addrs, sequential, false, 1).await?;
        (
            rps,
            p99(&mut memory_run.seen.lock().map_err(poisoned)?.latencies_us),
        )
    };
    let fleet = Fleet::start(merchant, policy, Some((&url, &namespace)))?;
    let jobs_load = jobs(
        &format!("{name}-load"),
        &load_chains,
        size.load,
        "0.01",
        round_robin,
    )?;
    let took = drive(&run, &fleet.addrs, jobs_load, false, CONCURRENCY).await?;
    let redis_rps = run.seen.lock().map_err(poisoned)?.requests as f64 / took.as_secs_f64();
    let mark = run.seen.lock().map_err(poisoned)?.latencies_us.len();
    let jobs_seq = jobs(
        &format!("{name}-seq"),
        &load_chains,
        size.sequential,
        "0.01",
        one,
    )?;
    drive(&run, &fleet.addrs, jobs_seq, false, 1).await?;
    let redis_p99 = p99(&mut run.seen.lock().map_err(poisoned)?.latencies_us[mark..]);

    // The same request to every instance at once.
    let all = |_| (0..INSTANCES).collect();
    let replay_jobs = jobs(
        &format!("{name}-replay"),
        &load_chains,
        size.replays,
        "0.01",
        all,
    )?;
    drive(&run, &fleet.addrs, replay_jobs, false, CONCURRENCY).await?;

    // Many small charges against one shared budget (principal 0's agent's, shared by its
    // sub-agents), Redis stopped and restarted meanwhile.
    let budget = format!("{}.{:02}", size.budget_cents / 100, size.budget_cents % 100);
    let budget_chains = chains(1, &budget)?;
    let budget_jobs = jobs(
        &format!("{name}-budget"),
        &budget_chains,
        size.attempts,
        SMALL_CHARGE,
        round_robin,
    )?;
    let before = run.seen.lock().map_err(poisoned)?.requests;
    let outage = {
        let run = run.clone();
        let third = size.attempts / 3;
        tokio::task::spawn_blocking(move || -> Result<Redis> {
            while run.seen.lock().map(|s| s.requests).unwrap_or(0) < before + third {
                std::thread::sleep(Duration::from_millis(5));
            }
            run.outage.store(true, Ordering::SeqCst);
            redis.stop()?;
            std::thread::sleep(Duration::from_millis(500));
            redis.start()?;
            run.outage.store(false, Ordering::SeqCst);
            Ok(redis)
        })
    };
    drive(&run, &fleet.addrs, budget_jobs, true, CONCURRENCY).await?;
    let redis = outage.await??;
    drop(fleet);

    // What Redis recorded, against what the driver saw admitted.
    let config = RedisConfig::from_url(&url, &namespace)?;
    let ledger = RedisLedger::new(config, 1)?;
    let now = kya_core::Timestamp::now();
    let owner = support::principal_did(0);
    let cents = |key: LedgerKey| -> Result<usize> {
        let spent = ledger
            .spent(&owner, &key, 86_400, now)?
            .unwrap_or_else(Amount::zero);
        let cents = spent
            .to_string()
            .parse::<f64>()
            .map(|v| (v * 100.0).round())
            .unwrap_or(0.0);
        Ok(cents as usize)
    };
    let key = |credential| LedgerKey {
        credential,
        grant: 0,
        kind: "budget",
    };
    let mut seen = std::mem::take(&mut *run.seen.lock().map_err(poisoned)?);
    let admitted_cents: usize = seen.cents_by_sub.values().sum();
    let recorded_root = cents(key(budget_chains.root))?;
    let mut lost = admitted_cents.saturating_sub(recorded_root);
    for (i, leaf) in budget_chains.leaves.iter().enumerate() {
        let admitted = seen
            .cents_by_sub
            .get(&u8::try_from(i)?)
            .copied()
            .unwrap_or(0);
        lost += admitted.saturating_sub(cents(key(*leaf))?);
    }
    eprintln!(
        "fleet {name}: {} requests, {} admitted, budget {} USD: {} charges of {SMALL_CHARGE} admitted, {} recorded; {} answered 503 during the outage; other answers {:?}",
        seen.requests,
        seen.admitted,
        budget,
        admitted_cents,
        recorded_root,
        seen.unavailable_during_outage,
        seen.other
    );
    eprintln!(
        "fleet {name}: {redis_rps:.0} req/s on Redis, {memory_rps:.0} req/s in memory; p99 {} µs vs {} µs",
        redis_p99, memory_p99
    );
    let keys_per_master = redis.keys_per_master();
    eprintln!("fleet {name}: keys per master {keys_per_master:?}");
    drop(redis);
    seen.latencies_us.clear();
    Ok(Outcome {
        overspend_cents: admitted_cents.saturating_sub(size.budget_cents),
        lost_charges: lost,
        seen,
        redis_rps,
        memory_rps,
        redis_p99,
        memory_p99,
        keys_per_master,
    })
}

fn merchant_bin() -> Result<PathBuf> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--merchant" {
            return args
                .next()
                .map(PathBuf::from)
                .context("--merchant needs a path");
        }
    }
    let me = std::env::current_exe()?;
    Ok(me.with_file_name("fleet_merchant"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let short = std::env::args().any(|a| a == "--short");
    let size = if short {
        Size {
            load: 400,
            sequential: 60,
            replays: 40,
            budget_cents: 150,
            attempts: 300,
        }
    } else {
        Size {
            load: 8000,
            sequential: 1000,
            replays: 500,
            budget_cents: 1500,
            attempts: 3000,
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("fleet: a dev build: RATIO and TIME are not the release figures");
    }
    let merchant = merchant_bin()?;
    if !merchant.is_file() {
        bail!(
            "no fleet merchant at {} (cargo build -p kya-redis --examples)",
            merchant.display()
        );
    }
    let dir = tempfile_dir()?;
    let policy = dir.join("policy.json");
    std::fs::write(&policy, serde_json::to_vec(&support::policy())?)?;

    // `--appendfsync everysec`: what the weaker durability costs and saves (see README).
    let fsync = if std::env::args().any(|a| a == "everysec") {
        Fsync::EverySec
    } else {
        Fsync::Always
    };
    eprintln!("fleet: redis with appendonly yes, appendfsync {fsync:?}");
    let single = run_backend(
        "single",
        Redis::Node(RedisServer::spawn_with(fsync)?),
        &merchant,
        &policy,
        size,
    )
    .await?;
    let cluster = run_backend(
        "cluster",
        Redis::Cluster(RedisCluster::spawn_with(fsync)?),
        &merchant,
        &policy,
        size,
    )
    .await?;
    let _ = std::fs::remove_dir_all(&dir);

    let both = [&single, &cluster];
    let sum = |f: &dyn Fn(&Outcome) -> usize| both.iter().map(|o| f(o)).sum::<usize>();
    let replays: usize = sum(&|o| o.seen.per_nonce.values().map(|n| n.saturating_sub(1)).sum());
    let overspend = sum(&|o| o.overspend_cents);
    let lost = sum(&|o| o.lost_charges);
    let unavailable = sum(&|o| o.seen.unavailable_during_outage);
    let ratio = both
        .iter()
        .map(|o| o.redis_rps / o.memory_rps)
        .fold(f64::INFINITY, f64::min);
    let added = both
        .iter()
        .map(|o| o.redis_p99.saturating_sub(o.memory_p99))
        .max()
        .unwrap_or(0);
    println!("FLEET requests {}", sum(&|o| o.seen.requests));
    println!("FLEET admitted {}", sum(&|o| o.seen.admitted));
    println!("FLEET replays_admitted {replays}");
    println!("FLEET overspend {}.{:02}", overspend / 100, overspend % 100);
    println!("FLEET unavailable_during_outage {unavailable}");
    println!("FLEET lost_charges {lost}");
    println!("RATIO fleet_vs_memory_throughput {ratio:.2}");
    println!("TIME  redis_added_p99_us {added}");
    if replays > 0 || overspend > 0 || lost > 0 || unavailable == 0 {
        bail!("the fleet broke a guarantee (or never saw the outage)");
    }
    if cluster.keys_per_master.iter().filter(|&&n| n > 0).count() < 2 {
        bail!(
            "one master held every key of the merchant: {:?}",
            cluster.keys_per_master
        );
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("kya-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
