//! The main job: the whole kya story, told through the `kya` command line on a local anvil.
//!
//! A company (a wallet principal) registers its shopping agent on-chain and binds its keys;
//! it authorises the agent, which delegates a narrower share to a sub-agent; a snapshot of the
//! registry is synced; then, offline, a merchant verifies a signed request from the sub-agent
//! and decides. The company revokes the delegation on-chain, the snapshot is resynced, and the
//! same request is denied with the reason.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cargo;

/// Anvil's first two well-known development accounts (public test keys, never real funds).
const DEPLOYER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const COMPANY_WALLET_KEY: &str =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const COMPANY_WALLET: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// The merchant anchors its receipt log from anvil's first account (the deployer's).
const MERCHANT_WALLET: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// The merchant's receipt log.
const RECEIPT_LOG: &str = "shop.example/kya/receipts";

/// A local anvil with its own home (anvil keeps its state under `$HOME/.foundry` and never
/// deletes it), stopped and its home removed when dropped.
struct Anvil {
    child: Child,
    url: String,
    home: PathBuf,
}

impl Anvil {
    fn start(root: &Path) -> Result<Self> {
        let anvil = root.join(".tools/bin/anvil");
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let home =
            std::env::temp_dir().join(format!("kya-demo-anvil-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&home)?;
        let mut child = Command::new(&anvil)
            .env("HOME", &home)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} (run `cargo xtask install`)",
                    anvil.display()
                )
            })?;
        // Drain anvil's output so it never blocks on a full pipe.
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("anvil did not start listening on port {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            home,
        })
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// The story's shell: runs `kya` in the demo directory with a given RPC URL and wallet key.
struct Story {
    kya: PathBuf,
    dir: PathBuf,
    rpc_url: String,
}

impl Story {
    fn say(&self, text: &str) {
        println!("\n== {text}");
    }

    fn command(&self, args: &[&str], eth_key: Option<&str>) -> Command {
        let mut cmd = Command::new(&self.kya);
        cmd.args(args)
            .current_dir(&self.dir)
            .env("KYA_RPC_URL", &self.rpc_url)
            .env_remove("KYA_ETH_KEY");
        if let Some(key) = eth_key {
            cmd.env("KYA_ETH_KEY", key);
        }
        cmd
    }

    /// Runs `kya ARGS`, shows the command and what it printed.
    fn show(&self, args: &[&str], eth_key: Option<&str>) -> Result<Output> {
        println!("$ kya {}", shell(args));
        let out = self
            .command(args, eth_key)
            .output()
            .context("cannot run kya")?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        Ok(out)
    }

