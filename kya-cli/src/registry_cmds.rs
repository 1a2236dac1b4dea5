//! `kya registry …`: the on-chain registry from the shell (kya-registry).
//!
//! Ethereum keys come from a file (`--eth-key-file`) or an environment variable
//! (`KYA_ETH_KEY`, or the one named by `--eth-key-env`) — never from a flag, which would
//! land in the shell history. Ed25519 keys are kya Multikey files (or, where only the public
//! key is needed, a `did:key`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use kya_core::credential::UnverifiedCredential;
use kya_core::{CredentialDigest, DidKey, PublicKey};
use kya_registry::{
    Address, B256, Deployment, Erc8004Registry, NewAgent, NewFeedbackEntry, PrivateKeySigner,
    Registry, U256, connect_http,
};
use serde_json::{Value, json};

use crate::io::{read_input, read_key_file};

/// The local anvil the demo starts.
const DEFAULT_RPC: &str = "http://127.0.0.1:8545";

/// `kya registry` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum RegistryCommand {
    /// Deploy the identity and reputation registries; print (and optionally save) the addresses.
    Deploy(DeployArgs),
    /// Register an agent (owned by the Ethereum key), optionally binding its Ed25519 key.
    Register(RegisterArgs),
    /// Bind an Ed25519 key to an agent.
    BindKey(BindKeyArgs),
    /// Replace an agent's Ed25519 key (the old one is retired for good).
    RotateKey(RotateKeyArgs),
    /// Set (or clear) an agent's ERC-8004 wallet: the account its payments come from. The
    /// new wallet consents by signing with its own key (--wallet-key-file).
    SetWallet(SetWalletArgs),
    /// Bind an Ed25519 issuing key to the Ethereum key's own address (a did:pkh principal).
    BindPrincipalKey(BindPrincipalKeyArgs),
    /// Revoke a credential of an agent (by digest or file), or unbind one of its keys.
    Revoke(RevokeArgs),
    /// Revoke, as its issuer, a credential the Ethereum key's own address issued (a did:pkh
    /// principal's authorisation), whoever owns the agent.
    RevokeIssued(RevokeIssuedArgs),
    /// Give (or revoke) ERC-8004 feedback to an agent.
    Feedback(FeedbackArgs),
    /// Show an agent: owner, URI, wallet, keys (and a reputation summary over given raters).
    Show(ShowArgs),
    /// Build or update an offline snapshot of the registry from its events, up to the
    /// finalized block, as a quorum of sources agrees.
    Sync(crate::registry_sync::SyncArgs),
    /// Re-derive a snapshot from the chain at its block and compare (detects an edited file).
    VerifySnapshot(VerifySnapshotArgs),
    /// Fetch EIP-1186 storage proofs of registry facts (keys bound, credentials revoked) at a
    /// block a quorum agrees on: an auditor's report that stands on its own.
    Prove(crate::registry_sync::ProveArgs),
    /// Check a report of `kya registry prove` offline (exit 1 when a proof fails).
    VerifyProof(crate::registry_sync::VerifyProofArgs),
}

#[derive(Args, Debug)]
pub(crate) struct Rpc {
    /// JSON-RPC endpoint.
    #[arg(long, value_name = "URL", default_value = DEFAULT_RPC, env = "KYA_RPC_URL")]
    pub(crate) rpc_url: String,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct EthKey {
    /// A file holding the Ethereum private key (0x + 64 hex digits).
    #[arg(long, value_name = "FILE")]
    pub(crate) eth_key_file: Option<PathBuf>,
    /// The environment variable holding the Ethereum private key.
    #[arg(long, value_name = "NAME", default_value = "KYA_ETH_KEY")]
    pub(crate) eth_key_env: String,
}

#[derive(Args, Debug)]
pub(crate) struct Target {
    /// The deployment file written by `kya registry deploy --out`.
    #[arg(long, value_name = "FILE", default_value = "registry.json")]
    pub(crate) deployment: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    /// Write the deployment file here (read by the other commands with --deployment).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct RegisterArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The agent URI (its ERC-8004 registration file).
    #[arg(long, value_name = "URI", default_value = "")]
    uri: String,
    /// Metadata entries `key=value` (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// The agent's Ed25519 key to bind (Multikey file or did:key).
    #[arg(long, value_name = "KEYFILE|DID")]
    agent_key: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct BindKeyArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The agent id.
    #[arg(long, value_name = "ID")]
    agent_id: U256,
    /// The Ed25519 key to bind (Multikey file or did:key).
    #[arg(long, value_name = "KEYFILE|DID")]
    agent_key: String,
}

#[derive(Args, Debug)]
pub(crate) struct RotateKeyArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The agent id.
    #[arg(long, value_name = "ID")]
    agent_id: U256,
    /// The key bound now (Multikey file or did:key).
    #[arg(long, value_name = "KEYFILE|DID")]
    old_key: String,
    /// The key to bind instead (Multikey file or did:key).
    #[arg(long, value_name = "KEYFILE|DID")]
    new_key: String,
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("wallet").required(true).args(["wallet_key_file", "unset"]))]
pub(crate) struct SetWalletArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The agent id.
    #[arg(long, value_name = "ID")]
    agent_id: U256,
    /// A file holding the new wallet's Ethereum private key (0x + 64 hex digits); it signs
    /// its consent only, and sends nothing.
    #[arg(long, value_name = "FILE")]
    wallet_key_file: Option<PathBuf>,
    /// Clear the agent's wallet instead.
    #[arg(long)]
    unset: bool,
}

