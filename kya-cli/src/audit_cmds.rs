//! `kya audit`: the receipt log's evidence, its anchors on chain, and the auditor's checks.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use kya_audit::{Anchor, Evidence, SignedReceipt, audit, explain};
use kya_log::{FileLog, NoteVerifier};
use kya_registry::{Address, B256, LogId, Registry, connect_http};

use crate::io::read_secret_key;
use crate::registry_cmds::{EthKey, Rpc, Target, eth_signer, read_deployment};

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCommand {
    /// Print the log's verifier key (`origin+keyid+key`), which auditors check checkpoints
    /// and receipts with.
    LogKey(LogKeyArgs),
    /// Write the evidence for one receipt: the receipt, a signed checkpoint that includes it
    /// (the smallest anchored one when anchors are given), its inclusion proof, and the
    /// consistency proofs from each anchor to the next and between the checkpoint and the
    /// anchors next to it.
    Prove(ProveArgs),
    /// Anchor the log's current checkpoint on chain (one transaction).
    Anchor(AnchorArgs),
    /// Read a log's anchored checkpoints from chain, as JSON for `kya audit verify`.
    Anchors(AnchorsArgs),
    /// Check evidence offline: signature and signer, inclusion, anchoring, consistency
    /// (exit 1 with the reason when a check fails).
    Verify(VerifyArgs),
    /// Tell a receipt's story in words.
    Explain(ExplainArgs),
    /// List, from receipts held, what a principal's agents did.
    List(ListArgs),
    /// Ask a validator (ERC-8004 Validation Registry) to check a receipt: the request hash
    /// is the receipt's digest. Sent by the agent's owner or operator.
    RequestValidation(RequestValidationArgs),
    /// Answer a validation request for a receipt, as the validator (0 failed … 100 passed).
    RespondValidation(RespondValidationArgs),
    /// The validators' verdicts on a receipt.
    Validations(ValidationsArgs),
}

#[derive(Args, Debug)]
pub(crate) struct RequestValidationArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The receipt (JSON bytes, `KYA-Receipt` text or evidence).
    #[arg(long, value_name = "FILE")]
    receipt: PathBuf,
    /// The agent's registry id.
    #[arg(long)]
    agent_id: kya_registry::U256,
    /// The validator asked.
    #[arg(long)]
    validator: Address,
    /// Where the validator finds the receipt and its evidence.
    #[arg(long, default_value = "")]
    uri: String,
}

#[derive(Args, Debug)]
pub(crate) struct RespondValidationArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The receipt validated.
    #[arg(long, value_name = "FILE")]
    receipt: PathBuf,
    /// The agent's registry id.
    #[arg(long)]
    agent_id: kya_registry::U256,
    /// The verdict, 0 (failed) to 100 (passed).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    response: u8,
    /// A tag for the kind of check (e.g. `re-execution`).
    #[arg(long, default_value = "")]
    tag: String,
    /// Where the validator's evidence is.
    #[arg(long, default_value = "")]
    uri: String,
}

#[derive(Args, Debug)]
pub(crate) struct ValidationsArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    target: Target,
    /// The receipt.
    #[arg(long, value_name = "FILE")]
    receipt: PathBuf,
    /// The agent's registry id.
    #[arg(long)]
    agent_id: kya_registry::U256,
    /// A validator asked (repeatable).
    #[arg(long, required = true)]
    validator: Vec<Address>,
}

#[derive(Args, Debug)]
pub(crate) struct LogKeyArgs {
    /// The log's origin (its name).
    #[arg(long)]
    origin: String,
    /// The receipt key file (Multikey).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct ProveArgs {
    /// The receipt log directory (the gateway's `log_dir`; the gateway must be stopped, or
    /// give a copy).
    #[arg(long, value_name = "DIR")]
    log: PathBuf,
    /// The receipt's index.
    #[arg(long)]
    index: u64,
    /// The receipt key file, which signs the checkpoint.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Anchors read with `kya audit anchors` (all of the log's: an auditor needs every one
    /// shown consistent with the next): the checkpoint is the smallest anchored one that
    /// includes the receipt.
    #[arg(long, value_name = "FILE")]
    anchors: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct AnchorArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    key: EthKey,
    #[command(flatten)]
    target: Target,
    /// The receipt log directory.
    #[arg(long, value_name = "DIR")]
    log: PathBuf,
    /// The log's origin.
    #[arg(long)]
    origin: String,
}

