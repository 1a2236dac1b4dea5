//! Several RPC endpoints and a quorum: a block, a log list or a contract's code is accepted only
//! when `quorum` endpoints give the same answer, and a block header only when its hash, computed
//! here from its fields, is the agreed one (so a node cannot serve a right hash with a wrong
//! timestamp or state root).
//!
//! Logs are the one answer a header cannot vouch for (a node can drop a revocation and keep
//! every header right), so they are fetched from every live endpoint and compared whole
//! (address, topics, data, block hash, transaction, index): a quorum must return identical
//! lists. An endpoint that fails (after [`MAX_ATTEMPTS`] attempts, each bounded by the request
//! timeout) is left out for the rest of the run, so a stalled node costs one timeout, not one
//! per request.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, keccak256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::{BatchRequest, RpcClient};
use alloy::rpc::types::{BlockNumberOrTag, Filter, Log};
use alloy::transports::http::{Http, reqwest};
use alloy::transports::{RpcError, TransportError};

use crate::error::{RegistryError, Result};

/// Attempts per request before an endpoint counts as failed.
pub const MAX_ATTEMPTS: u32 = 3;
/// Default time one request may take.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Block headers per batched JSON-RPC request.
const HEADER_BATCH: usize = 100;
/// Most endpoints one sync consults.
pub const MAX_ENDPOINTS: usize = 16;

/// A block header as the chain hashes it.
pub type Header = alloy::rpc::types::Header;

/// One endpoint's answer, as reported when endpoints disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The endpoint (its URL).
    pub endpoint: String,
    /// What it answered (a hash, a block number, or its error).
    pub answer: String,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} → {}", self.endpoint, self.answer)
    }
}

struct Endpoint {
    url: String,
    provider: DynProvider,
    down: AtomicBool,
}

/// The RPC endpoints a sync reads from, and how many must agree.
pub struct Sources {
    endpoints: Vec<Endpoint>,
    quorum: usize,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&str> = self.endpoints.iter().map(|e| e.url.as_str()).collect();
        f.debug_struct("Sources")
            .field("endpoints", &urls)
            .field("quorum", &self.quorum)
            .finish()
    }
}

/// A read-only provider for `url` whose requests time out after `timeout`.
pub fn connect_http_with_timeout(url: &str, timeout: Duration) -> Result<DynProvider> {
    let parsed = url
        .parse()
        .map_err(|e| RegistryError::Invalid(format!("rpc url `{url}`: {e}")))?;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| RegistryError::Invalid(format!("http client for `{url}`: {e}")))?;
    let rpc = RpcClient::new(Http::with_client(client, parsed), false);
    Ok(ProviderBuilder::default().connect_client(rpc).erased())
}

impl Sources {
    /// Endpoints named by URL, each request bounded by `timeout`; `quorum` defaults to a
    /// majority (`n / 2 + 1`).
    pub fn connect(urls: &[String], quorum: Option<usize>, timeout: Duration) -> Result<Self> {
        let providers = urls
            .iter()
            .map(|u| Ok((u.clone(), connect_http_with_timeout(u, timeout)?)))
            .collect::<Result<Vec<_>>>()?;
        Self::new(providers, quorum)
    }

    /// Endpoints from providers, labelled for reports; `quorum` defaults to a majority.
    pub fn new(providers: Vec<(String, DynProvider)>, quorum: Option<usize>) -> Result<Self> {
        let n = providers.len();
        if n == 0 || n > MAX_ENDPOINTS {
            return Err(RegistryError::Invalid(format!(
                "{n} rpc endpoints: give 1 to {MAX_ENDPOINTS}"
            )));
        }
        let quorum = quorum.unwrap_or(n / 2 + 1);
        if quorum == 0 || quorum > n {
            return Err(RegistryError::Invalid(format!(
                "quorum {quorum} of {n} endpoints: it must be 1 to {n}"
            )));
        }
        let endpoints = providers
            .into_iter()
            .map(|(url, provider)| Endpoint {
                url,
                provider,
                down: AtomicBool::new(false),
            })
            .collect();
        Ok(Self { endpoints, quorum })
    }