#[derive(Args, Debug)]
pub(crate) struct BindPrincipalKeyArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The issuing key (Multikey file or did:key).
    #[arg(long, value_name = "KEYFILE|DID")]
    issuing_key: String,
    /// Unbind it (for good) instead.
    #[arg(long)]
    unbind: bool,
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["digest", "credential", "agent_key"]))]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The agent id.
    #[arg(long, value_name = "ID")]
    agent_id: U256,
    /// The credential digest (0x + 64 hex, or a `u…` digestMultibase).
    #[arg(long, value_name = "DIGEST")]
    digest: Option<CredentialDigest>,
    /// The credential file (its digest is revoked).
    #[arg(long, value_name = "FILE")]
    credential: Option<PathBuf>,
    /// Unbind this Ed25519 key of the agent for good instead (Multikey file or did:key).
    #[arg(long, value_name = "KEYFILE|DID")]
    agent_key: Option<String>,
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["digest", "credential"]))]
pub(crate) struct RevokeIssuedArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The credential digest (0x + 64 hex, or a `u…` digestMultibase).
    #[arg(long, value_name = "DIGEST")]
    digest: Option<CredentialDigest>,
    /// The credential file (its digest is revoked; for a chain, its root).
    #[arg(long, value_name = "FILE")]
    credential: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct VerifySnapshotArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    sources: crate::registry_sync::SourceArgs,
    #[command(flatten)]
    target: Target,
    /// The snapshot file to check.
    #[arg(long, value_name = "FILE")]
    snapshot: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct FeedbackArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The agent id.
    #[arg(long, value_name = "ID")]
    agent_id: U256,
    /// The score, fixed point (with --decimals).
    #[arg(
        long,
        allow_negative_numbers = true,
        required_unless_present = "revoke"
    )]
    value: Option<i128>,
    /// Decimal places of the value (0–18).
    #[arg(long, default_value_t = 0)]
    decimals: u8,
    /// First tag.
    #[arg(long, default_value = "")]
    tag1: String,
    /// Second tag.
    #[arg(long, default_value = "")]
    tag2: String,
    /// The endpoint the feedback is about.
    #[arg(long, default_value = "")]
    endpoint: String,
    /// A feedback file URI.
    #[arg(long, value_name = "URI", default_value = "")]
    feedback_uri: String,
    /// Revoke your feedback with this index instead.
    #[arg(long, value_name = "INDEX", conflicts_with = "value")]
    revoke: Option<u64>,
}

#[derive(Args, Debug)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    rpc: Rpc,
    /// The deployment file (ignored when --identity is given).
    #[arg(long, value_name = "FILE", default_value = "registry.json")]
    deployment: PathBuf,
    /// Read any ERC-8004 identity registry at this address (ERC-8004 functions only).
    #[arg(long, value_name = "ADDRESS", requires = "reputation")]
    identity: Option<Address>,
    /// The ERC-8004 reputation registry paired with --identity.
    #[arg(long, value_name = "ADDRESS")]
    reputation: Option<Address>,
    /// The agent id.
    #[arg(long, value_name = "ID")]
    agent_id: U256,
    /// Raters whose feedback to summarise (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    rater: Vec<Address>,
    /// Summary tag filter.
    #[arg(long, default_value = "")]
    tag1: String,
    /// Summary tag filter.
    #[arg(long, default_value = "")]
    tag2: String,
}

