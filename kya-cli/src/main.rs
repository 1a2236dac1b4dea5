//! `kya`: Know Your Agent from the shell.
//!
//! Keys, credentials, delegation and Data Integrity proofs. Reads files or standard input,
//! writes standard output, and exits 0 only on success (and, for checks, only when valid).

#![forbid(unsafe_code)]

mod agent_cmds;
mod audit_cmds;
mod grants;
mod io;
mod registry_cmds;
mod registry_sync;
mod status_cmds;
mod vc_cmds;
mod verify_cmds;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use kya_core::credential::{
    AgentAuthorization, AgentDelegation, AgentRegistration, UnverifiedCredential,
};
use kya_core::proof::{self, ProofOptions};
use kya_core::{Did, DidKey, MultikeyFile, SecretKey, Timestamp};
use serde_json::Value;

use crate::grants::GrantArgs;
use crate::io::{write_json, write_secret_file};

/// Know Your Agent: DID-bound agent credentials, delegation and proofs.
#[derive(Parser, Debug)]
#[command(name = "kya", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create and inspect Ed25519 keys (Multikey JSON files).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign or verify any JSON document with an eddsa-jcs-2022 Data Integrity proof.
    #[command(subcommand)]
    Proof(ProofCommand),
    /// Issue an agent authorisation (principal → agent).
    Issue(IssueArgs),
    /// Delegate part of an agent's authority to a sub-agent (never wider than the parent).
    Delegate(DelegateArgs),
    /// Summarise a credential or a chain: who issued what to whom, grants, validity, proofs.
    Inspect(InspectArgs),
    /// W3C Verifiable Credentials: check any credential or presentation against VC DM 2.0.
    #[command(subcommand)]
    Vc(vc_cmds::VcCommand),

    /// Present a chain to an audience: a verifiable presentation signed by the agent.
    Present(verify_cmds::PresentArgs),
    /// Sign an HTTP request (RFC 9421, Web Bot Auth): print the headers, or send it.
    SignRequest(verify_cmds::SignRequestArgs),
    /// Verify a chain, presentation or signed request against a policy; decide on a request.
    Verify(verify_cmds::VerifyArgs),
    /// The auditor's report: every link, every check, every reason.
    Explain(verify_cmds::ExplainArgs),

    /// The on-chain registry: deploy, register agents, bind keys, revoke, rate, sync snapshots.
    #[command(subcommand)]
    Registry(registry_cmds::RegistryCommand),
    /// Status lists (W3C Bitstring Status List): revoke or suspend what you issued, without
    /// a registry.
    #[command(subcommand)]
    Status(status_cmds::StatusCommand),
    /// Attest to an agent's reputation: a signed, scored, tagged rating merchants may count.
    Attest(Box<agent_cmds::AttestArgs>),
    /// ERC-8004 agent cards: write, check, and the domain-verification file.
    #[command(subcommand)]
    Agent(agent_cmds::AgentCommand),

    /// Receipts and the receipt log: evidence, anchoring on chain, the auditor's checks.
    #[command(subcommand)]
    Audit(audit_cmds::AuditCommand),

    /// The verification gateway: verify agent requests in front of any HTTP service (proxy
    /// mode) or answer a proxy's auth sub-requests (auth mode), with a live registry view.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// The configuration file (TOML; see the README's `kya serve` section).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

