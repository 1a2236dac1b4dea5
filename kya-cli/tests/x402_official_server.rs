//! kya's agent (`kya sign-request --send --pay`) paying a plain x402 endpoint built with the
//! official server packages (`@x402/core`'s `x402HTTPResourceServer` with `@x402/evm`'s
//! `exact` scheme and facilitator, pinned in `kya-x402/interop`), on a real anvil: it pays
//! exactly the price from its wallet when its grants allow it, and pays nothing when they do
//! not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use kya_testkit::Anvil;
use kya_x402::token::KyaTestUSD;
use kya_x402::{Address, SettleResponse, U256};

/// The endpoint's price: 1.25 in the 6-decimal test token.
const PRICE_ATOMIC: u64 = 1_250_000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The official server, stopped when dropped.
struct OfficialServer {
    child: Child,
    addr: String,
}

impl OfficialServer {
    fn start(anvil: &Anvil, token: Address, pay_to: Address) -> Self {
        let dir = root().join("kya-x402/interop");
        assert!(
            dir.join("node_modules/@x402/core/package.json").is_file(),
            "the official x402 packages are not installed in {}: run scripts/install-tools.sh",
            dir.display()
        );
        let mut child = Command::new("node")
            .args(["interop.mjs", "serve"])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node (>= 20) on PATH");
        let input = serde_json::json!({
            "rpc": anvil.endpoint(),
            // The facilitator's account sends the settlement and pays its gas.
            "privateKey": format!("{:#x}", anvil.keys()[0].to_bytes()),
            "payTo": pay_to.to_checksum(None),
            "asset": token.to_checksum(None),
            "amount": PRICE_ATOMIC.to_string(),
            "name": kya_x402::token::NAME,
            "version": kya_x402::token::VERSION,
        });
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.to_string().as_bytes()).unwrap();
        drop(stdin);
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let started: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the official server did not start ({e}): {line}"));
        let addr = started["listening"].as_str().unwrap().to_owned();
        Self { child, addr }
    }
}

impl Drop for OfficialServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn deploy_token(anvil: &Anvil, payer: Address) -> Address {
    let provider =
        kya_registry::connect_http(anvil.endpoint(), Some(anvil.keys()[0].clone())).unwrap();
    runtime().block_on(async {
        let token = KyaTestUSD::deploy(&provider).await.unwrap();
        token
            .mint(payer, U256::from(10_000_000u64))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        *token.address()
    })
}

fn balance(anvil: &Anvil, token: Address, who: Address) -> U256 {
    let provider = kya_registry::connect_http(anvil.endpoint(), None).unwrap();
    runtime().block_on(async {
        KyaTestUSD::new(token, &provider)
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    })
}

fn kya(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kya"))
        .args(args)
        .current_dir(dir)
        .env_remove("KYA_ETH_KEY")
        .output()
        .unwrap()
}

fn kya_ok(dir: &Path, args: &[&str]) -> String {
    common::succeeded(args, kya(dir, args))
}

/// A principal's authorisation of the agent for payments up to `ceiling` of the token at
/// did:web:premium.example, written to `file`.
fn authorize(dir: &Path, file: &str, asset: &str, ceiling: &str) {
    let agent = kya_ok(dir, &["key", "did", "agent.key"]);
    let credential = kya_ok(
        dir,
        &[
            "issue",
            "--key",
            "principal.key",
            "--agent",
            agent.trim(),
            "--valid-for",
            "1h",
            "--action",
            "payments",
            "--max-amount",
            ceiling,
            "--asset",
            asset,
            "--audience",
            "did:web:premium.example",
        ],
    );
    std::fs::write(dir.join(file), credential).unwrap();
}

fn pay(dir: &Path, server: &OfficialServer, chain: &str) -> Output {
    let url = format!("http://{}/premium", server.addr);
    kya(
        dir,
        &[
            "sign-request",
            "--key",
            "agent.key",
            "--chain",
            chain,
            "--method",
            "POST",
            "--url",
            &url,
            "--send",
            "--pay",
            "--pay-audience",
            "did:web:premium.example",
            "--eth-key-file",
            "wallet.key",
        ],
    )
}

#[test]
fn kyas_agent_pays_an_official_x402_server_within_its_grants_only() {
    let anvil = Anvil::spawn(&root(), &[]).unwrap_or_else(|e| panic!("{e}"));
    let wallet = anvil.keys()[2].clone();
    let pay_to = anvil.keys()[4].address();
    let token = deploy_token(&anvil, wallet.address());
    let server = OfficialServer::start(&anvil, token, pay_to);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    kya_ok(dir, &["key", "generate", "--out", "agent.key"]);
    kya_ok(dir, &["key", "generate", "--out", "principal.key"]);
    std::fs::write(dir.join("wallet.key"), format!("{}\n", wallet.to_bytes())).unwrap();
    let asset = kya_x402::caip19_erc20(31_337, token).unwrap().to_string();
    let start = (
        balance(&anvil, token, pay_to),
        balance(&anvil, token, wallet.address()),
    );

    // Grants of at most 1.00 do not cover the price of 1.25: the agent pays nothing.
    authorize(dir, "small.json", &asset, "1.00");
    let out = pay(dir, &server, "small.json");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("allow none of the 1 payment requirements"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(balance(&anvil, token, pay_to), start.0);

    // Grants of 5.00: the official server's 402 is paid, settled by the official
    // facilitator, and the resource served with its PAYMENT-RESPONSE.
    authorize(dir, "grant.json", &asset, "5.00");
    let out = pay(dir, &server, "grant.json");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("HTTP/1.1 200"), "{stdout}");
    assert!(stdout.contains("the premium report"), "{stdout}");
    let settled = stdout
        .lines()
        .find_map(|l| l.strip_prefix("PAYMENT-RESPONSE: "))
        .unwrap_or_else(|| panic!("no PAYMENT-RESPONSE: {stdout}"));
    let settled = SettleResponse::from_header(settled).unwrap();
    assert!(settled.success);
    assert_eq!(
        settled.payer.as_deref().map(str::to_lowercase),
        Some(format!("{:#x}", wallet.address()))
    );
    let price = U256::from(PRICE_ATOMIC);
    assert_eq!(balance(&anvil, token, pay_to), start.0 + price);
    assert_eq!(balance(&anvil, token, wallet.address()), start.1 - price);
}
