//! A real local `redis-server`, single node or a 3-master Redis Cluster, on free loopback
//! ports, each node with its own temporary directory; killed (and reaped) on drop.
//!
//! `redis-server` and `redis-cli` are found at `$KYA_REDIS_SERVER` / `$KYA_REDIS_CLI`, then
//! on `PATH` (`scripts/install-tools.sh` installs Debian's package). Nodes run with the
//! durability kya recommends: `appendonly yes`, `appendfsync always`, no RDB snapshots
//! ([`Fsync::EverySec`] to measure what the weaker setting costs and saves).

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why Redis could not be started or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisError {
    /// No `redis-server` or `redis-cli` binary was found.
    #[error("{0} not found ($KYA_REDIS_SERVER / $KYA_REDIS_CLI, PATH): run `cargo xtask install`")]
    NotFound(&'static str),
    /// Starting a process, finding a port or creating a directory failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server or cluster did not come up (or down) as expected.
    #[error("{0}")]
    Startup(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RedisError {
    let context = context.into();
    move |source| RedisError::Io { context, source }
}

fn find(var: &str, name: &'static str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The `redis-server` binary, if installed.
pub fn find_redis_server() -> Option<PathBuf> {
    find("KYA_REDIS_SERVER", "redis-server")
}

/// The `redis-cli` binary, if installed.
pub fn find_redis_cli() -> Option<PathBuf> {
    find("KYA_REDIS_CLI", "redis-cli")
}

/// Whether tests may run against Redis: `true` when `redis-server` and `redis-cli` are
/// installed. When they are not, a test under CI (`CI` set) must fail, so this panics with
/// the reason; elsewhere it prints a notice and answers `false` (the caller skips).
#[allow(clippy::panic)]
pub fn available_or_skip(test: &str) -> bool {
    if find_redis_server().is_some() && find_redis_cli().is_some() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: redis-server/redis-cli not installed under CI: run `cargo xtask install`");
    }
    eprintln!(
        "NOTICE: {test} skipped: redis-server/redis-cli not installed (`cargo xtask install`)"
    );
    false
}

/// A free loopback port whose cluster bus port (`port + 10000`) is free too.
fn free_port() -> Result<u16, RedisError> {
    for _ in 0..64 {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("finding a free port"))?;
        let port = l.local_addr().map_err(io("finding a free port"))?.port();
        if port < 55_000 && TcpListener::bind((Ipv4Addr::LOCALHOST, port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    Err(RedisError::Startup("no free port pair for redis".into()))
}

/// Sends one command (inline form) and returns the raw reply, or `None` if the node does
/// not answer.
fn command(port: u16, line: &str) -> Option<String> {
    let addr = (Ipv4Addr::LOCALHOST, port).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.write_all(format!("{line}\r\n").as_bytes()).ok()?;
    let mut buf = vec![0u8; 8192];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// When Redis writes its append-only file to disk (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fsync {
    /// Before answering every write: nothing acknowledged is lost in a crash.
    Always,
    /// Once a second: a crash loses up to the last second of acknowledged writes.
    EverySec,
}

impl Fsync {
    fn value(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::EverySec => "everysec",
        }
    }
}

/// One running (or stopped) `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    bin: PathBuf,
    port: u16,
    cluster: bool,
    fsync: Fsync,
    child: Option<Child>,
    // Dropped after the process is reaped.
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a single node on a free loopback port.
    pub fn spawn() -> Result<Self, RedisError> {
        Self::spawn_node(false, Fsync::Always)
    }

    /// Starts a single node writing its append-only file as `fsync` says.
    pub fn spawn_with(fsync: Fsync) -> Result<Self, RedisError> {
        Self::spawn_node(false, fsync)
    }

    fn spawn_node(cluster: bool, fsync: Fsync) -> Result<Self, RedisError> {
        let bin = find_redis_server().ok_or(RedisError::NotFound("redis-server"))?;
        let mut last = None;
        for _ in 0..5 {
            let mut node = Self {
                bin: bin.clone(),
                port: free_port()?,
                cluster,
                fsync,
                child: None,
                dir: tempfile::Builder::new()
                    .prefix("kya-redis-")
                    .tempdir()
                    .map_err(io("creating redis's temporary directory"))?,
            };
            match node.start() {
                Ok(()) => return Ok(node),
                Err(e) => last = Some(e), // a port taken meanwhile: try another
            }
        }
        Err(last.unwrap_or_else(|| RedisError::Startup("redis did not start".into())))
    }

    /// (Re)starts the node on its port with its directory: what it persisted is loaded.
    pub fn start(&mut self) -> Result<(), RedisError> {
        if self.child.is_some() {
            return Ok(());
        }
        let port = self.port.to_string();
        let mut cmd = Command::new(&self.bin);
        cmd.args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "no",
        ])
        .args([
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            self.fsync.value(),
        ])
        .args(["--daemonize", "no", "--logfile", "redis.log"])
        .arg("--dir")
        .arg(self.dir.path());
        if self.cluster {
            cmd.args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
            .args(["--cluster-node-timeout", "2000"]);
        }
        let child = cmd
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io(format!("starting {}", self.bin.display())))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if command(self.port, "PING").is_some_and(|r| r.starts_with("+PONG")) {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                self.kill();
                let log =
                    std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(RedisError::Startup(format!(
                    "redis-server on port {} did not start: {}",
                    self.port,
                    tail.join(" | ")
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the node the orderly way (`SHUTDOWN`: the append-only file is flushed), and
    /// waits for the process to exit.
    pub fn shutdown(&mut self) -> Result<(), RedisError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = command(self.port, "SHUTDOWN");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(RedisError::Startup(format!(
                        "redis-server on port {} did not shut down",
                        self.port
                    )));
                }
            }
        }
    }

    /// Kills the node (SIGKILL, as a crash would) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The node's directory (its append-only file, its log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends one inline command (`DBSIZE`, `CONFIG GET appendonly`) and returns the raw
    /// RESP reply, or `None` if the node does not answer.
    pub fn query(&self, line: &str) -> Option<String> {
        command(self.port, line)
    }

    /// Whether the process runs.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A 3-master Redis Cluster (no replicas) on loopback, created with
/// `redis-cli --cluster create`.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled nodes, creates the cluster and waits until every node
    /// reports `cluster_state:ok`.
    pub fn spawn() -> Result<Self, RedisError> {
        Self::spawn_with(Fsync::Always)
    }

    /// Starts the cluster, each node writing its append-only file as `fsync` says.
    pub fn spawn_with(fsync: Fsync) -> Result<Self, RedisError> {
        let cli = find_redis_cli().ok_or(RedisError::NotFound("redis-cli"))?;
        let nodes = (0..3)
            .map(|_| RedisServer::spawn_node(true, fsync))
            .collect::<Result<Vec<_>, _>>()?;
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new(&cli)
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(io(format!("running {}", cli.display())))?;
        if !out.status.success() {
            return Err(RedisError::Startup(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&out.stdout)
            )));
        }
        let cluster = Self { nodes };
        cluster.wait_ok()?;
        Ok(cluster)
    }

    /// Waits until every running node reports `cluster_state:ok`.
    pub fn wait_ok(&self) -> Result<(), RedisError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ok = self.nodes.iter().all(|n| {
                command(n.port, "CLUSTER INFO").is_some_and(|r| r.contains("cluster_state:ok"))
            });
            if ok {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(RedisError::Startup(
            "the cluster did not reach cluster_state:ok".into(),
        ))
    }

    /// `redis+cluster://127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>` (kya-redis's form).
    pub fn url(&self) -> String {
        let addrs: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", addrs.join(","))
    }

    /// The nodes (to stop and restart them).
    pub fn nodes_mut(&mut self) -> &mut [RedisServer] {
        &mut self.nodes
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }
}
