//! Where the stores connect, and the small connection pool they share.

use std::sync::Mutex;
use std::time::Duration;

use kya_core::Did;
use redis::{ConnectionLike, FromRedisValue, RedisError, Script};
use sha2::{Digest as _, Sha256};

/// Why a store could not be set up or could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL names no Redis kya can use.
    #[error("redis url `{url}` is not usable: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The namespace could break the key layout (hash tags) or is empty.
    #[error("namespace `{0}` must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")]
    BadNamespace(String),
    /// Redis did not answer (unreachable, timed out, refused the command).
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    /// A key holds something kya did not write.
    #[error("redis holds `{value}` under `{key}`, which is not a kya record")]
    Corrupt {
        /// The key.
        key: String,
        /// What it holds.
        value: String,
    },
    /// A script answered something it never answers.
    #[error("unexpected script reply `{0}`")]
    Reply(String),
    /// The operating system's random generator failed (request tokens).
    #[error("no randomness for a request token: {0}")]
    Random(String),
}

/// Which Redis: one node, or a Redis Cluster reached through any of its seed nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// `redis://host:port[/db]`.
    Node(String),
    /// The seed nodes, each `redis://host:port`.
    Cluster(Vec<String>),
}

/// Where and how the stores connect.
///
/// ```
/// use kya_redis::{RedisConfig, Target};
/// let single = RedisConfig::from_url("redis://127.0.0.1:6379", "shop.example").unwrap();
/// assert_eq!(single.target(), &Target::Node("redis://127.0.0.1:6379".into()));
/// let cluster =
///     RedisConfig::from_url("redis+cluster://10.0.0.1:7000,10.0.0.2:7000", "shop.example").unwrap();
/// assert!(matches!(cluster.target(), Target::Cluster(seeds) if seeds.len() == 2));
/// assert!(RedisConfig::from_url("redis://127.0.0.1", "{shop}").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct RedisConfig {
    target: Target,
    namespace: String,
    connect_timeout: Duration,
    response_timeout: Duration,
    max_idle: usize,
}

impl RedisConfig {
    /// `redis://host:port[/db]` for one node, `redis+cluster://host:port,host:port,…` for a
    /// cluster; `namespace` separates this merchant's keys from others' in the same Redis.
    /// Connect and response timeouts default to 250 ms, the pool keeps up to 32 idle
    /// connections.
    pub fn from_url(url: &str, namespace: &str) -> Result<Self, RedisStoreError> {
        let bad = |reason: &str| RedisStoreError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let valid_ns = !namespace.is_empty()
            && namespace.len() <= 64
            && namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b));
        if !valid_ns {
            return Err(RedisStoreError::BadNamespace(namespace.to_owned()));
        }
        let target = if let Some(seeds) = url.strip_prefix("redis+cluster://") {
            let seeds: Vec<String> = seeds
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| format!("redis://{s}"))
                .collect();
            if seeds.is_empty() {
                return Err(bad("a cluster url names at least one host:port"));
            }
            Target::Cluster(seeds)
        } else if url.starts_with("redis://") {
            Target::Node(url.to_owned())
        } else {
            return Err(bad(
                "expected redis://host:port or redis+cluster://host:port,…",
            ));
        };
        Ok(Self {
            target,
            namespace: namespace.to_owned(),
            connect_timeout: Duration::from_millis(250),
            response_timeout: Duration::from_millis(250),
            max_idle: 32,
        })
    }

    /// Sets how long connecting may take.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long one command may wait for its answer.
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Sets how many idle connections the pool keeps.
    #[must_use]
    pub fn max_idle(mut self, n: usize) -> Self {
        self.max_idle = n;
        self
    }

    /// Which Redis.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// This merchant's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

enum Backend {
    Node(redis::Client),
    Cluster(redis::cluster::ClusterClient),
}

enum Conn {
    Node(redis::Connection),
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl Conn {
    fn like(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Self::Node(c) => c,
            Self::Cluster(c) => c.as_mut(),
        }
    }
}