/// Runs a `kya registry` command.
pub(crate) fn run(cmd: RegistryCommand) -> Result<ExitCode> {
    let rt = crate::io::runtime()?;
    rt.block_on(run_async(cmd))
}

async fn run_async(cmd: RegistryCommand) -> Result<ExitCode> {
    match cmd {
        RegistryCommand::Deploy(a) => deploy(a).await,
        RegistryCommand::Register(a) => register(a).await,
        RegistryCommand::BindKey(a) => {
            let reg = writer(&a.rpc, &a.key, &a.target)?;
            let key = public_key(&a.agent_key)?;
            let tx = reg.set_agent_key(a.agent_id, &key).await?;
            done(
                &a.rpc,
                &format!(
                    "bound {} to agent {}",
                    DidKey::from_public_key(key),
                    a.agent_id
                ),
                json!({"agentId": a.agent_id.to_string(), "key": key.to_multibase(), "tx": tx}),
            )
        }
        RegistryCommand::RotateKey(a) => {
            let reg = writer(&a.rpc, &a.key, &a.target)?;
            let (old, new) = (public_key(&a.old_key)?, public_key(&a.new_key)?);
            let tx = reg.rotate_agent_key(a.agent_id, &old, &new).await?;
            done(
                &a.rpc,
                &format!(
                    "agent {}: {} retired, {} bound (block {})",
                    a.agent_id,
                    DidKey::from_public_key(old),
                    DidKey::from_public_key(new),
                    tx.block_number
                ),
                json!({"agentId": a.agent_id.to_string(), "oldKey": old.to_multibase(), "newKey": new.to_multibase(), "tx": tx}),
            )
        }
        RegistryCommand::SetWallet(a) => set_wallet(a).await,
        RegistryCommand::BindPrincipalKey(a) => {
            let signer = eth_signer(&a.key)?;
            let principal = signer.address();
            let reg = writer_with(&a.rpc, signer, &a.target)?;
            let key = public_key(&a.issuing_key)?;
            let did = kya_core::DidPkh::new(reg.deployment().chain_id, principal.into_array());
            let tx = if a.unbind {
                reg.unbind_principal_key(&key).await?
            } else {
                reg.bind_principal_key(&key).await?
            };
            let verb = if a.unbind { "unbound from" } else { "bound to" };
            done(
                &a.rpc,
                &format!("{} {verb} {did}", DidKey::from_public_key(key)),
                json!({"principal": did.to_string(), "key": key.to_multibase(), "bound": !a.unbind, "tx": tx}),
            )
        }
        RegistryCommand::Revoke(a) => revoke(a).await,
        RegistryCommand::RevokeIssued(a) => revoke_issued(a).await,
        RegistryCommand::Feedback(a) => feedback(a).await,
        RegistryCommand::Show(a) => show(a).await,
        RegistryCommand::Sync(a) => crate::registry_sync::sync(a).await,
        RegistryCommand::VerifySnapshot(a) => verify_snapshot(a).await,
        RegistryCommand::Prove(a) => crate::registry_sync::prove(a).await,
        RegistryCommand::VerifyProof(a) => crate::registry_sync::verify_proof(a),
    }
}

async fn deploy(a: DeployArgs) -> Result<ExitCode> {
    let provider = connect_http(&a.rpc.rpc_url, Some(eth_signer(&a.key)?))?;
    let reg = Registry::deploy(provider)
        .await
        .with_context(|| format!("deploying to {}", a.rpc.rpc_url))?;
    let d = *reg.deployment();
    if let Some(out) = &a.out {
        d.write(out)?;
    }
    let mut text = format!(
        "identity registry:   {}\nreputation registry: {}\nchain id: {}, deployed at block {}",
        d.agent_registry(),
        d.reputation_registry(),
        d.chain_id,
        d.from_block
    );
    if let Some(out) = &a.out {
        text.push_str(&format!("\nwrote {}", out.display()));
    }
    done(&a.rpc, &text, serde_json::to_value(d)?)
}

