//! Shared by the gateway tests: a registry on a real anvil with a wallet principal and its
//! agent, `kya serve` as a child process, a small upstream that reports what it was sent,
//! and a bare HTTP/1.1 client. Every process is killed on drop.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kya_testkit::Anvil;
use serde_json::Value;

/// An HTTP response as the tests read it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The reason codes of a problem body.
    pub fn codes(&self) -> Vec<String> {
        self.json()["reasons"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|r| r["code"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Sends one request over a fresh connection (`Connection: close`) to `addr`.
pub fn send(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect::<BTreeMap<_, _>>();
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|t| t == "chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A small upstream: answers every request 200 with a JSON body of its method, path and the
/// `kya-verified-*` headers it received; counts the requests.
pub struct Upstream {
    pub addr: String,
    pub hits: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        // The thread ends with the test process.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || serve_one(stream, &counter));
            }
        });
        Self { addr, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn serve_one(stream: TcpStream, hits: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let request_line = line.trim().to_owned();
        let mut seen = serde_json::Map::new();
        let mut length = 0usize;
        let mut host = Value::Null;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                let n = n.trim().to_ascii_lowercase();
                if n == "content-length" {
                    length = v.trim().parse().unwrap_or(0);
                }
                if n == "host" {
                    host = Value::String(v.trim().to_owned());
                }
                if n.starts_with("kya-verified-") {
                    seen.insert(n, Value::String(v.trim().to_owned()));
                }
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        hits.fetch_add(1, Ordering::SeqCst);
        let reply = serde_json::json!({"request": request_line, "host": host, "identity": seen})
            .to_string();
        let out = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if reader.get_mut().write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}

/// A child process killed (and reaped) on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The registry story the gateway tests share: a company wallet with a bound issuing key,
/// its registered agent, and an authorisation for payments up to 100.00 USD at
/// `did:web:shop.example`.
pub struct Shop {
    pub anvil: Anvil,
    pub dir: tempfile::TempDir,
    pub company: String,
    pub agent: String,
}

pub const AUTHORITY: &str = "shop.example";

impl Shop {
    pub fn new() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let anvil = Anvil::spawn(&root, &[]).unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap();
        let wallet = anvil.keys()[1].clone();
        let company = format!("did:pkh:eip155:31337:{}", wallet.address());
        let mut shop = Self {
            anvil,
            dir,
            company,
            agent: String::new(),
        };
        let deployer = format!("{}", shop.anvil.keys()[0].to_bytes());
        std::fs::write(shop.path("wallet.key"), format!("{}\n", wallet.to_bytes())).unwrap();
        shop.chain_cmd(
            &["registry", "deploy", "--out", "registry.json"],
            Some(&deployer),
        );
        shop.kya(&["key", "generate", "--out", "issuing.key"]);
        shop.kya(&["key", "generate", "--out", "agent.key"]);
        shop.agent = shop.kya(&["key", "did", "agent.key"]).trim().to_owned();
        shop.chain_cmd(
            &[
                "registry",
                "bind-principal-key",
                "--issuing-key",
                "issuing.key",
                "--eth-key-file",
                "wallet.key",
            ],
            None,
        );
        let out = shop.chain_cmd(
            &[
                "registry",
                "register",
                "--uri",
                "ipfs://agent",
                "--agent-key",
                "agent.key",
                "--eth-key-file",
                "wallet.key",
                "--json",
            ],
            None,
        );
        let r: Value = serde_json::from_str(&out).unwrap();
        let registration = format!(
            "{}#{}",
            r["registration"]["agentRegistry"].as_str().unwrap(),
            r["registration"]["agentId"].as_str().unwrap()
        );
        let auth = shop.kya(&[
            "issue",
            "--key",
            "issuing.key",
            "--issuer",
            &shop.company.clone(),
            "--agent",
            &shop.agent.clone(),
            "--registration",
            &registration,
            "--valid-for",
            "1d",
            "--action",
            "payments",
            "--max-amount",
            "100.00",
            "--asset",
            "USD",
            "--audience",
            "did:web:shop.example",
        ]);
        std::fs::write(shop.path("authorization.json"), auth).unwrap();
        let policy =
            serde_json::json!({"trustedRoots": [shop.company], "audience": "did:web:shop.example"});
        std::fs::write(shop.path("policy.json"), policy.to_string()).unwrap();
        shop
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn kya(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_kya"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("KYA_ETH_KEY")
            .output()
            .unwrap();
        crate::common::succeeded(args, out)
    }

    /// A command that talks to the chain (`--rpc-url` added; `eth_key` through the
    /// environment).
    pub fn chain_cmd(&self, args: &[&str], eth_key: Option<&str>) -> String {
        let mut a = args.to_vec();
        a.extend(["--rpc-url", self.anvil.endpoint()]);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kya"));
        cmd.args(&a)
            .current_dir(self.dir.path())
            .env_remove("KYA_ETH_KEY");
        if let Some(k) = eth_key {
            cmd.env("KYA_ETH_KEY", k);
        }
        crate::common::succeeded(&a, cmd.output().unwrap())
    }

    /// The chain's current block number.
    pub fn block_number(&self) -> u64 {
        let hex = self.rpc("eth_blockNumber", "[]");
        u64::from_str_radix(hex.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    /// The `result` of one JSON-RPC call to the node (`params` as JSON text).
    pub fn rpc(&self, method: &str, params: &str) -> serde_json::Value {
        let addr = self
            .anvil
            .endpoint()
            .trim_start_matches("http://")
            .to_owned();
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        let r = send(
            &addr,
            "POST",
            "/",
            &[
                ("Host".into(), addr.clone()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body.as_bytes(),
        );
        let answer = r.json();
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// The on-chain revocation of the authorisation by the wallet that issued it.
    pub fn revoke_authorization(&self) {
        self.chain_cmd(
            &[
                "registry",
                "revoke-issued",
                "--credential",
                "authorization.json",
                "--eth-key-file",
                "wallet.key",
            ],
            None,
        );
    }

    /// Signs a request with `kya sign-request` for `https://shop.example<target>`; the
    /// headers to send (Host included).
    pub fn sign(&self, method: &str, target: &str, amount: Option<&str>) -> Vec<(String, String)> {
        let url = format!("https://{AUTHORITY}{target}");
        let mut args = vec![
            "sign-request",
            "--key",
            "agent.key",
            "--chain",
            "authorization.json",
            "--method",
            method,
            "--url",
            &url,
            "--json",
        ];
        if let Some(a) = amount {
            args.extend(["--amount", a]);
        }
        let signed: Value = serde_json::from_str(&self.kya(&args)).unwrap();
        let mut headers = vec![("Host".to_owned(), AUTHORITY.to_owned())];
        for (n, v) in signed["headers"].as_object().unwrap() {
            if !n.eq_ignore_ascii_case("host") {
                headers.push((n.clone(), v.as_str().unwrap().to_owned()));
            }
        }
        headers
    }

    /// The registry section of a gateway configuration following this anvil's head.
    pub fn registry_toml(&self) -> String {
        format!(
            "[registry]\ndeployment = \"registry.json\"\nrpc = [\"{}\"]\nfollow = \"latest\"\npoll_interval_ms = 200\nsnapshot = \"snapshot.json\"\nmax_age_secs = 60\n",
            self.anvil.endpoint()
        )
    }
}

/// `kya serve --config <file>` started in `dir`; its address once it listens.
pub struct Served {
    pub child: Killed,
    pub addr: String,
}

impl Served {
    /// Waits until the gateway's registry view has synced at least once.
    pub fn wait_synced(&self) {
        self.wait_for("a synced registry view", |m| {
            m.lines()
                .find_map(|l| l.strip_prefix("kya_gateway_registry_syncs_total "))
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        });
    }

    pub fn start(dir: &Path, config: &str) -> Self {
        std::fs::write(dir.join("gateway.toml"), config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kya"))
            .args(["serve", "--config", "gateway.toml"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("gateway.log")).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("kya serve printed `{line}`"))
            .to_owned();
        Self {
            child: Killed(child),
            addr,
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        send(
            &self.addr,
            "GET",
            path,
            &[("Host".into(), "ops".into())],
            b"",
        )
    }

    /// Waits (bounded by attempts, not by time) until `/metrics` satisfies `done`.
    pub fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) {
        for _ in 0..600 {
            if done(&self.get("/metrics").body) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "the gateway never reached: {what}\n{}",
            self.get("/metrics").body
        );
    }

    /// The registry block `/metrics` reports.
    pub fn block(&self) -> u64 {
        self.get("/metrics")
            .body
            .lines()
            .find_map(|l| l.strip_prefix("kya_gateway_registry_block "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// A receipt log at `dir` whose entries file is a full disk: it opens, but no receipt can be
/// made durable.
pub fn full_disk_receipt_log(dir: &Path) {
    drop(kya_log::FileLog::create(dir).unwrap());
    std::fs::remove_file(dir.join("entries")).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.join("entries")).unwrap();
}
