//! Test harness: a real anvil, spawned per test on a free port and killed on drop.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::PathBuf;

use kya_registry::{DynProvider, PrivateKeySigner, Registry, connect_http};

/// A running anvil (killed on drop) and its development keys.
pub struct Anvil {
    node: kya_testkit::Anvil,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

impl Anvil {
    /// Starts anvil with default settings (automine).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts anvil with extra arguments; fails the test with how to install anvil if it is
    /// missing.
    pub fn start_with(extra: &[&str]) -> Self {
        let node =
            kya_testkit::Anvil::spawn(&workspace_root(), extra).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            node.keys().len() >= 10,
            "anvil printed fewer than 10 development keys"
        );
        let url = node.endpoint().to_owned();
        Self { node, url }
    }

    /// The signer of development account `i`.
    pub fn signer(&self, i: usize) -> PrivateKeySigner {
        self.node.keys()[i].clone()
    }

    /// A provider that signs with development account `i`.
    pub fn provider(&self, i: usize) -> DynProvider {
        connect_http(&self.url, Some(self.signer(i))).unwrap()
    }

    /// A read-only provider.
    pub fn reader(&self) -> DynProvider {
        connect_http(&self.url, None).unwrap()
    }

    /// Deploys the registry from account 0.
    pub async fn deploy(&self) -> Registry {
        Registry::deploy(self.provider(0)).await.unwrap()
    }

    /// The same deployment, signing with account `i`.
    pub fn as_account(&self, reg: &Registry, i: usize) -> Registry {
        Registry::from_deployment(self.provider(i), *reg.deployment())
    }

    /// A raw JSON-RPC call (anvil_* / evm_* methods).
    pub async fn rpc(&self, method: &str, params: serde_json::Value) -> serde_json::Value {
        use alloy::providers::Provider as _;
        let p = self.reader();
        let v: serde_json::Value = p
            .raw_request(method.to_owned().into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        v
    }
}

/// A deterministic Ed25519 key from a seed byte.
pub fn ed_key(seed: u8) -> kya_core::PublicKey {
    kya_core::SecretKey::from_seed(&[seed; 32]).public_key()
}

/// A JSON-RPC proxy in front of anvil that refuses `eth_getLogs` over more than
/// `max_range` blocks (as hosted nodes do), counting the refusals. Runs until dropped.
pub struct RangeLimitedProxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// How many `eth_getLogs` requests were refused.
    pub refused: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RangeLimitedProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RangeLimitedProxy {
    pub async fn start(upstream: DynProvider, max_range: u64) -> Self {
        Self::start_with_hook(upstream, max_range, Vec::new()).await
    }

    /// Like [`start`](Self::start), and runs the raw `hook` calls upstream just before
    /// answering the first `eth_getLogs` (e.g. to reorganise the chain mid-sync).
    pub async fn start_with_hook(
        upstream: DynProvider,
        max_range: u64,
        hook: Vec<(&'static str, serde_json::Value)>,
    ) -> Self {
        let hook = std::sync::Arc::new(tokio::sync::Mutex::new(Some(hook)));
        use std::sync::atomic::{AtomicU64, Ordering};
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let refused = std::sync::Arc::new(AtomicU64::new(0));
        let counter = refused.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let counter = counter.clone();
                let hook = hook.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut r = BufReader::new(r);
                    loop {
                        // One HTTP/1.1 request: headers, then Content-Length bytes.
                        let mut len = 0usize;
                        loop {
                            let mut line = String::new();
                            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            let l = line.trim_end();
                            if l.is_empty() {
                                break;
                            }
                            if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0; len];
                        if r.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let req: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        let resp = match req {
                            serde_json::Value::Array(reqs) => {
                                let mut out = Vec::new();
                                for q in reqs {
                                    out.push(
                                        Self::answer(&upstream, q, max_range, &counter, &hook)
                                            .await,
                                    );
                                }
                                serde_json::Value::Array(out)
                            }
                            q => Self::answer(&upstream, q, max_range, &counter, &hook).await,
                        };
                        let bytes = serde_json::to_vec(&resp).unwrap();
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            bytes.len()
                        );
                        if w.write_all(head.as_bytes()).await.is_err()
                            || w.write_all(&bytes).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        let _ = Ordering::Relaxed;
        Self { url, refused, task }
    }

    async fn answer(
        upstream: &DynProvider,
        q: serde_json::Value,
        max_range: u64,
        refused: &std::sync::atomic::AtomicU64,
        hook: &tokio::sync::Mutex<Option<Vec<(&'static str, serde_json::Value)>>>,
    ) -> serde_json::Value {
        use alloy::providers::Provider as _;
        let id = q["id"].clone();
        let method = q["method"].as_str().unwrap_or_default().to_owned();
        if method == "eth_getLogs" {
            let f = &q["params"][0];
            let num = |v: &serde_json::Value| {
                u64::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16)
                    .unwrap_or(0)
            };
            let (from, to) = (num(&f["fromBlock"]), num(&f["toBlock"]));
            if to >= from && to - from + 1 > max_range {
                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return serde_json::json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32005, "message": format!("block range too large: at most {max_range} blocks")}});
            }
            if let Some(calls) = hook.lock().await.take() {
                for (m, p) in calls {
                    let _: serde_json::Value = upstream.raw_request(m.into(), p).await.unwrap();
                }
            }
        }
        let params = q["params"].clone();
        match upstream
            .raw_request::<_, serde_json::Value>(method.into(), params)
            .await
        {
            Ok(v) => serde_json::json!({"jsonrpc": "2.0", "id": id, "result": v}),
            Err(e) => {
                serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": e.to_string()}})
            }
        }
    }
}
