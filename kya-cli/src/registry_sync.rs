//! `kya registry sync | verify-snapshot | prove | verify-proof`: the registry view a merchant
//! trusts (final blocks, a quorum of sources) and the evidence an auditor checks offline.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use kya_core::{CredentialDigest, PublicKey};
use kya_registry::proof::{Fact, ProofReport, read_report};
use kya_registry::{Address, B256, Follow, Sources, SyncEvent, SyncOptions, U256};
use serde_json::json;

use crate::registry_cmds::{Rpc, Target, done, read_deployment};

/// Where the registry is read from, and how many sources must agree.
#[derive(Args, Debug)]
pub(crate) struct SourceArgs {
    /// An RPC endpoint to read from; repeat it (or list them in KYA_RPC_URLS, comma-separated)
    /// for several sources (default: --rpc-url alone).
    #[arg(
        long = "rpc",
        value_name = "URL",
        env = "KYA_RPC_URLS",
        value_delimiter = ','
    )]
    rpcs: Vec<String>,
    /// How many endpoints must agree on every block hash, log list and contract code
    /// (default: a majority).
    #[arg(long, value_name = "N")]
    quorum: Option<usize>,
    /// Seconds one request may take; a request is tried at most 3 times per endpoint.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    request_timeout: u64,
}

impl SourceArgs {
    pub(crate) fn sources(&self, rpc: &Rpc) -> Result<Sources> {
        let urls = if self.rpcs.is_empty() {
            vec![rpc.rpc_url.clone()]
        } else {
            self.rpcs.clone()
        };
        let timeout = Duration::from_secs(self.request_timeout.max(1));
        Ok(Sources::connect(&urls, self.quorum, timeout)?)
    }
}

/// Which block a sync reads up to.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FollowArg {
    /// The chain's finalized block.
    Finalized,
    /// The chain's safe block (chains without finality).
    Safe,
    /// The head minus --confirmations (chains with neither).
    Latest,
}

#[derive(Args, Debug)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    sources: SourceArgs,
    #[command(flatten)]
    target: Target,
    /// The snapshot file: created if missing, else resumed; replaced atomically, never by a
    /// snapshot of an earlier block.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Which block to sync up to (default finalized; latest when --confirmations is given).
    #[arg(long, value_enum)]
    follow: Option<FollowArg>,
    /// With --follow latest: only sync up to head − N blocks.
    #[arg(long, value_name = "N")]
    confirmations: Option<u64>,
    /// Rebuild the snapshot when the sources' final history or genesis differs from it,
    /// instead of refusing.
    #[arg(long)]
    rebuild: bool,
    /// Blocks per eth_getLogs request (halved automatically when the node refuses).
    #[arg(long, value_name = "BLOCKS", default_value_t = kya_registry::DEFAULT_PAGE_SIZE)]
    page_size: u64,
    /// No progress on standard error.
    #[arg(long, short)]
    quiet: bool,
}

impl SyncArgs {
    fn follow(&self) -> Result<Follow> {
        Ok(match (self.follow, self.confirmations) {
            (None | Some(FollowArg::Latest), Some(n)) => Follow::Confirmations(n),
            (Some(FollowArg::Latest), None) => Follow::Confirmations(0),
            (None | Some(FollowArg::Finalized), None) => Follow::Finalized,
            (Some(FollowArg::Safe), None) => Follow::Safe,
            (Some(f), Some(_)) => bail!("--confirmations goes with --follow latest, not {f:?}"),
        })
    }
}

fn progress(quiet: bool) -> kya_registry::Progress {
    let started = std::time::Instant::now();
    Box::new(move |e: &SyncEvent| {
        if quiet {
            return;
        }
        match e {
            SyncEvent::Started { from, to, head } if from <= to => {
                eprintln!("sync: blocks {from}..={to} (head {head})");
            }
            SyncEvent::Started { to, .. } => eprintln!("sync: up to date at block {to}"),
            // A line per page once the sync takes more than a second, and the last one.
            SyncEvent::Page { through, to, logs }
                if started.elapsed().as_secs() >= 1 || through == to =>
            {
                eprintln!("sync: block {through}/{to}, {logs} events");
            }
            SyncEvent::PageHalved { page_size } => eprintln!(
                "sync: the node refused the range; retrying with {page_size} blocks per request"
            ),
            SyncEvent::Reorg {
                at,
                common_ancestor,
            } => eprintln!(
                "sync: chain reorganisation at block {at} (common ancestor {}); rebuilding the snapshot",
                common_ancestor
                    .map_or_else(|| "beyond the kept window".to_owned(), |b| b.to_string())
            ),
            SyncEvent::Outvoted { what, dissent } => {
                for d in dissent {
                    eprintln!("sync: outvoted on {what}: {d}");
                }
            }
            _ => {}
        }
    })
}