    /// Runs `kya ARGS`, which must succeed; returns its standard output.
    fn kya(&self, args: &[&str], eth_key: Option<&str>) -> Result<String> {
        let out = self.show(args, eth_key)?;
        if !out.status.success() {
            bail!("kya {} failed", args.join(" "));
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Runs `kya ARGS`, which must succeed, showing only its standard error; returns its
    /// standard output.
    fn quiet(&self, args: &[&str], eth_key: Option<&str>) -> Result<Vec<u8>> {
        let out = self
            .command(args, eth_key)
            .output()
            .context("cannot run kya")?;
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            bail!("kya {} failed", shell(args));
        }
        Ok(out.stdout)
    }

    /// Runs `kya ARGS`, which must succeed, saving its standard output to FILE.
    fn kya_to(&self, file: &str, args: &[&str]) -> Result<()> {
        println!("$ kya {} > {file}", shell(args));
        std::fs::write(self.dir.join(file), self.quiet(args, None)?)?;
        Ok(())
    }

    /// Runs `kya ARGS --json` and parses what it prints.
    fn json(&self, args: &[&str], eth_key: Option<&str>) -> Result<Value> {
        println!("$ kya {}", shell(args));
        let value: Value = serde_json::from_slice(&self.quiet(args, eth_key)?)?;
        println!("{}", serde_json::to_string(&value)?);
        Ok(value)
    }

    fn read_json(&self, file: &str) -> Result<Value> {
        Ok(serde_json::from_slice(&std::fs::read(
            self.dir.join(file),
        )?)?)
    }

    fn write_json(&self, file: &str, value: &Value) -> Result<()> {
        std::fs::write(self.dir.join(file), serde_json::to_vec_pretty(value)?)?;
        Ok(())
    }
}

/// The arguments as a shell would need them typed.
fn shell(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                (*a).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `eip155:<chain>:<registry>#<agent id>` from `kya registry register --json`.
fn registration_of(registered: &Value) -> Result<String> {
    let r = &registered["registration"];
    match (r["agentRegistry"].as_str(), r["agentId"].as_str()) {
        (Some(registry), Some(id)) => Ok(format!("{registry}#{id}")),
        _ => bail!("unexpected output of kya registry register: {registered}"),
    }
}

pub(crate) fn run(root: &Path) -> Result<()> {
    crate::install(root)?;
    crate::run(cargo().args(["build", "--locked", "--quiet", "-p", "kya-cli"]))?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let dir = root.join("target/demo");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;

    println!("== 0. a local chain: anvil");
    let anvil = Anvil::start(root)?;
    println!("anvil listening at {}", anvil.url);
    let story = Story {
        kya: target.join("debug/kya"),
        dir,
        rpc_url: anvil.url.clone(),
    };
    let wallet = Some(COMPANY_WALLET_KEY);
    let company = format!("did:pkh:eip155:31337:{COMPANY_WALLET}");

    story.say("1. deploy the registries (ERC-8004 identity + reputation, with KYA bindings)");
    story.kya(
        &["registry", "deploy", "--out", "registry.json"],
        Some(DEPLOYER_KEY),
    )?;

    story.say("2. keys: the company's Ed25519 issuing key, its shopping agent, a sub-agent");
    for who in ["company-issuing", "agent", "subagent"] {
        story.kya(&["key", "generate", "--out", &format!("{who}.key")], None)?;
    }
    let agent_did = story
        .kya(&["key", "did", "agent.key"], None)?
        .trim()
        .to_owned();
    let subagent_did = story
        .kya(&["key", "did", "subagent.key"], None)?
        .trim()
        .to_owned();

    story.say("3. on-chain, the company's wallet binds its issuing key and registers both agents with their keys");
    story.kya(
        &[
            "registry",
            "bind-principal-key",
            "--issuing-key",
            "company-issuing.key",
        ],
        wallet,
    )?;
    let agent_reg = registration_of(&story.json(
        &[
            "registry",
            "register",
            "--uri",
            "ipfs://bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy",
            "--agent-key",
            "agent.key",
            "--json",
        ],
        wallet,
    )?)?;
    let subagent_reg = registration_of(&story.json(
        &[
            "registry",
            "register",
            "--uri",
            "ipfs://bafkreif6aj4gdhgs5qcxonyeqhvqs3u7iv4mxtkpmy5lwkvq6yaskqahcm",
            "--agent-key",
            "subagent.key",
            "--json",
        ],
        wallet,
    )?)?;
    let agent_id = agent_reg
        .rsplit_once('#')
        .map(|(_, id)| id.to_owned())
        .context("agent id")?;

    story.say(
        "4. the company authorises its agent: payments up to 100.00 USD at two shops, 30 days",
    );
    story.kya_to(
        "authorization.json",
        &[
            "issue",
            "--key",
            "company-issuing.key",
            "--issuer",
            &company,
            "--agent",
            &agent_did,
            "--registration",
            &agent_reg,
            "--valid-for",
            "30d",
            "--action",
            "payments",
            "--max-amount",
            "100.00",
            "--asset",
            "USD",
            "--audience",
            "did:web:shop.example",
            "--audience",
            "did:web:books.example",
        ],
    )?;

    story.say(
        "5. the agent delegates a narrower share to its sub-agent: 25.00 USD, one shop, 7 days",
    );
    story.kya_to(
        "delegation.json",
        &[
            "delegate",
            "--key",
            "agent.key",
            "--parent",
            "authorization.json",
            "--agent",
            &subagent_did,
            "--registration",
            &subagent_reg,
            "--valid-for",
            "7d",
            "--action",
            "payments/send",
            "--max-amount",
            "25.00",
            "--asset",
            "USD",
            "--audience",
            "did:web:shop.example",
        ],
    )?;
    let chain = Value::Array(vec![
        story.read_json("authorization.json")?,
        story.read_json("delegation.json")?,
    ]);
    story.write_json("chain.json", &chain)?;

    story.say("   a wider delegation is refused before anything is signed");
    let widened = story.show(
        &[
            "delegate",
            "--key",
            "agent.key",
            "--parent",
            "authorization.json",
            "--agent",
            &subagent_did,
            "--action",
            "payments/send",
            "--max-amount",
            "500.00",
            "--asset",
            "USD",
            "--audience",
            "did:web:shop.example",
        ],
        None,
    )?;
    if widened.status.success() {
        bail!("a widening delegation was accepted");
    }
    story.kya(&["inspect", "chain.json"], None)?;

    story.say("6. sync an offline snapshot of the registry from its events");
    // A local anvil finalizes 64 blocks behind its head: the demo follows the head instead
    // (on a real chain, leave the default: finalized blocks only).
    let sync = [
        "registry",
        "sync",
        "--out",
        "snapshot.json",
        "--follow",
        "latest",
    ];
    story.kya(&sync, None)?;

    story.say("7. offline, the merchant (did:web:shop.example) checks a signed request from the sub-agent, and keeps a signed receipt of its decision");
    story.kya(&["key", "generate", "--out", "merchant-receipts.key"], None)?;
    story.write_json(
        "policy.json",
        &serde_json::json!({
            "trustedRoots": [company],
            "audience": "did:web:shop.example"
        }),
    )?;
    let sign_request = [
        "sign-request",
        "--key",
        "subagent.key",
        "--chain",
        "chain.json",
        "--method",
        "POST",
        "--url",
        "https://shop.example/api/checkout",
        "--action",
        "payments/send",
        "--amount",
        "12.50 USD",
        "--json",
    ];
    story.kya_to("request.json", &sign_request)?;
    let verify = [
        "verify",
        "request.json",
        "--policy",
        "policy.json",
        "--snapshot",
        "snapshot.json",
        "--route",
        "POST /api/checkout=payments/send",
        "--receipts",
        "receipts",
        "--receipt-key",
        "merchant-receipts.key",
    ];
    let allowed = story.show(&verify, None)?;
    if !allowed.status.success() {
        bail!("the request should have been allowed");
    }
    // The merchant anchors its receipt log on chain (one cheap transaction per checkpoint).
    let anchor = [
        "audit",
        "anchor",
        "--log",
        "receipts",
        "--origin",
        RECEIPT_LOG,
    ];
    story.kya(&anchor, Some(DEPLOYER_KEY))?;

    // Block times have one-second resolution, and an auditor counts a revocation mined in
    // the same second as a decision against it: let the revocation come a second later.
    std::thread::sleep(Duration::from_millis(1100));
    story.say("8. the company revokes the delegation on-chain, and the snapshot is resynced");
    story.kya(
        &[
            "registry",
            "revoke",
            "--agent-id",
            &agent_id,
            "--credential",
            "delegation.json",
        ],
        wallet,
    )?;
    story.kya(&sync, None)?;

    story.say("9. the same request, freshly signed, is now denied offline, with the reason");
    story.kya_to("request.json", &sign_request)?;
    let denied = story.show(&verify, None)?;
    if denied.status.success() {
        bail!("a request through a revoked delegation was allowed");
    }
    let out = String::from_utf8_lossy(&denied.stdout).into_owned()
        + &String::from_utf8_lossy(&denied.stderr);
    if !out.contains("revoked") {
        bail!("the denial does not name the revocation");
    }

    story.say(
        "10. re-serialised with one more @context entry, the revoked delegation is still refused",
    );
    let mut chain: serde_json::Value =
        serde_json::from_slice(&std::fs::read(story.dir.join("chain.json"))?)?;
    if let Some(context) = chain[1]["@context"].as_array_mut() {
        context.push(serde_json::json!("https://example.com/another-name"));
    }
    story.write_json("chain-renamed.json", &chain)?;
    let mut renamed_request = sign_request;
    renamed_request[4] = "chain-renamed.json";
    story.kya_to("request-renamed.json", &renamed_request)?;
    let mut verify_renamed = verify;
    verify_renamed[1] = "request-renamed.json";
    let refused = story.show(&verify_renamed, None)?;
    if refused.status.success() {
        bail!("a re-serialised revoked delegation was allowed");
    }

    story.say(
        "11. the auditor's view: every decision left a signed receipt in the merchant's log; the log is anchored on chain; an auditor checks the allowed and the refused request offline",
    );
    story.kya(&anchor, Some(DEPLOYER_KEY))?;
    let log_key = story.kya(
        &[
            "audit",
            "log-key",
            "--origin",
            RECEIPT_LOG,
            "--key",
            "merchant-receipts.key",
        ],
        None,
    )?;
    story.kya_to(
        "anchors.json",
        &[
            "audit",
            "anchors",
            "--anchorer",
            MERCHANT_WALLET,
            "--origin",
            RECEIPT_LOG,
        ],
    )?;
    for (index, decided) in [("0", "allowed"), ("1", "refused")] {
        let evidence = format!("evidence-{index}.json");
        story.kya_to(
            &evidence,
            &[
                "audit",
                "prove",
                "--log",
                "receipts",
                "--index",
                index,
                "--key",
                "merchant-receipts.key",
                "--anchors",
                "anchors.json",
            ],
        )?;
        let mut audit = vec![
            "audit",
            "verify",
            &evidence,
            "--log-key",
            log_key.trim(),
            "--anchors",
            "anchors.json",
        ];
        if index == "0" {
            // The allowed request's chain, as of the receipt's time: valid then, though its
            // delegation was revoked since.
            audit.extend([
                "--chain",
                "chain.json",
                "--policy",
                "policy.json",
                "--snapshot",
                "snapshot.json",
            ]);
        }
        let report = story.kya(&audit, None)?;
        if !report.contains(decided) {
            bail!("receipt {index} does not tell that the request was {decided}");
        }
    }

    println!(
        "\nThe story's files are in {}.",
        story.dir.strip_prefix(root).unwrap_or(&story.dir).display()
    );
    drop(anvil);
    Ok(())
}
