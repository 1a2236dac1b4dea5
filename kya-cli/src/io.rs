//! Input, output and the readable forms of what the CLI prints.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use kya_core::credential::{AgentRegistration, CredentialKind};
use kya_core::json::{JsonLimits, parse_i_json, parse_strict};
use kya_core::{CredentialDigest, MultikeyFile, SecretKey};
use serde_json::{Value, json};

/// Reads a file, or standard input for `None` or `-`, up to 16 MiB.
pub(crate) fn read_input(path: Option<&Path>) -> Result<Vec<u8>> {
    const MAX: u64 = 16 * 1024 * 1024;
    let mut bytes = Vec::new();
    match path {
        Some(p) if p.as_os_str() != "-" => {
            fs::File::open(p)
                .with_context(|| format!("cannot open {}", p.display()))?
                .take(MAX + 1)
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot read {}", p.display()))?;
        }
        _ => {
            std::io::stdin()
                .take(MAX + 1)
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
        }
    }
    if bytes.len() as u64 > MAX {
        bail!("input is over {MAX} bytes");
    }
    Ok(bytes)
}

/// Which numbers a JSON input may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Numbers {
    /// kya's own documents: integers within ±(2^53 − 1) ([`parse_strict`]).
    Kya,
    /// Any document the generic proof commands sign or verify: every I-JSON number
    /// ([`parse_i_json`]).
    IJson,
}

/// Reads and strictly parses JSON (duplicate keys, depth and size refused).
pub(crate) fn read_json(path: Option<&Path>) -> Result<Value> {
    read_json_with(path, Numbers::Kya)
}

/// Reads and strictly parses JSON with the given number rule.
pub(crate) fn read_json_with(path: Option<&Path>, numbers: Numbers) -> Result<Value> {
    let bytes = read_input(path)?;
    let shown = path.map_or_else(|| "standard input".to_owned(), |p| p.display().to_string());
    let parsed = match numbers {
        Numbers::Kya => parse_strict(&bytes, JsonLimits::default()),
        Numbers::IJson => parse_i_json(&bytes, JsonLimits::default()),
    };
    parsed.with_context(|| format!("{shown}: not valid json"))
}

/// Reads a JSON document or an array of them (a credential chain, root first) as a list.
pub(crate) fn read_documents(path: Option<&Path>) -> Result<Vec<Value>> {
    read_documents_with(path, Numbers::Kya)
}

/// [`read_documents`] with the given number rule.
pub(crate) fn read_documents_with(path: Option<&Path>, numbers: Numbers) -> Result<Vec<Value>> {
    Ok(match read_json_with(path, numbers)? {
        Value::Array(items) => items,
        single => vec![single],
    })
}

/// Prints JSON, pretty, followed by a newline.
pub(crate) fn write_json(value: &Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Writes a secret file atomically with owner-only permissions (or to stdout for `-`).
pub(crate) fn write_secret_file(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        writeln!(out)?;
        return Ok(());
    }
    if path.exists() && !force {
        bail!("{} exists; pass --force to overwrite it", path.display());
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        std::process::id()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| -> Result<()> {
        let mut f = options
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a Multikey file.
pub(crate) fn read_key_file(path: &Path) -> Result<MultikeyFile> {
    let bytes = read_input(Some(path))?;
    MultikeyFile::from_json(&bytes).with_context(|| format!("key file {}", path.display()))
}

/// Reads the secret key of a Multikey file.
pub(crate) fn read_secret_key(path: &Path) -> Result<SecretKey> {
    read_key_file(path)?
        .secret_key()
        .with_context(|| format!("key file {}", path.display()))
}

/// A single-threaded async runtime for one command's network calls.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Parses `90s`, `30m`, `12h`, `30d` (or plain seconds) into seconds.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 90s, 30m, 12h or 30d"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}`: unit must be s, m, h or d")),
    };
    n.checked_mul(factor)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("`{s}` is out of range"))
}

/// Parses `eip155:<chain>:<address>#<agent id>`.
pub(crate) fn parse_registration(s: &str) -> Result<AgentRegistration, String> {
    let (registry, id) = s
        .split_once('#')
        .ok_or_else(|| format!("`{s}`: expected eip155:<chain>:<registry>#<agent id>"))?;
    Ok(AgentRegistration {
        agent_registry: registry.parse().map_err(|e| format!("{e}"))?,
        agent_id: id.parse().map_err(|e| format!("{e}"))?,
    })
}

/// A machine-readable summary of one credential.
pub(crate) fn summary_json(
    index: usize,
    kind: &CredentialKind,
    digest: &CredentialDigest,
    proof: &Result<(), String>,
) -> Value {
    let mut v = json!({
        "index": index,
        "type": kind.type_name(),
        "id": kind.id(),
        "issuer": kind.issuer().to_string(),
        "subject": kind.subject().to_string(),
        "validFrom": kind.valid_from().to_string(),
        "validUntil": kind.valid_until().map(|t| t.to_string()),
        "digest": digest.to_hex(),
        "grants": kind.grants(),
        "proofValid": proof.is_ok(),
    });
    if let Err(e) = proof {
        v["proofError"] = e.clone().into();
    }
    if let Some(r) = kind.registration() {
        v["registration"] = json!(r);
    }
    if let CredentialKind::Delegation(d) = kind {
        v["parent"] = json!({"id": d.parent.id, "digest": d.parent.digest.to_hex()});
    }
    if let CredentialKind::Reputation(r) = kind {
        v["value"] = r.value.to_string().into();
        v["valueDecimals"] = r.value_decimals.into();
        v["tag1"] = r.tag1.clone().into();
        v["tag2"] = r.tag2.clone().into();
    }
    v
}

/// A readable summary of one credential.
pub(crate) fn summary_text(
    index: usize,
    kind: &CredentialKind,
    digest: &CredentialDigest,
    proof: &Result<(), String>,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let verb = match kind {
        CredentialKind::Authorization(_) => "authorises",
        CredentialKind::Delegation(_) => "delegates to",
        CredentialKind::Reputation(_) => "rates",
        _ => "names",
    };
    let _ = writeln!(s, "[{index}] {} {}", kind.type_name(), kind.id());
    let _ = writeln!(s, "    {} {verb} {}", kind.issuer(), kind.subject());
    let _ = writeln!(
        s,
        "    valid {} – {}",
        kind.valid_from(),
        kind.valid_until()
            .map_or_else(|| "(no end)".to_owned(), |t| t.to_string())
    );
    if let Some(r) = kind.registration() {
        let _ = writeln!(
            s,
            "    registered as agent {} at {}",
            r.agent_id, r.agent_registry
        );
    }
    if let CredentialKind::Delegation(d) = kind {
        let _ = writeln!(
            s,
            "    parent {} (digest {})",
            d.parent.id,
            d.parent.digest.to_hex()
        );
    }
    if let CredentialKind::Reputation(r) = kind {
        let _ = writeln!(
            s,
            "    score {} (decimals {}) tags [{}] [{}]",
            r.value, r.value_decimals, r.tag1, r.tag2
        );
    }
    for g in kind.grants() {
        let _ = writeln!(
            s,
            "    may: {}",
            serde_json::to_string(g).unwrap_or_default()
        );
    }
    let _ = writeln!(s, "    digest {}", digest.to_hex());
    match proof {
        Ok(()) => {
            let _ = writeln!(s, "    proof: valid");
        }
        Err(e) => {
            let _ = writeln!(s, "    proof: INVALID: {e}");
        }
    }
    s
}