/// `kya serve`: logs as JSON lines on standard error; `listening on ADDR` on standard output.
fn serve(args: ServeArgs) -> Result<ExitCode> {
    let config = kya_gateway::Config::read(&args.config)?;
    kya_gateway::log::init(&config.log_level)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(kya_gateway::run_file(args.config))?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Generate a key; writes a Multikey JSON file (owner-only permissions).
    Generate {
        /// Where to write the key file (`-` for standard output).
        #[arg(short, long, value_name = "FILE")]
        out: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the did:key of a key file, after checking that the file agrees with itself
    /// (its secret belongs to its public key; its id and controller name that key).
    Did {
        /// The key file.
        keyfile: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum ProofCommand {
    /// Add an eddsa-jcs-2022 proof to a JSON document and print it.
    Sign {
        /// The signer's Multikey file.
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
        /// Verification method id (default: the key's did:key method).
        #[arg(long, value_name = "VM")]
        verification_method: Option<String>,
        /// Proof creation time, RFC 3339 (default: now).
        #[arg(long, value_name = "RFC3339")]
        created: Option<Timestamp>,
        /// Proof purpose.
        #[arg(long, value_name = "P", default_value = "assertionMethod")]
        purpose: String,
        /// The document (default: standard input).
        file: Option<PathBuf>,
    },
    /// Verify the proof of a JSON document (or of every credential of a chain).
    Verify {
        /// The secured document (default: standard input).
        file: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct Validity {
    /// Start of validity, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    valid_from: Option<Timestamp>,
    /// End of validity, RFC 3339.
    #[arg(long, value_name = "RFC3339", conflicts_with = "valid_for")]
    valid_until: Option<Timestamp>,
    /// Length of validity from validFrom: e.g. 90s, 30m, 12h, 30d.
    #[arg(long, value_name = "DURATION", value_parser = io::parse_duration)]
    valid_for: Option<i64>,
}

#[derive(Args, Debug)]
struct IssueArgs {
    /// The principal's issuing key (Multikey file).
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    /// The principal, when it is not the key's own did:key (e.g. a did:pkh wallet that has
    /// bound the key on-chain).
    #[arg(long, value_name = "DID")]
    issuer: Option<Did>,
    /// The agent's did:key.
    #[arg(long, value_name = "DID")]
    agent: DidKey,
    /// The agent's on-chain registration: `eip155:<chain>:<registry address>#<agent id>`.
    #[arg(long, value_name = "REGISTRATION", value_parser = io::parse_registration)]
    registration: Option<AgentRegistration>,
    /// Credential id (default: a fresh urn:uuid).
    #[arg(long)]
    id: Option<String>,
    #[command(flatten)]
    validity: Validity,
    #[command(flatten)]
    grants: GrantArgs,
    #[command(flatten)]
    status: status_cmds::EntryArgs,
}

#[derive(Args, Debug)]
struct DelegateArgs {
    /// The delegating agent's key (the parent credential's subject).
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    /// The parent: a credential, or a chain (JSON array, root first) whose last link is used.
    #[arg(long, value_name = "FILE")]
    parent: PathBuf,
    /// The sub-agent's did:key.
    #[arg(long, value_name = "DID")]
    agent: DidKey,
    /// The sub-agent's on-chain registration, if any.
    #[arg(long, value_name = "REGISTRATION", value_parser = io::parse_registration)]
    registration: Option<AgentRegistration>,
    /// Credential id (default: a fresh urn:uuid).
    #[arg(long)]
    id: Option<String>,
    /// Print the whole chain (parent links + the new one) rather than the new credential.
    #[arg(long)]
    chain: bool,
    #[command(flatten)]
    validity: Validity,
    #[command(flatten)]
    grants: GrantArgs,
    #[command(flatten)]
    status: status_cmds::EntryArgs,
}

#[derive(Args, Debug)]
struct InspectArgs {
    /// A credential or a chain (default: standard input).
    file: Option<PathBuf>,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kya: error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-separated; a cause whose text the error before it already
/// carries (errors that display their source) is not repeated.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Key(KeyCommand::Generate { out, force }) => {
            let secret = SecretKey::generate();
            let file = MultikeyFile::from_secret(&secret);
            let json = serde_json::to_vec_pretty(&file)?;
            write_secret_file(&out, &json, force)?;
            if out.as_os_str() != "-" {
                eprintln!(
                    "wrote {} ({})",
                    out.display(),
                    DidKey::from_public_key(secret.public_key())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Key(KeyCommand::Did { keyfile }) => {
            let did = io::read_key_file(&keyfile)?
                .checked_did()
                .with_context(|| format!("key file {}", keyfile.display()))?;
            println!("{did}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Proof(ProofCommand::Sign {
            key,
            verification_method,
            created,
            purpose,
            file,
        }) => {
            let secret = io::read_secret_key(&key)?;
            // A generic document: any I-JSON number, not only the ones kya's own credentials use.
            let document = io::read_json_with(file.as_deref(), io::Numbers::IJson)?;
            let mut options = ProofOptions::assertion(secret.public_key())
                .created(created.unwrap_or_else(Timestamp::now));
            options.proof_purpose = purpose;
            if let Some(vm) = verification_method {
                let named = DidKey::from_verification_method(&vm)
                    .with_context(|| format!("verification method {vm}"))?;
                if named.public_key() != secret.public_key() {
                    bail!(
                        "verification method {vm} names another key than {}",
                        key.display()
                    );
                }
                options.verification_method = vm;
            }
            write_json(&proof::sign(&document, &options, &secret)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Proof(ProofCommand::Verify { file, json }) => proof_verify(file, json),
        Command::Issue(args) => issue(args),
        Command::Delegate(args) => delegate(args),
        Command::Inspect(args) => inspect(args),
        Command::Vc(cmd) => vc_cmds::run(cmd),
        // --- kya-verify (verify_cmds.rs) ---
        Command::Present(args) => verify_cmds::present(args),
        Command::SignRequest(args) => verify_cmds::sign_request(args),
        Command::Verify(args) => verify_cmds::verify(args),
        Command::Explain(args) => verify_cmds::explain(args),
        // --- kya-registry (registry_cmds.rs) ---
        Command::Registry(cmd) => registry_cmds::run(cmd),
        Command::Status(cmd) => status_cmds::run(cmd),
        Command::Agent(cmd) => agent_cmds::run(cmd),
        Command::Attest(args) => agent_cmds::attest(*args),
        Command::Audit(cmd) => audit_cmds::run(cmd),
        Command::Serve(args) => serve(args),
    }
}

fn proof_verify(file: Option<PathBuf>, as_json: bool) -> Result<ExitCode> {
    let documents = io::read_documents_with(file.as_deref(), io::Numbers::IJson)?;
    let mut all_valid = true;
    let mut report = Vec::new();
    for (index, document) in documents.iter().enumerate() {
        let label = if documents.len() > 1 {
            format!("[{index}] ")
        } else {
            String::new()
        };
        match proof::verify(document) {
            Ok(info) => {
                if !as_json {
                    println!(
                        "{label}valid: {} proof by {}{}",
                        info.proof_purpose,
                        info.verification_method,
                        info.created
                            .map(|c| format!(", created {c}"))
                            .unwrap_or_default()
                    );
                }
                report.push(serde_json::json!({
                    "index": index, "valid": true,
                    "verificationMethod": info.verification_method,
                    "proofPurpose": info.proof_purpose,
                    "created": info.created.map(|c| c.to_string()),
                }));
            }
            Err(e) => {
                all_valid = false;
                if !as_json {
                    println!("{label}invalid: {e}");
                }
                report.push(
                    serde_json::json!({"index": index, "valid": false, "error": e.to_string()}),
                );
            }
        }
    }
    if as_json {
        write_json(&Value::Array(report))?;
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn window(v: &Validity) -> Result<(Timestamp, Timestamp)> {
    let from = v.valid_from.unwrap_or_else(Timestamp::now);
    let until = match (v.valid_until, v.valid_for) {
        (Some(until), _) => until,
        (None, Some(secs)) => from.add_seconds(secs),
        (None, None) => bail!("give --valid-until or --valid-for"),
    };
    Ok((from, until))
}

fn issue(args: IssueArgs) -> Result<ExitCode> {
    let secret = io::read_secret_key(&args.key)?;
    let issuer = args
        .issuer
        .unwrap_or_else(|| Did::Key(DidKey::from_public_key(secret.public_key())));
    let (from, until) = window(&args.validity)?;
    let grants = args.grants.collect()?;
    refuse_undefined_terms(&grants)?;
    let mut builder = AgentAuthorization::builder(issuer, args.agent)
        .valid_from(from)
        .valid_until(until)
        .grants(grants);
    if let Some(r) = args.registration {
        builder = builder.registration(r);
    }
    if let Some(id) = args.id {
        builder = builder.id(id);
    }
    if let Some(entry) = args.status.entry() {
        builder = builder.status(entry);
    }
    let credential = builder.sign(&secret, Timestamp::now())?;
    write_json(credential.document())?;
    Ok(ExitCode::SUCCESS)
}

/// A constraint kya's context does not define would be read by a JSON-LD processor as an
/// issuer-dependent term (VC DM 2.0 §5.2), not as a kya constraint, and every kya verifier
/// denies unknown constraints: such a credential could only ever deny, so it is not signed.
fn refuse_undefined_terms(grants: &[kya_core::grant::Grant]) -> Result<()> {
    for (i, grant) in grants.iter().enumerate() {
        if let Some(term) = grant.unknown_constraints().keys().next() {
            bail!(
                "grant [{i}]: the constraint `{}` is defined by no context kya's credentials use \
                 ({}); a verifier would deny it, so the credential is not issued",
                term.chars().take(64).collect::<String>(),
                kya_core::credential::KYA_V1_CONTEXT
            );
        }
    }
    Ok(())
}

fn delegate(args: DelegateArgs) -> Result<ExitCode> {
    let secret = io::read_secret_key(&args.key)?;
    let mut chain = io::read_documents(Some(&args.parent))?;
    let last = chain.last().cloned().context("the parent chain is empty")?;
    let parent = UnverifiedCredential::from_value(last)
        .context("parent credential")?
        .verify_proof()
        .context("parent credential")?;
    // Only the parent's subject may delegate: `sign` below refuses any other key.
    let mut builder = AgentDelegation::builder(&parent, args.agent)?;
    if let Some(from) = args.validity.valid_from {
        builder = builder.valid_from(from);
    }
    if args.validity.valid_until.is_some() || args.validity.valid_for.is_some() {
        let (_, until) = window(&args.validity)?;
        builder = builder.valid_until(until);
    }
    builder = builder.grants(args.grants.collect()?);
    if let Some(r) = args.registration {
        builder = builder.registration(r);
    }
    if let Some(id) = args.id {
        builder = builder.id(id);
    }
    if let Some(entry) = args.status.entry() {
        builder = builder.status(entry);
    }
    let credential = builder.sign(&secret, Timestamp::now())?;
    if args.chain {
        chain.push(credential.document().clone());
        write_json(&Value::Array(chain))?;
    } else {
        write_json(credential.document())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(args: InspectArgs) -> Result<ExitCode> {
    let items = io::read_documents(args.file.as_deref())?;
    let mut summaries = Vec::new();
    let mut all_valid = true;
    for (index, item) in items.into_iter().enumerate() {
        let parsed = UnverifiedCredential::from_value(item)
            .with_context(|| format!("credential [{index}]"))?;
        let digest = parsed.digest()?;
        let kind = parsed.kind().clone();
        let proof = parsed.verify_proof();
        all_valid &= proof.is_ok();
        summaries.push((
            index,
            kind,
            digest,
            proof.map(|_| ()).map_err(|e| e.to_string()),
        ));
    }
    if args.json {
        let out: Vec<Value> = summaries
            .iter()
            .map(|(index, kind, digest, proof)| io::summary_json(*index, kind, digest, proof))
            .collect();
        write_json(&Value::Array(out))?;
    } else {
        for (index, kind, digest, proof) in &summaries {
            print!("{}", io::summary_text(*index, kind, digest, proof));
        }
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    /// An error that displays its source and also exposes it (as many do).
    #[derive(Debug)]
    struct ShowsItsSource(std::io::Error);

    impl std::fmt::Display for ShowsItsSource {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "outer: {}", self.0)
        }
    }

    impl std::error::Error for ShowsItsSource {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_is_printed_once() {
        let io = std::io::Error::other("disk full");
        let e = anyhow::Error::new(ShowsItsSource(io)).context("writing out.json");
        assert_eq!(error_chain(&e), "writing out.json: outer: disk full");
        let plain = anyhow::anyhow!("inner").context("middle").context("top");
        assert_eq!(error_chain(&plain), "top: middle: inner");
    }
}