#[derive(Args, Debug)]
pub(crate) struct AnchorsArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    target: Target,
    /// The account that anchors the log (the merchant's).
    #[arg(long)]
    anchorer: Address,
    /// The log's origin.
    #[arg(long)]
    origin: String,
    /// The first block to read. From block 0 (the default) every anchor of the log is read,
    /// and their number is checked against the contract's count; an audit needs them all.
    #[arg(long, default_value_t = 0)]
    from_block: u64,
}

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// The evidence file (`kya audit prove`).
    evidence: PathBuf,
    /// The merchant's log verifier key (`kya audit log-key`).
    #[arg(long, value_name = "KEY")]
    log_key: String,
    /// The anchored checkpoints (`kya audit anchors`).
    #[arg(long, value_name = "FILE")]
    anchors: PathBuf,
    /// The credential chain the receipt names (JSON): verified as of the receipt's time
    /// under --policy, with --snapshot's registry facts (revocations mined later excluded).
    #[arg(long, value_name = "FILE", requires = "policy")]
    chain: Option<PathBuf>,
    /// The merchant's verifier policy, for --chain.
    #[arg(long, value_name = "FILE", requires = "chain")]
    policy: Option<PathBuf>,
    /// A registry snapshot, for --chain.
    #[arg(long, value_name = "FILE", requires = "chain")]
    snapshot: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct ExplainArgs {
    /// A receipt (its JSON bytes, or the base64url of a `KYA-Receipt` header) or evidence.
    file: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    /// The principal whose agents' receipts to list.
    #[arg(long)]
    principal: String,
    /// Receipt or evidence files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub(crate) fn run(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::LogKey(a) => {
            let key = read_secret_key(&a.key)?;
            println!("{}", NoteVerifier::new(&a.origin, key.public_key())?);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prove(a) => prove(a),
        AuditCommand::Anchor(a) => crate::io::runtime()?.block_on(anchor(a)),
        AuditCommand::Anchors(a) => crate::io::runtime()?.block_on(anchors(a)),
        AuditCommand::Verify(a) => verify(a),
        AuditCommand::Explain(a) => {
            print!("{}", explain(read_receipt(&a.file)?.receipt()));
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::List(a) => list(a),
        AuditCommand::RequestValidation(a) => crate::io::runtime()?.block_on(request_validation(a)),
        AuditCommand::RespondValidation(a) => crate::io::runtime()?.block_on(respond_validation(a)),
        AuditCommand::Validations(a) => crate::io::runtime()?.block_on(validations(a)),
    }
}

fn read_anchors(path: &Path) -> Result<Vec<Anchor>> {
    let bytes = crate::io::read_input(Some(path))?;
    serde_json::from_slice(&bytes).with_context(|| format!("anchors file {}", path.display()))
}

fn prove(a: ProveArgs) -> Result<ExitCode> {
    let log = FileLog::open(&a.log).with_context(|| format!("opening {}", a.log.display()))?;
    let key = read_secret_key(&a.key)?;
    let anchors = match &a.anchors {
        Some(path) => read_anchors(path)?,
        None => Vec::new(),
    };
    let evidence = kya_audit::prove(&log, &key, a.index, &anchors)?;
    println!("{}", serde_json::to_string_pretty(&evidence)?);
    Ok(ExitCode::SUCCESS)
}

async fn anchor(a: AnchorArgs) -> Result<ExitCode> {
    let (size, root) = {
        let log = FileLog::open(&a.log).with_context(|| format!("opening {}", a.log.display()))?;
        (log.size().0, log.root())
    };
    let provider = connect_http(&a.rpc.rpc_url, Some(eth_signer(&a.key)?))?;
    let reg = Registry::from_deployment(provider, read_deployment(&a.target.deployment)?);
    let tx = reg
        .anchor_checkpoint(
            LogId::from_origin(&a.origin),
            size,
            B256::from(*root.as_bytes()),
        )
        .await?;
    crate::registry_cmds::done(
        &a.rpc,
        &format!(
            "anchored {} at size {size} (root {}) in block {}, tx {}",
            a.origin,
            root.to_hex(),
            tx.block_number,
            tx.tx_hash
        ),
        serde_json::json!({
            "treeSize": size, "root": root.to_hex(),
            "block": tx.block_number, "tx": tx.tx_hash.to_string(), "gasUsed": tx.gas_used,
        }),
    )
}