    /// One endpoint, trusted alone (quorum 1).
    pub fn single(provider: DynProvider) -> Self {
        Self {
            endpoints: vec![Endpoint {
                url: "rpc".into(),
                provider,
                down: AtomicBool::new(false),
            }],
            quorum: 1,
        }
    }

    /// How many endpoints must agree.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// How many endpoints there are.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// Always false: there is at least one endpoint.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The live endpoints and their providers (for requests whose answers are verified
    /// otherwise, such as storage proofs).
    pub(crate) fn endpoints(&self) -> impl Iterator<Item = (&str, &DynProvider)> {
        self.endpoints
            .iter()
            .filter(|e| !e.down.load(Ordering::Relaxed))
            .map(|e| (e.url.as_str(), &e.provider))
    }

    /// Runs `f` against endpoint `e`, retrying transport failures (timeouts, refused
    /// connections) up to [`MAX_ATTEMPTS`] times; an endpoint that still fails is left out
    /// from then on. Error responses are answers, not retried.
    async fn call<T, F, Fut>(&self, e: &Endpoint, f: F) -> Result<T, TransportError>
    where
        F: Fn(DynProvider) -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let mut attempt = 1;
        loop {
            match f(e.provider.clone()).await {
                Err(RpcError::Transport(_)) if attempt < MAX_ATTEMPTS => attempt += 1,
                Err(err @ RpcError::Transport(_)) => {
                    e.down.store(true, Ordering::Relaxed);
                    return Err(err);
                }
                other => return other,
            }
        }
    }

    /// Asks every live endpoint; returns each one's answer.
    async fn ask_all<T, F, Fut>(&self, f: F) -> Vec<(&str, Result<T, TransportError>)>
    where
        F: Fn(DynProvider) -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let mut out = Vec::with_capacity(self.endpoints.len());
        for e in &self.endpoints {
            if e.down.load(Ordering::Relaxed) {
                continue;
            }
            out.push((e.url.as_str(), self.call(e, &f).await));
        }
        out
    }

    /// The value `quorum` endpoints agree on, and the dissenting answers (reported, never
    /// dropped silently); without a quorum, every answer in the error.
    fn tally<T: PartialEq + Clone>(
        &self,
        what: &str,
        answers: Vec<(&str, Result<T, String>)>,
        show: impl Fn(&T) -> String,
    ) -> Result<(T, Vec<Answer>)> {
        let mut winner = None;
        for (_, a) in &answers {
            if let Ok(v) = a {
                let votes = answers
                    .iter()
                    .filter(|(_, b)| b.as_ref().is_ok_and(|b| b == v))
                    .count();
                if votes >= self.quorum {
                    winner = Some(v.clone());
                    break;
                }
            }
        }
        let shown = |v: &Result<T, String>| match v {
            Ok(v) => show(v),
            Err(e) => format!("error: {e}"),
        };
        let Some(w) = winner else {
            return Err(RegistryError::NoQuorum {
                what: what.to_owned(),
                quorum: self.quorum,
                answers: answers
                    .iter()
                    .map(|(u, a)| Answer {
                        endpoint: (*u).to_owned(),
                        answer: shown(a),
                    })
                    .collect(),
            });
        };
        let dissent = answers
            .iter()
            .filter(|(_, a)| a.as_ref().ok() != Some(&w))
            .map(|(u, a)| Answer {
                endpoint: (*u).to_owned(),
                answer: shown(a),
            })
            .collect();
        Ok((w, dissent))
    }

    /// The chain id the endpoints agree on.
    pub async fn chain_id(&self) -> Result<(u64, Vec<Answer>)> {
        let answers = self
            .ask_all(|p| async move { p.get_chain_id().await })
            .await;
        self.tally("the chain id", stringify(answers), u64::to_string)
    }

    /// The highest block number that `quorum` endpoints report at or above `tag`
    /// (`finalized`, `safe` or `latest`).
    pub async fn tag_number(&self, tag: BlockNumberOrTag) -> Result<u64> {
        let answers = self
            .ask_all(|p| async move {
                p.client()
                    .request::<_, Option<Header>>("eth_getBlockByNumber", (tag, false))
                    .await
            })
            .await;
        let mut numbers: Vec<u64> = answers
            .iter()
            .filter_map(|(_, a)| a.as_ref().ok().and_then(|h| h.as_ref()).map(|h| h.number))
            .collect();
        numbers.sort_unstable_by(|a, b| b.cmp(a));
        numbers.get(self.quorum - 1).copied().ok_or_else(|| {
            let answers = stringify(answers)
                .into_iter()
                .map(|(u, a)| Answer {
                    endpoint: u.to_owned(),
                    answer: match a {
                        Ok(Some(h)) => format!("block {}", h.number),
                        Ok(None) => "no such block".into(),
                        Err(e) => format!("error: {e}"),
                    },
                })
                .collect();
            RegistryError::NoQuorum {
                what: format!("the {tag} block"),
                quorum: self.quorum,
                answers,
            }
        })
    }

    /// Block `n`'s header as `quorum` endpoints give it, its hash computed here; `None` when
    /// a quorum says the chain has no such block.
    pub async fn header(&self, n: u64) -> Result<(Option<Header>, Vec<Answer>)> {
        let answers = self
            .ask_all(|p| async move { fetch_header(&p, n).await })
            .await;
        let show =
            |h: &Option<Header>| h.as_ref().map_or("no block".into(), |h| h.hash.to_string());
        self.tally(&format!("block {n}"), stringify(answers), show)
    }

    /// Headers of `blocks` in batched requests to the first live endpoint (100 per request),
    /// each kept only when it hashes to the hash asked for; the others are `None` (ask again
    /// with [`header_with_hash`](Self::header_with_hash), which tries every endpoint).
    pub async fn headers_batch(&self, blocks: &[(u64, B256)]) -> Vec<Option<Header>> {
        let mut out = vec![None; blocks.len()];
        let Some(e) = self
            .endpoints
            .iter()
            .find(|e| !e.down.load(Ordering::Relaxed))
        else {
            return out;
        };
        for (i, chunk) in blocks.chunks(HEADER_BATCH).enumerate() {
            let mut batch = BatchRequest::new(e.provider.client());
            let mut waiters = Vec::with_capacity(chunk.len());
            for &(n, _) in chunk {
                let params = (BlockNumberOrTag::Number(n), false);
                match batch.add_call::<_, Option<Header>>("eth_getBlockByNumber", &params) {
                    Ok(w) => waiters.push(w),
                    Err(_) => return out,
                }
            }
            if batch.send().await.is_err() {
                return out;
            }
            for (j, (w, &(n, hash))) in waiters.into_iter().zip(chunk).enumerate() {
                if let Ok(Some(mut h)) = w.await {
                    h.hash = h.inner.hash_slow();
                    if h.inner.number == n && h.hash == hash {
                        out[i * HEADER_BATCH + j] = Some(h);
                    }
                }
            }
        }
        out
    }

    /// The header of block `n` with hash `hash`, from the first endpoint that serves it.
    pub async fn header_with_hash(&self, n: u64, hash: B256) -> Result<Option<Header>> {
        for e in &self.endpoints {
            if e.down.load(Ordering::Relaxed) {
                continue;
            }
            if let Ok(Some(h)) = self
                .call(e, |p| async move { fetch_header(&p, n).await })
                .await
                && h.hash == hash
            {
                return Ok(Some(h));
            }
        }
        Ok(None)
    }

    /// The logs matching `filter`, as `quorum` endpoints return them, identically.
    pub async fn logs(&self, filter: &Filter) -> Result<(Vec<Log>, Vec<Answer>), LogsError> {
        let answers = self
            .ask_all(|p| async move {
                let mut logs = p.get_logs(filter).await?;
                // Nodes return logs in chain order; make sure of it (removed logs are dropped).
                logs.retain(|l| !l.removed);
                logs.sort_by_key(|l| (l.block_number, l.log_index));
                Ok(logs)
            })
            .await;
        let refused = answers
            .iter()
            .any(|(_, a)| a.as_ref().is_err_and(|e| e.as_error_resp().is_some()));
        let keyed: Vec<(&str, Result<Vec<LogKey>, String>)> = answers
            .iter()
            .map(|(u, a)| match a {
                Ok(logs) => (*u, Ok(logs.iter().map(LogKey::of).collect())),
                Err(e) => (*u, Err(error_text(e))),
            })
            .collect();
        let show = |k: &Vec<LogKey>| format!("{} logs, digest {}", k.len(), digest(k));
        let (agreed, dissent) = self
            .tally("the logs", keyed, show)
            .map_err(|e| LogsError { refused, error: e })?;
        let logs = answers
            .into_iter()
            .find_map(|(_, a)| {
                a.ok()
                    .filter(|l| l.iter().map(LogKey::of).eq(agreed.iter().cloned()))
            })
            .unwrap_or_default();
        Ok((logs, dissent))
    }

    /// The keccak-256 of the code at `address` in block `n`, as `quorum` endpoints agree.
    pub async fn code_hash(&self, address: Address, n: u64) -> Result<(B256, Vec<Answer>)> {
        let answers = self
            .ask_all(|p| async move {
                let code: Bytes = p
                    .client()
                    .request("eth_getCode", (address, BlockNumberOrTag::Number(n)))
                    .await?;
                Ok(if code.is_empty() {
                    B256::ZERO
                } else {
                    keccak256(&code)
                })
            })
            .await;
        self.tally(
            &format!("the code at {address} in block {n}"),
            stringify(answers),
            |h| {
                if h.is_zero() {
                    "no code".into()
                } else {
                    format!("code {h}")
                }
            },
        )
    }
}