pub(crate) async fn sync(a: SyncArgs) -> Result<ExitCode> {
    let d = read_deployment(&a.target.deployment)?;
    let sources = a.sources.sources(&a.rpc)?;
    let mut options = SyncOptions {
        follow: a.follow()?,
        page_size: a.page_size,
        start_block: d.from_block,
        rebuild: a.rebuild,
        progress: Some(progress(a.quiet)),
        ..SyncOptions::default()
    };
    let (snapshot, report) =
        match kya_registry::sync_file_sources(&sources, &a.out, &d, &mut options).await {
            Ok(v) => v,
            Err(
                e @ (kya_registry::RegistryError::FinalityViolation { .. }
                | kya_registry::RegistryError::GenesisMismatch { .. }),
            ) => {
                return Err(anyhow::Error::new(e).context(format!(
                "{} is kept as it was; if this history is the right one, sync again with --rebuild",
                a.out.display()
            )));
            }
            Err(e) => return Err(e.into()),
        };
    let b = snapshot.block();
    let newer = b.number > report.to_block;
    let size = std::fs::metadata(&a.out)
        .map(|m| m.len())
        .unwrap_or_default();
    done(
        &a.rpc,
        &format!(
            "{} {} at block {} (hash 0x{}, state root 0x{}, {}; {} agents, {} events applied, {size} bytes, {:.2?}{})",
            if newer { "kept the newer" } else { "wrote" },
            a.out.display(),
            b.number,
            hex(b.hash),
            hex(b.state_root),
            b.timestamp,
            snapshot.agent_count(),
            report.logs,
            report.elapsed,
            if report.reorged {
                ", rebuilt after a reorg"
            } else {
                ""
            }
        ),
        json!({
            "snapshot": a.out,
            "block": b.number,
            "blockHash": format!("0x{}", hex(b.hash)),
            "stateRoot": format!("0x{}", hex(b.state_root)),
            "blockTime": b.timestamp.to_string(),
            "keptNewer": newer,
            "fromBlock": report.from_block,
            "agents": snapshot.agent_count(),
            "events": report.logs,
            "bytes": size,
            "reorged": report.reorged,
            "outvoted": report.outvoted.iter().map(|(what, d)| json!({
                "what": what,
                "dissent": d.iter().map(|a| json!({"endpoint": a.endpoint, "answer": a.answer})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "seconds": report.elapsed.as_secs_f64(),
        }),
    )
}

fn hex(b: [u8; 32]) -> String {
    B256::from(b)
        .to_string()
        .trim_start_matches("0x")
        .to_owned()
}

#[derive(Args, Debug)]
pub(crate) struct ProveArgs {
    #[command(flatten)]
    rpc: Rpc,
    #[command(flatten)]
    sources: SourceArgs,
    #[command(flatten)]
    target: Target,
    /// The block to prove at (default: the snapshot's block with --snapshot, else the
    /// finalized block).
    #[arg(long, value_name = "N")]
    block: Option<u64>,
    /// Prove at the block this snapshot reflects, and check its hash and state root.
    #[arg(long, value_name = "FILE")]
    snapshot: Option<PathBuf>,
    /// A key bound (or not) to an agent: AGENT_ID:KEY (KEY a did:key or Multikey file).
    #[arg(long, value_name = "AGENT_ID:KEY")]
    agent_key: Vec<String>,
    /// An issuing key bound (or not) to a wallet principal: ADDRESS:KEY.
    #[arg(long, value_name = "ADDRESS:KEY")]
    principal_key: Vec<String>,
    /// A credential revoked (or not) by an agent's owner: AGENT_ID:DIGEST.
    #[arg(long, value_name = "AGENT_ID:DIGEST")]
    revocation: Vec<String>,
    /// A credential revoked (or not) by its wallet issuer: ADDRESS:DIGEST.
    #[arg(long, value_name = "ADDRESS:DIGEST")]
    issuer_revocation: Vec<String>,
    /// Where to write the report (default: standard output).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn split(arg: &str) -> Result<(&str, &str)> {
    arg.split_once(':')
        .with_context(|| format!("`{arg}`: expected FIRST:SECOND"))
}

fn key_word(arg: &str) -> Result<B256> {
    let key: PublicKey = crate::registry_cmds::public_key(arg)?;
    Ok(B256::from(key.to_bytes()))
}

fn digest_word(arg: &str) -> Result<B256> {
    let d: CredentialDigest = arg.parse().with_context(|| format!("digest `{arg}`"))?;
    Ok(B256::from(d.0))
}

fn agent_id(s: &str) -> Result<U256> {
    s.parse().with_context(|| format!("agent id `{s}`"))
}

fn address(s: &str) -> Result<Address> {
    s.parse().with_context(|| format!("address `{s}`"))
}

/// Builds a fact from the two halves of a `FIRST:SECOND` argument.
type MakeFact = fn(&str, &str) -> Result<Fact>;

impl ProveArgs {
    fn facts(&self) -> Result<Vec<Fact>> {
        let kinds: [(&Vec<String>, MakeFact); 4] = [
            (&self.agent_key, |a, k| {
                Ok(Fact::AgentKey {
                    agent_id: agent_id(a)?,
                    key: key_word(k)?,
                })
            }),
            (&self.principal_key, |p, k| {
                Ok(Fact::PrincipalKey {
                    principal: address(p)?,
                    key: key_word(k)?,
                })
            }),
            (&self.revocation, |a, d| {
                Ok(Fact::Revocation {
                    agent_id: agent_id(a)?,
                    digest: digest_word(d)?,
                })
            }),
            (&self.issuer_revocation, |i, d| {
                Ok(Fact::IssuerRevocation {
                    issuer: address(i)?,
                    digest: digest_word(d)?,
                })
            }),
        ];
        let mut facts = Vec::new();
        for (args, make) in kinds {
            for arg in args {
                // The second half may be a did:key (with colons): split at the first only.
                let (first, second) = split(arg)?;
                facts.push(make(first, second)?);
            }
        }
        if facts.is_empty() {
            bail!(
                "nothing to prove: give --agent-key, --principal-key, --revocation or --issuer-revocation"
            );
        }
        Ok(facts)
    }
}

pub(crate) async fn prove(a: ProveArgs) -> Result<ExitCode> {
    let d = read_deployment(&a.target.deployment)?;
    let facts = a.facts()?;
    let sources = a.sources.sources(&a.rpc)?;
    let snapshot = match &a.snapshot {
        Some(p) => Some(
            kya_registry::read_snapshot(p)?
                .with_context(|| format!("no snapshot at {}", p.display()))?,
        ),
        None => None,
    };
    let block = match (a.block, &snapshot) {
        (Some(n), _) => n,
        (None, Some(s)) => s.block().number,
        (None, None) => {
            sources
                .tag_number(kya_registry::BlockNumberOrTag::Finalized)
                .await?
        }
    };
    let report = kya_registry::proof::prove(&sources, &d, block, &facts).await?;
    if let Some(s) = &snapshot {
        let b = s.block();
        if b.number == block
            && (B256::from(b.hash) != report.block.hash
                || B256::from(b.state_root) != report.block.state_root)
        {
            bail!(
                "the snapshot reflects block {block} with hash 0x{} and state root 0x{}; the sources agree on {} and {}",
                hex(b.hash),
                hex(b.state_root),
                report.block.hash,
                report.block.state_root
            );
        }
    }
    let text = serde_json::to_string_pretty(&report)?;
    match &a.out {
        Some(p) => kya_registry::write_atomic(p, text.as_bytes())?,
        None => println!("{text}"),
    }
    if a.out.is_some() {
        eprint!("{}", describe(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per fact: what the proof shows.
fn describe(r: &ProofReport) -> String {
    let mut s = format!(
        "registry {} on chain {}, block {} (hash {}, state root {})\n",
        r.account.address, r.chain_id, r.block.number, r.block.hash, r.block.state_root
    );
    for f in &r.facts {
        s.push_str(&format!("  {:?}: {:?}\n", f.fact, f.verdict));
    }
    s
}

#[derive(Args, Debug)]
pub(crate) struct VerifyProofArgs {
    /// The report written by `kya registry prove`.
    report: PathBuf,
    /// The registry the report must speak for: its chain id and identity registry (a report
    /// about any other account proves nothing about this registry).
    #[command(flatten)]
    target: Target,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Checks a report offline; exits non-zero when any proof fails.
pub(crate) fn verify_proof(a: VerifyProofArgs) -> Result<ExitCode> {
    let bytes =
        std::fs::read(&a.report).with_context(|| format!("reading {}", a.report.display()))?;
    let d = read_deployment(&a.target.deployment)?;
    match read_report(&bytes, &d) {
        Ok(r) if a.json => {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"valid": true, "chainId": r.chain_id, "registry": r.account.address, "block": r.block.number, "blockHash": r.block.hash, "stateRoot": r.block.state_root, "facts": r.facts.iter().map(|f| json!({"fact": f.fact, "verdict": f.verdict})).collect::<Vec<_>>()})
                )?
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(r) => {
            print!("{}", describe(&r));
            println!("every proof verifies against the block's state root");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {e}", a.report.display());
            let mut src = std::error::Error::source(&e);
            while let Some(c) = src {
                eprintln!("  caused by: {c}");
                src = c.source();
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `kya explain --proofs`: the registry facts the verdict rests on, proven.
#[derive(Args, Debug)]
pub(crate) struct ProofsArgs {
    /// Fetch EIP-1186 storage proofs of the registry facts the verdict rests on (each link's
    /// agent key bound and credential not revoked, a wallet issuer's key bound and its
    /// credential not revoked by it) at the snapshot's block, checked before they are shown.
    #[arg(long)]
    proofs: bool,
    /// Where to write the evidence for `kya registry verify-proof`.
    #[arg(
        long,
        value_name = "FILE",
        requires = "proofs",
        default_value = "evidence.json"
    )]
    proofs_out: PathBuf,
    #[command(flatten)]
    sources: SourceArgs,
    #[command(flatten)]
    target: Target,
}

impl ProofsArgs {
    /// Whether proofs were asked for.
    pub(crate) fn wanted(&self) -> bool {
        self.proofs
    }
}

/// The facts of the deployment's registry that `links` (root first) rest on.
fn facts_of(links: &[serde_json::Value], d: &kya_registry::Deployment) -> Vec<Fact> {
    use kya_core::credential::{CredentialKind, UnverifiedCredential};
    let mut facts = Vec::new();
    for link in links {
        let Ok(c) = UnverifiedCredential::from_value(link.clone()) else {
            continue;
        };
        let Ok(digest) = c.digest() else { continue };
        let digest = B256::from(digest.0);
        let (registration, agent) = match c.kind() {
            CredentialKind::Authorization(a) => {
                if let kya_core::Did::Pkh(p) = &a.issuer {
                    let issuer = Address::from(p.address());
                    facts.push(Fact::IssuerRevocation { issuer, digest });
                    if let Ok(v) = c.clone().verify_proof() {
                        let key = B256::from(v.proof().signer.public_key().to_bytes());
                        facts.push(Fact::PrincipalKey {
                            principal: issuer,
                            key,
                        });
                    }
                }
                (a.registration.clone(), a.agent.public_key())
            }
            CredentialKind::Delegation(l) => (l.registration.clone(), l.agent.public_key()),
            _ => continue,
        };
        let ours = |r: &kya_core::credential::AgentRegistration| {
            r.agent_registry.chain_id == d.chain_id
                && r.agent_registry.address == d.identity.into_array()
        };
        if let Some(r) = registration.filter(ours)
            && let Ok(agent_id) = kya_registry::agent_id_to_u256(&r.agent_id)
        {
            let key = B256::from(agent.to_bytes());
            facts.push(Fact::AgentKey { agent_id, key });
            facts.push(Fact::Revocation { agent_id, digest });
        }
    }
    facts
}

/// Proves the facts `links` rest on at the snapshot's block (or the finalized one), writes
/// the evidence, and appends one line per fact to `out`.
pub(crate) fn explain_evidence(
    p: &ProofsArgs,
    links: &[serde_json::Value],
    snapshot: Option<&std::path::Path>,
    out: &mut String,
) -> Result<()> {
    use std::fmt::Write as _;
    let d = read_deployment(&p.target.deployment)?;
    let facts = facts_of(links, &d);
    if facts.is_empty() {
        let _ = writeln!(
            out,
            "\nevidence: no link names a registration in {}",
            p.target.deployment.display()
        );
        return Ok(());
    }
    if p.sources.rpcs.is_empty() {
        bail!("--proofs needs the sources to read from: give --rpc URL (repeatable)");
    }
    let timeout = Duration::from_secs(p.sources.request_timeout.max(1));
    let sources = Sources::connect(&p.sources.rpcs, p.sources.quorum, timeout)?;
    let rt = crate::io::runtime()?;
    let report = rt.block_on(async {
        let block = match snapshot
            .map(kya_registry::read_snapshot)
            .transpose()?
            .flatten()
        {
            Some(s) => s.block().number,
            None => {
                sources
                    .tag_number(kya_registry::BlockNumberOrTag::Finalized)
                    .await?
            }
        };
        kya_registry::proof::prove(&sources, &d, block, &facts).await
    })?;
    kya_registry::write_atomic(
        &p.proofs_out,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    let _ = write!(
        out,
        "\nevidence ({}, check with `kya registry verify-proof`): {}",
        p.proofs_out.display(),
        describe(&report)
    );
    Ok(())
}