async fn anchors(a: AnchorsArgs) -> Result<ExitCode> {
    let provider = connect_http(&a.rpc.rpc_url, None)?;
    let reg = Registry::from_deployment(provider, read_deployment(&a.target.deployment)?);
    let log_id = LogId::from_origin(&a.origin);
    // The contract says in which block the last anchor is: read the events up to it.
    let found = match reg.latest_checkpoint(a.anchorer, log_id).await? {
        Some(latest) if latest.block_number >= a.from_block => {
            let found = reg
                .checkpoint_anchors(
                    a.anchorer,
                    log_id,
                    a.from_block,
                    latest.block_number,
                    10_000,
                )
                .await?;
            // The contract counts the anchors: from block 0, a node that leaves one out is
            // caught here.
            if a.from_block == 0 && u64::try_from(found.len()).ok() != Some(latest.anchor_count) {
                bail!(
                    "the node returned {} anchor(s) of {}, the contract counts {}",
                    found.len(),
                    a.origin,
                    latest.anchor_count
                );
            }
            found
        }
        _ => Vec::new(),
    };
    let anchors: Vec<Anchor> = found
        .iter()
        .map(|x| Anchor {
            tree_size: x.tree_size,
            root: x.root.to_string(),
            block: x.block_number,
            tx: x.tx_hash.to_string(),
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&anchors)?);
    Ok(ExitCode::SUCCESS)
}

