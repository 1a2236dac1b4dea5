//! The demo's shop: the test stablecoin (deployed and read with foundry's `cast`), the
//! merchant's `kya serve` gateway charging x402 payments, and the small service behind it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The test stablecoin's decimals (`solidity/src/KyaTestUSD.sol`, like USDC's).
const TOKEN_DECIMALS: u32 = 6;

/// Foundry's `cast`, pinned in `.tools/bin`, against the demo's anvil.
pub(crate) struct Cast {
    bin: PathBuf,
    rpc_url: String,
}

impl Cast {
    pub(crate) fn new(root: &Path, rpc_url: &str) -> Self {
        Self {
            bin: root.join(".tools/bin/cast"),
            rpc_url: rpc_url.to_owned(),
        }
    }

    /// Runs `cast ARGS --rpc-url URL` (shown as typed, with `shown` standing in for long
    /// arguments); its standard output.
    fn run(&self, args: &[&str], shown: &str) -> Result<String> {
        println!("$ cast {shown}");
        let (command, rest) = args.split_first().context("no cast command")?;
        // Options go before positional arguments (`--create CODE [ARGS]…` takes the rest).
        let out = Command::new(&self.bin)
            .arg(command)
            .args(["--rpc-url", &self.rpc_url])
            .args(rest)
            .output()
            .with_context(|| format!("cannot run {}", self.bin.display()))?;
        if !out.status.success() {
            bail!(
                "cast {shown} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    /// Deploys the EIP-3009 test stablecoin (kUSD) from `key`'s account, its minter; the
    /// token's address.
    pub(crate) fn deploy_token(&self, root: &Path, key: &str) -> Result<String> {
        let artifact: Value = serde_json::from_slice(&std::fs::read(
            root.join("solidity/artifacts/KyaTestUSD.json"),
        )?)?;
        let code = artifact["bytecode"]
            .as_str()
            .context("no bytecode in the KyaTestUSD artifact")?;
        let receipt: Value = serde_json::from_str(&self.run(
            &["send", "--json", "--private-key", key, "--create", code],
            "send --private-key $DEPLOYER --create <solidity/artifacts/KyaTestUSD.json bytecode>",
        )?)?;
        let token = receipt["contractAddress"]
            .as_str()
            .context("no contract address in the deployment receipt")?
            .to_owned();
        println!("test stablecoin kUSD (EIP-3009) at {token}");
        Ok(token)
    }

    /// Mints `whole` kUSD to `to` (from the minter `key`).
    pub(crate) fn mint(&self, token: &str, key: &str, to: &str, whole: u64) -> Result<()> {
        let atomic = (whole * 10u64.pow(TOKEN_DECIMALS)).to_string();
        self.run(
            &[
                "send",
                "--private-key",
                key,
                token,
                "mint(address,uint256)",
                to,
                &atomic,
            ],
            &format!("send --private-key $DEPLOYER {token} 'mint(address,uint256)' {to} {atomic}"),
        )?;
        Ok(())
    }

    /// `who`'s kUSD balance, in atomic units (millionths), shown as whole tokens.
    pub(crate) fn balance(&self, token: &str, who: &str) -> Result<u128> {
        let out = self.run(
            &["call", token, "balanceOf(address)(uint256)", who],
            &format!("call {token} 'balanceOf(address)(uint256)' {who}"),
        )?;
        // cast prints `12500000 [1.25e7]` for large numbers: the first word is the value.
        let atomic: u128 = out
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .parse()
            .with_context(|| format!("unexpected balance from cast: {out}"))?;
        println!("{} kUSD", whole_tokens(atomic));
        Ok(atomic)
    }

    /// The chain's latest block number.
    pub(crate) fn block_number(&self) -> Result<u64> {
        let out = self.run(&["block-number"], "block-number")?;
        println!("{out}");
        out.parse()
            .with_context(|| format!("unexpected block number from cast: {out}"))
    }
}

/// `atomic` millionths as whole kUSD, e.g. `12.500000`.
pub(crate) fn whole_tokens(atomic: u128) -> String {
    let unit = 10u128.pow(TOKEN_DECIMALS);
    format!("{}.{:06}", atomic / unit, atomic % unit)
}

/// The shop's own service behind the gateway: answers every request `200 order placed`.
pub(crate) fn start_shop_service() -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = answer_order(stream);
            });
        }
    });
    Ok(addr)
}

/// Reads one request (headers and a Content-Length body) and answers it.
fn answer_order(stream: TcpStream) -> Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse()?;
        }
    }
    std::io::copy(
        &mut reader.by_ref().take(length as u64),
        &mut std::io::sink(),
    )?;
    let body = "order placed\n";
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

/// The merchant's `kya serve`, stopped when dropped.
pub(crate) struct Gateway {
    child: Child,
    pub(crate) addr: String,
}

impl Gateway {
    /// Starts `kya serve --config gateway.toml` in `dir` (its log in `gateway.log`) and waits
    /// until it listens and has synced the registry once.
    pub(crate) fn start(kya: &Path, dir: &Path) -> Result<Self> {
        println!("$ kya serve --config gateway.toml &");
        let mut child = Command::new(kya)
            .args(["serve", "--config", "gateway.toml"])
            .current_dir(dir)
            .env_remove("KYA_ETH_KEY")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("gateway.log"))?)
            .spawn()
            .context("cannot start kya serve")?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let gateway = Self {
            addr: line
                .trim()
                .strip_prefix("listening on ")
                .with_context(|| format!("kya serve did not start (see gateway.log): {line}"))?
                .to_owned(),
            child,
        };
        println!("the gateway listens on {}", gateway.addr);
        gateway.wait_for_block(0)?;
        Ok(gateway)
    }

    /// Waits until the gateway's registry view has synced block `block` or later.
    pub(crate) fn wait_for_block(&self, block: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let metrics = http_get(&self.addr, "/metrics").unwrap_or_default();
            let synced = metrics
                .lines()
                .find_map(|l| l.strip_prefix("kya_gateway_registry_syncs_total "))
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|n| n > 0);
            let at = metrics
                .lines()
                .find_map(|l| l.strip_prefix("kya_gateway_registry_block "))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if synced && at >= block {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the gateway's registry view did not reach block {block}: {metrics}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of `GET path` at `addr`.
fn http_get(addr: &str, path: &str) -> Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default())
}