/// Connections are made on demand (a merchant starts while Redis is down and answers
/// "unavailable" until it is back), kept idle for reuse, and dropped after any connection
/// error so that the next call reconnects.
pub(crate) struct Pool {
    backend: Backend,
    idle: Mutex<Vec<Conn>>,
    config: RedisConfig,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("target", &self.config.target)
            .field("namespace", &self.config.namespace)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(config: RedisConfig) -> Result<Self, RedisStoreError> {
        let backend = match &config.target {
            Target::Node(url) => Backend::Node(redis::Client::open(url.as_str())?),
            Target::Cluster(seeds) => Backend::Cluster(
                redis::cluster::ClusterClient::builder(seeds.clone())
                    .connection_timeout(config.connect_timeout)
                    .response_timeout(config.response_timeout)
                    // One retry inside the client (moved slots, a dropped connection): the
                    // scripts are idempotent per request token, so a retry never applies twice.
                    .retries(1)
                    .min_retry_wait(5)
                    .max_retry_wait(50)
                    .build()?,
            ),
        };
        Ok(Self {
            backend,
            idle: Mutex::new(Vec::new()),
            config,
        })
    }

    /// The hash tag of the merchant's keys for chains rooted at `principal`,
    /// `kya:{<namespace>:<principal hash>}`, which every key one script touches starts with:
    /// one cluster slot per (merchant, root principal), so that one script can record a
    /// request's nonce and charge its chain's budgets, and a Cluster spreads one merchant's
    /// principals over its masters. Sound because everything a request's script touches
    /// derives from its chain's root principal: the agent's and the principal's nonces, and
    /// every counter the chain charges (a credential names its parent by digest, so a
    /// counter's credential fixes its root principal, and a counter always gets the same
    /// name).
    pub(crate) fn tag(&self, principal: &Did) -> String {
        format!(
            "kya:{{{}:{}}}",
            self.config.namespace,
            principal_hash(principal)
        )
    }

    fn connect(&self) -> Result<Conn, RedisError> {
        match &self.backend {
            Backend::Node(client) => {
                let conn = client.get_connection_with_timeout(self.config.connect_timeout)?;
                conn.set_read_timeout(Some(self.config.response_timeout))?;
                conn.set_write_timeout(Some(self.config.response_timeout))?;
                Ok(Conn::Node(conn))
            }
            Backend::Cluster(client) => Ok(Conn::Cluster(Box::new(client.get_connection()?))),
        }
    }

    fn take(&self) -> Result<Conn, RedisError> {
        let idle = match self.idle.lock() {
            Ok(mut idle) => idle.pop(),
            Err(poisoned) => poisoned.into_inner().pop(),
        };
        match idle {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    fn give_back(&self, conn: Conn) {
        let mut idle = match self.idle.lock() {
            Ok(idle) => idle,
            Err(poisoned) => poisoned.into_inner(),
        };
        if idle.len() < self.config.max_idle {
            idle.push(conn);
        }
    }

    /// Runs `script` (EVALSHA, loading it on NOSCRIPT). A connection error or timeout is
    /// retried once on a fresh connection with the same keys and arguments: every script
    /// takes a request token and answers a repeat with its first answer, so the retry never
    /// applies anything twice.
    pub(crate) fn invoke<T: FromRedisValue>(
        &self,
        script: &Script,
        keys: &[String],
        args: &[String],
    ) -> Result<T, RedisStoreError> {
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(k);
        }
        for a in args {
            invocation.arg(a);
        }
        let mut last = None;
        for _ in 0..2 {
            let mut conn = match self.take() {
                Ok(conn) => conn,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            match off_the_executor(|| invocation.invoke::<T>(conn.like())) {
                Ok(v) => {
                    self.give_back(conn);
                    return Ok(v);
                }
                Err(e) if broken(&e) => last = Some(e),
                Err(e) => {
                    self.give_back(conn);
                    return Err(e.into());
                }
            }
        }
        Err(last
            .map(RedisStoreError::from)
            .unwrap_or_else(|| RedisStoreError::Reply("no attempt made".into())))
    }
}

/// Runs a blocking round trip. On a worker of a multi-thread tokio runtime (a server that
/// calls the sync store traits from async code), the worker's queued tasks move to another
/// thread first, so no request waits behind this one's round trip.
fn off_the_executor<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Whether the connection is unusable after `e` (drop it, reconnect).
fn broken(e: &RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_unrecoverable_error()
}

/// A fresh request token (128 random bits, hex).
pub(crate) fn token() -> Result<String, RedisStoreError> {
    use rand_core::RngCore as _;
    let mut bytes = [0u8; 16];
    rand_core::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| RedisStoreError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// A principal's part of a hash tag: hex of the first 12 bytes of SHA-256 of its DID (fixed
/// length, and free of `{`, `}` and the DID's own characters).
pub(crate) fn principal_hash(principal: &Did) -> String {
    let digest = Sha256::digest(principal.to_string().as_bytes());
    hex::encode(&digest[..12])
}