/// Why the endpoints gave no agreed log list.
#[derive(Debug)]
pub struct LogsError {
    /// Some endpoint answered with an error response (e.g. a range too wide).
    pub refused: bool,
    /// The disagreement.
    pub error: RegistryError,
}

/// What of a log is compared across endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogKey {
    address: Address,
    topics: Vec<B256>,
    data: Bytes,
    block_hash: Option<B256>,
    block_number: Option<u64>,
    tx: Option<B256>,
    index: Option<u64>,
}

impl LogKey {
    fn of(l: &Log) -> Self {
        Self {
            address: l.address(),
            topics: l.topics().to_vec(),
            data: l.data().data.clone(),
            block_hash: l.block_hash,
            block_number: l.block_number,
            tx: l.transaction_hash,
            index: l.log_index,
        }
    }
}

/// A short digest of a log list, to tell lists apart in a report.
fn digest(keys: &[LogKey]) -> B256 {
    let mut bytes = Vec::new();
    for k in keys {
        bytes.extend_from_slice(k.address.as_slice());
        for t in &k.topics {
            bytes.extend_from_slice(t.as_slice());
        }
        bytes.extend_from_slice(&k.data);
        bytes.extend_from_slice(k.block_hash.unwrap_or_default().as_slice());
        bytes.extend_from_slice(&k.index.unwrap_or_default().to_be_bytes());
    }
    keccak256(&bytes)
}

/// Block `n`'s header from one endpoint, `hash` replaced by the hash of its fields (what a
/// node claims as the hash is never taken on its word).
async fn fetch_header(p: &DynProvider, n: u64) -> Result<Option<Header>, TransportError> {
    let h: Option<Header> = p
        .client()
        .request("eth_getBlockByNumber", (BlockNumberOrTag::Number(n), false))
        .await?;
    Ok(h.filter(|h| h.number == n).map(|mut h| {
        h.hash = h.inner.hash_slow();
        h
    }))
}

fn error_text(e: &TransportError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

fn stringify<T>(answers: Vec<(&str, Result<T, TransportError>)>) -> Vec<(&str, Result<T, String>)> {
    answers
        .into_iter()
        .map(|(u, a)| (u, a.map_err(|e| error_text(&e))))
        .collect()
}