fn verify(a: VerifyArgs) -> Result<ExitCode> {
    let bytes = crate::io::read_input(Some(&a.evidence))?;
    let evidence: Evidence = serde_json::from_slice(&bytes)
        .with_context(|| format!("evidence file {}", a.evidence.display()))?;
    let key = NoteVerifier::parse(&a.log_key).context("--log-key")?;
    let audited = audit(&evidence, &key, &read_anchors(&a.anchors)?).and_then(|done| {
        match chain_check(&a, done.receipt.receipt())? {
            Some(agent) => Ok((done, Some(agent))),
            None => Ok((done, None)),
        }
    });
    match audited {
        Ok((done, agent)) => {
            let r = done.receipt.receipt();
            println!(
                "ok: receipt {} ({}) signed by the merchant's log key",
                r.activity.log.index,
                done.receipt.digest().to_hex()
            );
            println!(
                "ok: included in the checkpoint of size {}",
                done.checkpoint_size
            );
            println!(
                "ok: anchored at size {} in block {} (tx {}); {} anchored interval(s) shown consistent",
                done.anchor.tree_size, done.anchor.block, done.anchor.tx, done.consistent_intervals
            );
            if let Some(agent) = agent {
                println!(
                    "ok: chain {} valid at {} (agent {} acting for {})",
                    agent.chain_digest(),
                    r.decided_at,
                    agent.agent(),
                    agent.principal()
                );
            }
            print!("{}", explain(r));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("refused: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `--chain`: the chain the receipt names, as of its time.
fn chain_check(
    a: &VerifyArgs,
    receipt: &kya_audit::Receipt,
) -> Result<Option<kya_verify::VerifiedAgent>, kya_audit::AuditError> {
    let (Some(chain), Some(policy)) = (&a.chain, &a.policy) else {
        return Ok(None);
    };
    let read = |p: &Path| {
        crate::io::read_input(Some(p))
            .map_err(|e| kya_audit::AuditError::Evidence(format!("{}: {e}", p.display())))
    };
    let policy = kya_verify::Policy::from_json(&read(policy)?)
        .map_err(|e| kya_audit::AuditError::Evidence(format!("policy: {e}")))?;
    let registry: Option<std::sync::Arc<dyn kya_verify::RegistryView>> = match &a.snapshot {
        Some(path) => Some(std::sync::Arc::new(
            kya_verify::snapshot::Snapshot::load(&read(path)?)
                .map_err(|e| kya_audit::AuditError::Evidence(format!("snapshot: {e}")))?,
        )),
        None => None,
    };
    kya_audit::chain_at(receipt, &read(chain)?, policy, registry).map(Some)
}

/// A receipt from JSON bytes, base64url text (a `KYA-Receipt` header) or evidence.
fn read_receipt(path: &Path) -> Result<SignedReceipt> {
    let bytes = crate::io::read_input(Some(path))?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.starts_with('{') {
        if let Ok(evidence) = serde_json::from_str::<Evidence>(text) {
            let receipt = URL_SAFE_NO_PAD.decode(&evidence.receipt)?;
            return Ok(SignedReceipt::from_slice(&receipt)?);
        }
        return Ok(SignedReceipt::from_slice(text.as_bytes())?);
    }
    match URL_SAFE_NO_PAD.decode(text) {
        Ok(receipt) => Ok(SignedReceipt::from_slice(&receipt)?),
        Err(_) => bail!("{} is neither a receipt nor evidence", path.display()),
    }
}

fn list(a: ListArgs) -> Result<ExitCode> {
    let mut found = 0;
    for file in &a.files {
        let receipt = read_receipt(file).with_context(|| format!("{}", file.display()))?;
        let r = receipt.receipt();
        if r.activity.principal.as_deref() != Some(a.principal.as_str()) {
            continue;
        }
        found += 1;
        let req = &r.activity.request;
        println!(
            "{}  {}  {:?}  {} {}{}  {}",
            r.decided_at,
            r.agent
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            r.activity.decision.outcome,
            req.method,
            req.authority,
            req.path,
            req.amount
                .as_ref()
                .map(|m| format!("{} {}", m.value, m.asset))
                .unwrap_or_default()
        );
    }
    eprintln!("{found} receipt(s) of agents acting for {}", a.principal);
    Ok(ExitCode::SUCCESS)
}

fn request_hash(receipt: &Path) -> Result<kya_registry::RequestHash> {
    Ok(kya_registry::RequestHash::from(
        read_receipt(receipt)?.digest(),
    ))
}

async fn request_validation(a: RequestValidationArgs) -> Result<ExitCode> {
    let hash = request_hash(&a.receipt)?;
    let provider = connect_http(&a.rpc.rpc_url, Some(eth_signer(&a.key)?))?;
    let reg = Registry::from_deployment(provider, read_deployment(&a.target.deployment)?);
    let tx = reg
        .validation_request(a.validator, a.agent_id, &a.uri, hash)
        .await?;
    crate::registry_cmds::done(
        &a.rpc,
        &format!(
            "asked {} to validate receipt {} of agent {} (block {}, tx {})",
            a.validator,
            hash.to_b256(),
            a.agent_id,
            tx.block_number,
            tx.tx_hash
        ),
        serde_json::json!({"requestHash": hash.to_b256().to_string(), "block": tx.block_number, "tx": tx.tx_hash.to_string()}),
    )
}

async fn respond_validation(a: RespondValidationArgs) -> Result<ExitCode> {
    let hash = request_hash(&a.receipt)?;
    let provider = connect_http(&a.rpc.rpc_url, Some(eth_signer(&a.key)?))?;
    let reg = Registry::from_deployment(provider, read_deployment(&a.target.deployment)?);
    let tx = reg
        .validation_response(a.agent_id, hash, a.response, &a.uri, B256::ZERO, &a.tag)
        .await?;
    crate::registry_cmds::done(
        &a.rpc,
        &format!(
            "answered {} for receipt {} (block {}, tx {})",
            a.response,
            hash.to_b256(),
            tx.block_number,
            tx.tx_hash
        ),
        serde_json::json!({"response": a.response, "block": tx.block_number, "tx": tx.tx_hash.to_string()}),
    )
}

async fn validations(a: ValidationsArgs) -> Result<ExitCode> {
    let hash = request_hash(&a.receipt)?;
    let provider = connect_http(&a.rpc.rpc_url, None)?;
    let reg = Registry::from_deployment(provider, read_deployment(&a.target.deployment)?);
    let mut all = Vec::new();
    let mut text = String::new();
    for validator in &a.validator {
        let status = reg.validation_status(a.agent_id, *validator, hash).await?;
        match &status {
            None => text.push_str(&format!("{validator}: not asked\n")),
            Some(s) => match s.answers.last() {
                None => text.push_str(&format!("{validator}: asked, no answer yet\n")),
                Some(last) => text.push_str(&format!(
                    "{validator}: {} ({}), {} answer(s), last in block {}\n",
                    last.response,
                    if last.tag.is_empty() {
                        "no tag"
                    } else {
                        &last.tag
                    },
                    s.answers.len(),
                    last.block_number
                )),
            },
        }
        all.push(serde_json::to_value(&status)?);
    }
    crate::registry_cmds::done(&a.rpc, text.trim_end(), serde_json::Value::Array(all))
}
