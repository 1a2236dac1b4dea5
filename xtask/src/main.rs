//! `cargo xtask …`: the project's own commands.
//!
//! ```text
//! cargo xtask demo            the main job: the whole story end to end
//! cargo xtask test            every test (installs the pinned tools first)
//! cargo xtask ci              what CI runs (.ci/run): fmt, tests, clippy, demo, gas, cargo-deny, fuzz smoke
//! cargo xtask install         install the pinned tools into .tools/
//! cargo xtask vectors [--check]   regenerate kya's own test vectors (or check them)
//! cargo xtask gas             gas per registry operation
//! cargo xtask bench           benchmarks against peers, printing RATIO lines
//! cargo xtask fleet [--short] three merchant instances on one Redis (and on a cluster)
//! cargo xtask gateway-bench [--requests N]   the gateway's cost: through `kya serve` vs direct
//! cargo xtask fuzz [--minutes N | --smoke]
//! cargo xtask bench-python    the Python binding's overhead against native Rust (RATIO lines)
//! cargo xtask bench-js        WebAssembly (the npm package under Node) against native Rust (RATIO lines)
//! ```

#![forbid(unsafe_code)]

mod demo;
mod shop;
mod vectors;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root()?;
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("demo") => demo::run(&root),
        Some("test") => test(&root),
        Some("ci") => ci(&root),
        Some("install") => install(&root),
        Some("vectors") => vectors::run(&root, args.iter().any(|a| a == "--check")),
        Some("gas") => gas(&root),
        Some("bench") => bench(&root),
        Some("gateway-bench") => gateway_bench(&args[1..]),
        Some("fuzz") => fuzz(&root, &args[1..]),
        Some("fleet") => fleet(&root, args.iter().any(|a| a == "--short")),
        Some("bench-python") => bench_python(&root),
        Some("audit-bench") => audit_bench(&root),
        Some("bench-js") => bench_js(&root),
        _ => {
            eprintln!(
                "usage: cargo xtask <demo|test|ci|install|vectors [--check]|gas|bench|gateway-bench [--requests N]|fuzz [--minutes N|--smoke]|fleet [--short]|bench-python|bench-js|audit-bench>"
            );
            std::process::exit(2);
        }
    }
}

/// The workspace root (the parent of this crate's directory).
fn root() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}

/// Runs a command, echoing it, failing on a non-zero exit.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {}", shown(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", shown(cmd)))?;
    if !status.success() {
        bail!("{} failed ({status})", shown(cmd));
    }
    Ok(())
}

fn shown(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

/// Installs the pinned tools (forge, anvil, cast, solc, OpenZeppelin) into `.tools/`.
pub(crate) fn install(root: &Path) -> Result<()> {
    run(Command::new("bash").arg(root.join("scripts/install-tools.sh")))
}

/// Every test: the Rust workspace (unit, integration, doc tests; registry tests against a
/// real anvil), the Solidity tests, and the freshness of generated files.
fn test(root: &Path) -> Result<()> {
    install(root)?;
    let tools = root.join(".tools/bin");
    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(cargo()
        .args(["test", "--workspace", "--locked", "--all-targets"])
        .env("PATH", &path))?;
    run(cargo()
        .args(["test", "--workspace", "--locked", "--doc"])
        .env("PATH", &path))?;
    // Tests behind features no workspace member enables (the x402 tower middleware).
    run(cargo()
        .args([
            "test",
            "--locked",
            "-p",
            "kya-x402",
            "--all-features",
            "--test",
            "middleware",
        ])
        .env("PATH", &path))?;
    vectors::run(root, true)?;
    python_tests(root)?;
    js_tests(root)?;
    let solidity_tests = root.join("solidity/scripts/test.sh");
    if solidity_tests.exists() {
        run(Command::new("bash").arg(solidity_tests).env("PATH", &path))?;
    }
    eprintln!("xtask test: all passed");
    Ok(())
}

/// The Python package (bindings/python): builds the wheel, `pip install`s it into
/// `.tools/python`, and runs its pytest suite, which talks to the cargo-built `kya` binary
/// and example merchant over loopback.
fn python_tests(root: &Path) -> Result<()> {
    run(cargo().args([
        "build",
        "--locked",
        "-p",
        "kya-cli",
        "--bin",
        "kya",
        "-p",
        "kya-verify",
        "--features",
        "kya-verify/axum",
        "--example",
        "merchant",
    ]))?;
    run(Command::new("bash").arg(root.join("scripts/python-wheel.sh")))?;
    run(Command::new(root.join(".tools/python/bin/python"))
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "bindings/python/tests",
        ])
        .env("KYA_BIN_DIR", root.join("target/debug")))
}

/// The npm package (bindings/js): `scripts/js-test.sh` builds and packs it, `npm install`s
/// the tarball into a temporary project and runs its `node --test` suite there, which talks
/// to the cargo-built `kya` binary and example merchant over loopback (built by
/// `python_tests` just before). Skipped with a NOTICE without the wasm32 target.
fn js_tests(root: &Path) -> Result<()> {
    run(Command::new("bash")
        .arg(root.join("scripts/js-test.sh"))
        .env("KYA_BIN_DIR", root.join("target/debug")))
}