async fn register(a: RegisterArgs) -> Result<ExitCode> {
    let reg = writer(&a.rpc, &a.key, &a.target)?;
    let metadata = a
        .metadata
        .iter()
        .map(|m| {
            m.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
                .ok_or_else(|| anyhow!("--metadata `{m}`: expected KEY=VALUE"))
        })
        .collect::<Result<Vec<_>>>()?;
    let key = a.agent_key.as_deref().map(public_key).transpose()?;
    let r = reg
        .register(&NewAgent {
            uri: a.uri.clone(),
            metadata,
            key,
        })
        .await?;
    let registration = reg.deployment().registration(r.agent_id);
    let text = format!(
        "registered agent {} ({}#{}) in block {}{}",
        r.agent_id,
        registration.agent_registry,
        registration.agent_id,
        r.tx.block_number,
        key.map(|k| format!(", key {}", DidKey::from_public_key(k)))
            .unwrap_or_default()
    );
    done(
        &a.rpc,
        &text,
        json!({
            "agentId": r.agent_id.to_string(),
            "registration": registration,
            "key": key.map(|k| k.to_multibase()),
            "tx": r.tx,
        }),
    )
}

async fn revoke(a: RevokeArgs) -> Result<ExitCode> {
    let reg = writer(&a.rpc, &a.key, &a.target)?;
    if let Some(k) = &a.agent_key {
        let key = public_key(k)?;
        let tx = reg.revoke_agent_key(a.agent_id, &key).await?;
        return done(
            &a.rpc,
            &format!(
                "unbound {} from agent {} for good (block {})",
                DidKey::from_public_key(key),
                a.agent_id,
                tx.block_number
            ),
            json!({"agentId": a.agent_id.to_string(), "key": key.to_multibase(), "tx": tx}),
        );
    }
    let digest = match (&a.digest, &a.credential) {
        (Some(d), _) => *d,
        (None, Some(path)) => {
            let bytes = read_input(Some(path))?;
            let value =
                kya_core::json::parse_strict(&bytes, kya_core::json::JsonLimits::default())?;
            // A chain: the last link is the credential revoked.
            let value = match value {
                Value::Array(mut items) => items.pop().context("the chain is empty")?,
                single => single,
            };
            UnverifiedCredential::from_value(value)
                .and_then(|c| c.digest())
                .with_context(|| format!("credential {}", path.display()))?
        }
        (None, None) => bail!("give --digest, --credential or --agent-key"),
    };
    let tx = reg.revoke_credential(a.agent_id, &digest).await?;
    done(
        &a.rpc,
        &format!(
            "revoked credential {digest} of agent {} (block {})",
            a.agent_id, tx.block_number
        ),
        json!({"agentId": a.agent_id.to_string(), "digest": digest.to_hex(), "tx": tx}),
    )
}

async fn revoke_issued(a: RevokeIssuedArgs) -> Result<ExitCode> {
    let reg = writer(&a.rpc, &a.key, &a.target)?;
    let digest = match (&a.digest, &a.credential) {
        (Some(d), _) => *d,
        (None, Some(path)) => {
            let bytes = read_input(Some(path))?;
            let value =
                kya_core::json::parse_strict(&bytes, kya_core::json::JsonLimits::default())?;
            // A chain: its root is what a principal issued.
            let value = match value {
                Value::Array(items) => items.into_iter().next().context("the chain is empty")?,
                single => single,
            };
            UnverifiedCredential::from_value(value)
                .and_then(|c| c.digest())
                .with_context(|| format!("credential {}", path.display()))?
        }
        (None, None) => bail!("give --digest or --credential"),
    };
    let tx = reg.revoke_issued_credential(&digest).await?;
    done(
        &a.rpc,
        &format!(
            "revoked credential {digest} as its issuer (block {})",
            tx.block_number
        ),
        json!({"digest": digest.to_hex(), "asIssuer": true, "tx": tx}),
    )
}

