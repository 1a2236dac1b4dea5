//! `kya agent`: ERC-8004 registration files ("agent cards") — write one for an agent's
//! `agentURI`, check one, and write the domain-verification file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use kya_core::DidKey;
use kya_core::card::{AgentCard, KYA_TRUST, Service, well_known};
use kya_core::credential::AgentRegistration;
use serde_json::json;

use crate::io::{self, write_json};

#[derive(Subcommand, Debug)]
pub(crate) enum AgentCommand {
    /// Write an ERC-8004 registration file (what `agentURI` points to), declaring kya
    /// credentials in `supportedTrust`.
    Card(Box<CardArgs>),
    /// Check a registration file: exit 0 if it is one, else every violation, one per line.
    ValidateCard {
        /// The file (default: standard input).
        file: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the domain-verification file an agent's web origin serves at
    /// `/.well-known/agent-registration.json`.
    WellKnown {
        /// A registration the domain stands behind: `eip155:<chain>:<registry>#<agent id>`.
        #[arg(long, value_name = "REGISTRATION", value_parser = io::parse_registration, required = true)]
        registration: Vec<AgentRegistration>,
    },
}

#[derive(Args, Debug)]
pub(crate) struct CardArgs {
    /// The agent's name.
    #[arg(long)]
    name: String,
    /// What it does.
    #[arg(long)]
    description: String,
    /// An image URL.
    #[arg(long, value_name = "URL")]
    image: Option<String>,
    /// The agent's did:key (advertised as its `DID` service: the key kya credentials name).
    #[arg(long, value_name = "DID")]
    agent: Option<DidKey>,
    /// A service, `NAME=ENDPOINT` (e.g. `web=https://agent.example/`, `MCP=https://…`);
    /// repeatable.
    #[arg(long, value_name = "NAME=ENDPOINT", value_parser = parse_service)]
    service: Vec<Service>,
    /// The agent's registration: `eip155:<chain>:<registry>#<agent id>`; repeatable.
    #[arg(long, value_name = "REGISTRATION", value_parser = io::parse_registration)]
    registration: Vec<AgentRegistration>,
    /// Mark the agent inactive.
    #[arg(long)]
    inactive: bool,
    /// Declare x402 payment support.
    #[arg(long)]
    x402: bool,
}

fn parse_service(s: &str) -> Result<Service, String> {
    match s.split_once('=') {
        Some((name, endpoint)) if !name.is_empty() && !endpoint.is_empty() => {
            Ok(Service::new(name, endpoint))
        }
        _ => Err(format!("`{s}`: expected NAME=ENDPOINT")),
    }
}

pub(crate) fn run(cmd: AgentCommand) -> Result<ExitCode> {
    match cmd {
        AgentCommand::Card(args) => {
            let args = *args;
            let mut services = args.service;
            if let Some(did) = args.agent {
                services.push(Service::new("DID", did.to_string()));
            }
            let card = AgentCard {
                name: args.name,
                description: args.description,
                image: args.image,
                services,
                registrations: args.registration,
                supported_trust: vec![KYA_TRUST.to_owned()],
                active: !args.inactive,
                x402_support: args.x402.then_some(true),
            };
            // What kya writes, kya must read.
            let json = card.to_json();
            AgentCard::from_value(&json)?;
            write_json(&json)?;
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::ValidateCard { file, json } => {
            let result = AgentCard::from_slice(&io::read_input(file.as_deref())?);
            let violations = result.as_ref().err().map(|e| e.violations.clone());
            if json {
                write_json(&json!({
                    "valid": result.is_ok(),
                    "violations": violations.clone().unwrap_or_default(),
                }))?;
            } else {
                match &violations {
                    None => eprintln!("valid erc-8004 registration file"),
                    Some(v) => v.iter().for_each(|line| println!("{line}")),
                }
            }
            Ok(if result.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AgentCommand::WellKnown { registration } => {
            write_json(&well_known(&registration))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `kya attest`: a signed `AgentReputationAttestation` (a rater's scored, tagged claim about an
/// agent, mirroring ERC-8004 feedback), which merchants may count towards `minReputation`.
#[derive(Args, Debug)]
pub(crate) struct AttestArgs {
    /// The rater's key (Multikey file).
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    /// The rater, when it is not the key's own did:key (a did:pkh wallet that bound it).
    #[arg(long, value_name = "DID")]
    issuer: Option<kya_core::Did>,
    /// The agent rated.
    #[arg(long, value_name = "DID")]
    agent: DidKey,
    /// The agent's registration, if it has one.
    #[arg(long, value_name = "REGISTRATION", value_parser = io::parse_registration)]
    registration: Option<AgentRegistration>,
    /// The score, a decimal (`92.50`): written as an integer value and its decimals.
    #[arg(long, value_name = "DECIMAL", allow_hyphen_values = true)]
    value: String,
    /// First tag (e.g. what was rated).
    #[arg(long, default_value = "")]
    tag1: String,
    /// Second tag.
    #[arg(long, default_value = "")]
    tag2: String,
    /// The endpoint the rating is about.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// How long it holds: e.g. 30d.
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = io::parse_duration)]
    valid_for: i64,
}

/// `"92.50"` → (9250, 2).
fn fixed_point(s: &str) -> Result<(i128, u8)> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let digits = format!("{whole}{fraction}");
    let ok = !whole.is_empty()
        && fraction.len() <= 18
        && (!s.contains('.') || !fraction.is_empty())
        && digits
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit());
    match (ok, digits.parse::<i128>()) {
        (true, Ok(v)) => Ok((v, u8::try_from(fraction.len())?)),
        _ => anyhow::bail!("`{s}` is not a decimal score"),
    }
}

pub(crate) fn attest(args: AttestArgs) -> Result<ExitCode> {
    let secret = io::read_secret_key(&args.key)?;
    let issuer = args
        .issuer
        .unwrap_or_else(|| kya_core::Did::Key(DidKey::from_public_key(secret.public_key())));
    let (value, value_decimals) = fixed_point(&args.value)?;
    let now = kya_core::Timestamp::now();
    let attestation = kya_core::credential::ReputationAttestation {
        id: kya_core::credential::new_credential_id(),
        issuer,
        agent: args.agent,
        valid_from: now,
        valid_until: Some(now.add_seconds(args.valid_for)),
        registration: args.registration,
        value,
        value_decimals,
        tag1: args.tag1,
        tag2: args.tag2,
        endpoint: args.endpoint,
        status: Vec::new(),
    };
    let signed = kya_core::credential::sign(attestation.to_unsigned()?, &secret, now)?;
    write_json(signed.document())?;
    Ok(ExitCode::SUCCESS)
}