/// WebAssembly against native Rust, in one run: the native example (release) times the
/// verifications, then the release package under Node times the same work, then the native
/// example again; each ratio is the WebAssembly time over the mean of the two native runs.
fn bench_js(root: &Path) -> Result<()> {
    install(root)?;
    let native = || -> Result<std::collections::BTreeMap<String, f64>> {
        let out = cargo()
            .args([
                "run",
                "--release",
                "--locked",
                "-q",
                "-p",
                "kya-js",
                "--example",
                "bench_native",
            ])
            .output()
            .context("cannot run the native benchmark")?;
        if !out.status.success() {
            bail!(
                "the native benchmark failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        times(&String::from_utf8_lossy(&out.stdout), "_native_us")
    };
    run(Command::new("bash").arg(root.join("scripts/js-package.sh")))?;
    let before = native()?;
    let out = Command::new("node")
        .arg(root.join("bindings/js/bench/bench.mjs"))
        .arg(root.join("target/js-package/kya/node.js"))
        .output()
        .context("cannot run node")?;
    if !out.status.success() {
        bail!(
            "the wasm benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let wasm = times(&String::from_utf8_lossy(&out.stdout), "_wasm_us")?;
    let after = native()?;
    for (op, wasm_us) in &wasm {
        let (Some(b), Some(a)) = (before.get(op), after.get(op)) else {
            bail!("no native time for {op}");
        };
        let native_us = (a + b) / 2.0;
        println!("TIME {op}_wasm_us {wasm_us:.2}");
        println!("TIME {op}_native_us {native_us:.2} (before {b:.2}, after {a:.2})");
        println!("RATIO wasm_{op}_vs_native_{op} {:.3}", wasm_us / native_us);
    }
    Ok(())
}

/// `TIME <op><suffix> <µs>` lines, by op.
fn times(out: &str, suffix: &str) -> Result<std::collections::BTreeMap<String, f64>> {
    let mut found = std::collections::BTreeMap::new();
    for line in out.lines() {
        let mut parts = line.split_whitespace();
        if let (Some("TIME"), Some(name), Some(value)) = (parts.next(), parts.next(), parts.next())
            && let Some(op) = name.strip_suffix(suffix)
        {
            found.insert(op.to_owned(), value.parse::<f64>().context("a TIME value")?);
        }
    }
    if found.is_empty() {
        bail!("no TIME lines in: {out}");
    }
    Ok(found)
}

/// The Python binding's cost: the same verifications timed from Python and, in the same
/// process, by a Rust loop inside the extension (release builds of both).
fn bench_python(root: &Path) -> Result<()> {
    install(root)?;
    run(Command::new("bash")
        .arg(root.join("scripts/python-wheel.sh"))
        .arg("--release"))?;
    run(Command::new(root.join(".tools/python/bin/python"))
        .arg(root.join("bindings/python/bench.py")))
}

/// The receipts' figures: what a receipt adds to a decision (`RATIO
/// decide_with_receipt_vs_decide`, `RATIO receipt_added_vs_verify1`), a durable receipt's
/// latency, the log's appends per second and its proofs for a million receipts; then the gas
/// per anchored checkpoint (`GAS anchor_checkpoint_*`, from the gas run).
fn audit_bench(root: &Path) -> Result<()> {
    run(cargo().args([
        "bench",
        "--locked",
        "-p",
        "kya-audit",
        "--bench",
        "receipts",
    ]))?;
    run(cargo().args(["bench", "--locked", "-p", "kya-log", "--bench", "log"]))?;
    gas(root)
}

/// What CI runs on a fresh clone.
fn ci(root: &Path) -> Result<()> {
    run(Command::new("bash").arg(root.join(".ci/run")))
}

fn gas(root: &Path) -> Result<()> {
    install(root)?;
    run(Command::new("bash").arg(root.join("solidity/scripts/gas.sh")))
}

fn bench(root: &Path) -> Result<()> {
    // peers/ is its own workspace so that the peers' serde_json features never reach kya.
    let peers = root.join("peers/Cargo.toml");
    run(cargo().args([
        "bench",
        "--locked",
        "--manifest-path",
        &peers.to_string_lossy(),
    ]))
}

/// The fleet run (`kya-redis/examples/fleet.rs`): three merchant processes on one Redis,
/// then on a 3-master cluster, printing the FLEET, RATIO and TIME lines. `--short` is CI's
/// smaller run on the test build (the figures of a dev build are not the product's: run the
/// full one for them); the full run builds with `--release`.
fn fleet(root: &Path, short: bool) -> Result<()> {
    install(root)?;
    let profile: &[&str] = if short { &[] } else { &["--release"] };
    run(cargo()
        .args(["build", "--locked", "-p", "kya-redis", "--examples"])
        .args(profile))?;
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--locked",
        "-q",
        "-p",
        "kya-redis",
        "--example",
        "fleet",
    ])
    .args(profile)
    .arg("--");
    if short {
        cmd.arg("--short");
    }
    run(&mut cmd)
}

/// Requests per second and p99 through `kya serve` (proxy mode) against the same upstream
/// reached directly, in one run (release build).
fn gateway_bench(args: &[String]) -> Result<()> {
    run(cargo()
        .args([
            "run",
            "--release",
            "--locked",
            "-q",
            "-p",
            "kya-gateway",
            "--example",
            "gateway_bench",
            "--",
        ])
        .args(args))
}

fn fuzz(root: &Path, args: &[String]) -> Result<()> {
    run(Command::new("bash")
        .arg(root.join("fuzz/run.sh"))
        .args(args))
}