async fn verify_snapshot(a: VerifySnapshotArgs) -> Result<ExitCode> {
    let d = read_deployment(&a.target.deployment)?;
    let bytes =
        std::fs::read(&a.snapshot).with_context(|| format!("reading {}", a.snapshot.display()))?;
    let snapshot = kya_registry::Snapshot::load(&bytes)
        .with_context(|| format!("{}", a.snapshot.display()))?;
    if snapshot.chain_id() != d.chain_id
        || snapshot.identity_registry() != d.identity.into_array()
        || snapshot.reputation_registry() != d.reputation.into_array()
        || snapshot.validation_registry() != d.validation.map(|a| a.into_array())
    {
        bail!(
            "{} is a snapshot of other registries than the deployment's",
            a.snapshot.display()
        );
    }
    let sources = a.sources.sources(&a.rpc)?;
    let check = kya_registry::verify_snapshot_sources(&sources, &snapshot, d.from_block).await?;
    let (ok, text, verdict) = match check {
        kya_registry::SnapshotCheck::Matches { block } => (
            true,
            format!(
                "{}: matches the chain at block {block}",
                a.snapshot.display()
            ),
            "matches",
        ),
        kya_registry::SnapshotCheck::BlockNotOnChain { block } => (
            false,
            format!(
                "{}: block {block} (its hash) is not on this chain",
                a.snapshot.display()
            ),
            "block_not_on_chain",
        ),
        kya_registry::SnapshotCheck::Differs { block } => (
            false,
            format!(
                "{}: differs from the chain at block {block} (edited, or a node lied)",
                a.snapshot.display()
            ),
            "differs",
        ),
        _ => (
            false,
            format!("{}: unknown result", a.snapshot.display()),
            "unknown",
        ),
    };
    if a.rpc.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"snapshot": a.snapshot, "result": verdict}))?
        );
    } else if ok {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn feedback(a: FeedbackArgs) -> Result<ExitCode> {
    let reg = writer(&a.rpc, &a.key, &a.target)?;
    if let Some(index) = a.revoke {
        let tx = reg.revoke_feedback(a.agent_id, index).await?;
        return done(
            &a.rpc,
            &format!("revoked feedback {index} to agent {}", a.agent_id),
            json!({"agentId": a.agent_id.to_string(), "index": index, "revoked": true, "tx": tx}),
        );
    }
    let value = a.value.context("give --value or --revoke")?;
    let given = reg
        .give_feedback(
            a.agent_id,
            &NewFeedbackEntry {
                value,
                value_decimals: a.decimals,
                tag1: a.tag1,
                tag2: a.tag2,
                endpoint: a.endpoint,
                feedback_uri: a.feedback_uri,
                feedback_hash: B256::ZERO,
            },
        )
        .await?;
    done(
        &a.rpc,
        &format!(
            "feedback {} to agent {} recorded (block {})",
            given.index, a.agent_id, given.tx.block_number
        ),
        json!({"agentId": a.agent_id.to_string(), "index": given.index, "tx": given.tx}),
    )
}

async fn show(a: ShowArgs) -> Result<ExitCode> {
    let provider = connect_http(&a.rpc.rpc_url, None)?;
    let (view, kya) = match (a.identity, a.reputation) {
        (Some(identity), Some(reputation)) => (
            Erc8004Registry::at(provider, identity, reputation).await?,
            None,
        ),
        _ => {
            let reg = Registry::from_deployment(provider, read_deployment(&a.deployment)?);
            (reg.erc8004(), Some(reg))
        }
    };
    let record = view.agent(a.agent_id).await?;
    let keys = match &kya {
        Some(reg) => Some(reg.agent_keys(a.agent_id).await?),
        None => None,
    };
    let summary = if a.rater.is_empty() {
        None
    } else {
        Some(view.summary(a.agent_id, &a.rater, &a.tag1, &a.tag2).await?)
    };
    if a.rpc.json {
        let keys = keys.as_ref().map(|ks| {
            ks.iter()
                .map(|k| {
                    json!({
                        "key": key_text(k.key),
                        "boundAt": k.bound_at,
                        "unboundAt": k.unbound_at,
                    })
                })
                .collect::<Vec<_>>()
        });
        let out = json!({
            "agentId": record.agent_id.to_string(),
            "registration": format!("eip155:{}:{}#{}", view.chain_id(), view.identity_address(), record.agent_id),
            "owner": record.owner,
            "agentURI": record.uri,
            "agentWallet": record.wallet,
            "keys": keys,
            "summary": summary,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "agent {} (eip155:{}:{})",
        record.agent_id,
        view.chain_id(),
        view.identity_address()
    )?;
    writeln!(out, "  owner:  {}", record.owner)?;
    writeln!(
        out,
        "  uri:    {}",
        if record.uri.is_empty() {
            "(none)"
        } else {
            &record.uri
        }
    )?;
    writeln!(
        out,
        "  wallet: {}",
        record
            .wallet
            .map(|w| w.to_string())
            .unwrap_or_else(|| "(none)".into())
    )?;
    match &keys {
        Some(keys) if keys.is_empty() => writeln!(out, "  keys:   (none)")?,
        Some(keys) => {
            writeln!(out, "  keys:")?;
            for k in keys {
                let until = k
                    .unbound_at
                    .map(|u| format!("unbound at block {u}"))
                    .unwrap_or_else(|| "bound".into());
                writeln!(
                    out,
                    "    {}  since block {}, {until}",
                    key_text(k.key),
                    k.bound_at
                )?;
            }
        }
        None => writeln!(out, "  keys:   (not a kya registry: ERC-8004 view only)")?,
    }
    if let Some(s) = summary {
        writeln!(
            out,
            "  reputation: {} feedback, average {}",
            s.count,
            fixed_point(s.average, s.value_decimals)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

// ---- helpers ----------------------------------------------------------------------------

/// Prints the text (or, with --json, the value) and succeeds.
pub(crate) fn done(rpc: &Rpc, text: &str, value: Value) -> Result<ExitCode> {
    if rpc.json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn set_wallet(a: SetWalletArgs) -> Result<ExitCode> {
    let reg = writer(&a.rpc, &a.key, &a.target)?;
    let Some(path) = &a.wallet_key_file else {
        let tx = reg.unset_agent_wallet(a.agent_id).await?;
        return done(
            &a.rpc,
            &format!("agent {}: wallet cleared", a.agent_id),
            json!({"agentId": a.agent_id.to_string(), "agentWallet": null, "tx": tx}),
        );
    };
    let wallet = eth_signer(&EthKey {
        eth_key_file: Some(path.clone()),
        eth_key_env: String::new(),
    })?;
    let tx = reg.set_agent_wallet(a.agent_id, &wallet).await?;
    done(
        &a.rpc,
        &format!("agent {}: wallet {}", a.agent_id, wallet.address()),
        json!({"agentId": a.agent_id.to_string(), "agentWallet": wallet.address(), "tx": tx}),
    )
}

/// The Ethereum signer: from --eth-key-file, else from the environment variable.
pub(crate) fn eth_signer(k: &EthKey) -> Result<PrivateKeySigner> {
    let (secret, origin) = match &k.eth_key_file {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("reading Ethereum key file {}", path.display()))?,
            path.display().to_string(),
        ),
        None => match std::env::var(&k.eth_key_env) {
            Ok(v) => (v, format!("${}", k.eth_key_env)),
            Err(_) => bail!(
                "no Ethereum key: give --eth-key-file FILE, or set the environment variable {}",
                k.eth_key_env
            ),
        },
    };
    let secret = zeroize::Zeroizing::new(secret);
    let hex = secret.trim();
    hex.parse::<PrivateKeySigner>()
        .map_err(|_| anyhow!("{origin} does not hold an Ethereum private key (0x + 64 hex digits)"))
}

fn writer(rpc: &Rpc, key: &EthKey, target: &Target) -> Result<Registry> {
    writer_with(rpc, eth_signer(key)?, target)
}

fn writer_with(rpc: &Rpc, signer: PrivateKeySigner, target: &Target) -> Result<Registry> {
    let d = read_deployment(&target.deployment)?;
    Ok(Registry::from_deployment(
        connect_http(&rpc.rpc_url, Some(signer))?,
        d,
    ))
}

pub(crate) fn read_deployment(path: &Path) -> Result<Deployment> {
    Deployment::read(path).with_context(|| {
        format!(
            "no deployment: run `kya registry deploy --out {}` first, or give --deployment FILE",
            path.display()
        )
    })
}

/// An Ed25519 public key from a `did:key` or a Multikey file.
pub(crate) fn public_key(arg: &str) -> Result<PublicKey> {
    if arg.starts_with("did:key:") {
        let did: DidKey = arg.parse().with_context(|| format!("`{arg}`"))?;
        return Ok(did.public_key());
    }
    let path = Path::new(arg);
    read_key_file(path)?
        .public_key()
        .with_context(|| format!("key file {}", path.display()))
}

/// A bound key as a did:key when it is an Ed25519 key, else its hex.
fn key_text(key: B256) -> String {
    PublicKey::from_bytes(&key.0)
        .map(|k| DidKey::from_public_key(k).to_string())
        .unwrap_or_else(|_| key.to_string())
}

/// `value` with `decimals` places, e.g. 875, 1 → "87.5".
fn fixed_point(value: i128, decimals: u8) -> String {
    if decimals == 0 {
        return value.to_string();
    }
    let digits = value.unsigned_abs().to_string();
    let d = usize::from(decimals);
    let padded = format!("{digits:0>width$}", width = d + 1);
    let (int, frac) = padded.split_at(padded.len() - d);
    format!("{}{int}.{frac}", if value < 0 { "-" } else { "" })
}
