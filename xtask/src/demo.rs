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
use crate::shop::{Cast, Gateway, start_shop_service, whole_tokens};

/// Anvil's first two well-known development accounts (public test keys, never real funds).
const DEPLOYER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const COMPANY_WALLET_KEY: &str =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const COMPANY_WALLET: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// The merchant anchors its receipt log and settles payments from anvil's first account (the
/// deployer's).
const MERCHANT_WALLET: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// Anvil's third account: the sub-agent's own wallet, holding its spending money.
const SUBAGENT_WALLET_KEY: &str =
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const SUBAGENT_WALLET: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
/// Where the shop's takings go (anvil's fifth account).
const SHOP_PAYEE: &str = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
/// The checkout's price, in kUSD.
const PRICE: &str = "12.50";
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

/// `kya sign-request` for a paid checkout at `url`, paying the terms in
/// `payment-required.txt` from the sub-agent's wallet; without its last six arguments, the
/// unpaid request.
fn paid_checkout_request(url: &str) -> Vec<&str> {
    vec![
        "sign-request",
        "--key",
        "subagent.key",
        "--chain",
        "chain.json",
        "--method",
        "POST",
        "--url",
        url,
        "--action",
        "payments/send",
        "--send",
        "--payment-required",
        "payment-required.txt",
        "--pay-audience",
        "did:web:shop.example",
        "--eth-key-file",
        "subagent-wallet.key",
    ]
}

/// The shop's gateway: proxies to the shop's service, checks every request's kya signature
/// and chain against the policy and a registry view it keeps synced, and charges the checkout
/// in kUSD with x402, settling from the merchant's account.
fn start_gateway(story: &Story, token: &str) -> Result<Gateway> {
    let service = start_shop_service()?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    std::fs::write(
        story.dir.join("facilitator.key"),
        format!("{DEPLOYER_KEY}\n"),
    )?;
    let config = format!(
        r#"listen = "127.0.0.1:{port}"
mode = "proxy"
upstream = "http://{service}"
policy = "policy.json"
# The gateway stands in for shop.example on a local port.
authorities = ["shop.example", "127.0.0.1:{port}"]

[[route]]
method = "POST"
path = "/api/checkout"
action = "payments/send"
[route.x402]
price = "{PRICE}"

[registry]
deployment = "registry.json"
rpc = ["{rpc}"]
follow = "latest"
poll_interval_ms = 200
snapshot = "gateway-snapshot.json"
max_age_secs = 60

[x402]
rpc = "{rpc}"
chain_id = 31337
token = "{token}"
pay_to = "{SHOP_PAYEE}"
eth_key_file = "facilitator.key"
"#,
        rpc = story.rpc_url,
    );
    std::fs::write(story.dir.join("gateway.toml"), &config)?;
    println!("gateway.toml:\n{config}");
    Gateway::start(&story.kya, &story.dir)
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
    story.say(
        "   and a USDC-like test stablecoin (kUSD, EIP-3009): the sub-agent's wallet gets 100.00",
    );
    let cast = Cast::new(root, &anvil.url);
    let token = cast.deploy_token(root, DEPLOYER_KEY)?;
    cast.mint(&token, DEPLOYER_KEY, SUBAGENT_WALLET, 100)?;
    // Grants name the token by its CAIP-19 id, so a grant's ceiling is a ceiling on payments.
    let kusd = format!("eip155:31337/erc20:{}", token.to_lowercase());

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
    let subagent_id = subagent_reg
        .rsplit_once('#')
        .map(|(_, id)| id.to_owned())
        .context("sub-agent id")?;
    story.say("   the sub-agent's ERC-8004 wallet: its own, which consents by signature");
    std::fs::write(
        story.dir.join("subagent-wallet.key"),
        format!("{SUBAGENT_WALLET_KEY}\n"),
    )?;
    story.kya(
        &[
            "registry",
            "set-wallet",
            "--agent-id",
            &subagent_id,
            "--wallet-key-file",
            "subagent-wallet.key",
        ],
        wallet,
    )?;

    story.say(
        "4. the company authorises its agent: payments up to 100.00 kUSD at two shops, 30 days",
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
            &kusd,
            "--audience",
            "did:web:shop.example",
            "--audience",
            "did:web:books.example",
        ],
    )?;

    story.say(
        "5. the agent delegates a narrower share to its sub-agent: 25.00 kUSD, one shop, 7 days",
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
            &kusd,
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
            &kusd,
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
    let amount = format!("{PRICE} {kusd}");
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
        &amount,
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

    story.say(
        "7b. the shop's gateway (kya serve) charges 12.50 kUSD per checkout with x402; the sub-agent pays from its registered wallet",
    );
    let gateway = start_gateway(&story, &token)?;
    let checkout = format!("http://{}/api/checkout", gateway.addr);
    let paid_checkout = paid_checkout_request(&checkout);
    let shop_before = cast.balance(&token, SHOP_PAYEE)?;
    let unpaid = story.show(&paid_checkout[..paid_checkout.len() - 6], None)?;
    let terms = String::from_utf8_lossy(&unpaid.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("PAYMENT-REQUIRED: "))
        .map(str::to_owned)
        .context("the unpaid checkout got no 402 with PAYMENT-REQUIRED")?;
    std::fs::write(story.dir.join("payment-required.txt"), terms)?;
    println!("   (the terms saved to payment-required.txt; the agent pays them)");
    story.kya(&paid_checkout, None)?;
    let shop_after = cast.balance(&token, SHOP_PAYEE)?;
    cast.balance(&token, SUBAGENT_WALLET)?;
    if shop_after.checked_sub(shop_before) != Some(12_500_000) {
        bail!(
            "the shop received {} kUSD instead of {PRICE}",
            whole_tokens(shop_after.saturating_sub(shop_before))
        );
    }
    println!(
        "the shop received exactly {} kUSD",
        whole_tokens(shop_after - shop_before)
    );

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

    story.say("9b. the same paid checkout at the gateway is refused before any money moves");
    gateway.wait_for_block(cast.block_number()?)?;
    let refused = story.show(&paid_checkout, None)?;
    let said = String::from_utf8_lossy(&refused.stdout);
    if refused.status.success() || !said.contains("revoked") {
        bail!("a paid checkout through a revoked delegation was not refused as revoked");
    }
    if cast.balance(&token, SHOP_PAYEE)? != shop_after
        || cast.balance(&token, SUBAGENT_WALLET)? != 100_000_000 - 12_500_000
    {
        bail!("money moved for a refused checkout");
    }
    drop(gateway);

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
