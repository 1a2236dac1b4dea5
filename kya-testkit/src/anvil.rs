//! The local anvil node.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;

/// Why anvil could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnvilError {
    /// No anvil binary was found.
    #[error(
        "anvil not found ($KYA_ANVIL, .tools/bin/anvil under {}, PATH): run `cargo xtask install`",
        workspace.display()
    )]
    NotFound {
        /// Where `.tools/bin/anvil` was looked for.
        workspace: PathBuf,
    },
    /// Starting the process or creating its directory failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// anvil started but did not come up as expected.
    #[error("{0}")]
    Startup(String),
}

/// A running anvil; killed (and reaped) on drop.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    endpoint: String,
    keys: Vec<PrivateKeySigner>,
    // Dropped after `Drop::drop` has reaped the process, so anvil never writes into a
    // removed directory.
    home: tempfile::TempDir,
}

/// Finds the anvil binary: `$KYA_ANVIL`, then `.tools/bin/anvil` in `workspace` or any of
/// its ancestors, then `PATH`.
pub fn find_anvil(workspace: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KYA_ANVIL") {
        return Some(PathBuf::from(p));
    }
    for dir in workspace.ancestors() {
        let p = dir.join(".tools/bin/anvil");
        if p.is_file() {
            return Some(p);
        }
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("anvil"))
        .find(|p| p.is_file())
}

impl Anvil {
    /// Starts anvil (hardfork prague, 10 funded development accounts, automine) on a free
    /// port, with `extra` arguments; `workspace` is where to look for `.tools/bin/anvil`.
    pub fn spawn(workspace: &Path, extra: &[&str]) -> Result<Self, AnvilError> {
        let bin = find_anvil(workspace).ok_or_else(|| AnvilError::NotFound {
            workspace: workspace.to_path_buf(),
        })?;
        Self::spawn_bin(&bin, extra)
    }

    /// Starts the anvil binary at `bin` (see [`Anvil::spawn`]).
    pub fn spawn_bin(bin: &Path, extra: &[&str]) -> Result<Self, AnvilError> {
        let io = |context: String| move |source| AnvilError::Io { context, source };
        let home = tempfile::Builder::new()
            .prefix("kya-anvil-")
            .tempdir()
            .map_err(io("creating anvil's temporary home".into()))?;
        let mut child = Command::new(bin)
            .args(["--port", "0", "--hardfork", "prague", "--accounts", "10"])
            .args(extra)
            .env("HOME", home.path())
            .current_dir(home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io(format!(
                "starting {} (run `cargo xtask install`)",
                bin.display()
            )))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(AnvilError::Startup("anvil has no stdout".into()));
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut keys = Vec::new();
            let mut in_keys = false;
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sent {
                    continue; // keep draining so anvil never blocks on a full pipe
                }
                if line.starts_with("Private Keys") {
                    in_keys = true;
                } else if line.starts_with("Wallet") {
                    in_keys = false;
                } else if in_keys {
                    if let Some(k) = line
                        .split_whitespace()
                        .nth(1)
                        .filter(|k| k.starts_with("0x"))
                    {
                        keys.push(k.to_owned());
                    }
                } else if let Some(addr) = line.strip_prefix("Listening on ") {
                    let _ = tx.send((format!("http://{}", addr.trim()), std::mem::take(&mut keys)));
                    sent = true;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let (endpoint, keys) = loop {
            if let Ok(v) = rx.recv_timeout(Duration::from_millis(50)) {
                break v;
            }
            let failed = match child.try_wait() {
                Ok(Some(status)) => Some(format!("anvil exited early: {status}")),
                Ok(None) if Instant::now() > deadline => {
                    Some("anvil did not start within 30 s".into())
                }
                Ok(None) => None,
                Err(e) => Some(format!("waiting for anvil: {e}")),
            };
            if let Some(m) = failed {
                let _ = child.kill();
                let _ = child.wait();
                return Err(AnvilError::Startup(m));
            }
        };
        let keys = keys
            .iter()
            .filter_map(|k| k.parse::<PrivateKeySigner>().ok())
            .collect::<Vec<_>>();
        let anvil = Self {
            child,
            endpoint,
            keys,
            home,
        };
        if anvil.keys.is_empty() {
            return Err(AnvilError::Startup(
                "could not read anvil's development keys".into(),
            ));
        }
        Ok(anvil)
    }

    /// The JSON-RPC endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The funded development accounts' keys (public test keys: never use them elsewhere).
    pub fn keys(&self) -> &[PrivateKeySigner] {
        &self.keys
    }

    /// The node's temporary home and working directory (removed on drop).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
