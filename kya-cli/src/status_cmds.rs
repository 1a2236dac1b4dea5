//! `kya status`: W3C Bitstring Status Lists, so that an issuer without a registry (a
//! `did:key` principal, a delegating agent) can revoke or suspend what it issued.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use kya_core::status::{
    Bitstring, MIN_BITS, StatusEntry, StatusList, StatusPurpose, VerifiedStatusList,
};
use kya_core::{Did, DidKey, Timestamp};
use serde_json::json;

use crate::io::{self, write_json};

#[derive(Subcommand, Debug)]
pub(crate) enum StatusCommand {
    /// Create a signed status list with every entry clear.
    Create(CreateArgs),
    /// Set (revoke, suspend) or clear an entry: prints the list signed again, valid from now.
    Set(SetArgs),
    /// Verify a status list and print what it says (of one entry, with --index).
    Show(ShowArgs),
}

/// `credentialStatus` options of `kya issue` and `kya delegate`.
#[derive(Args, Debug)]
pub(crate) struct EntryArgs {
    /// The status list credential's URL: the credential can then be revoked (or suspended)
    /// by setting its entry with `kya status set`.
    #[arg(long, value_name = "URL", requires = "status_index")]
    status_list: Option<String>,
    /// The credential's index in that list (give each credential its own).
    #[arg(long, value_name = "N", requires = "status_list")]
    status_index: Option<u64>,
    /// What the entry is for.
    #[arg(long, value_name = "PURPOSE", default_value = "revocation", value_parser = parse_purpose)]
    status_purpose: StatusPurpose,
}

impl EntryArgs {
    pub(crate) fn entry(&self) -> Option<StatusEntry> {
        let list = self.status_list.clone()?;
        Some(StatusEntry::new(
            list,
            self.status_index?,
            self.status_purpose,
        ))
    }
}

fn parse_purpose(s: &str) -> Result<StatusPurpose, String> {
    s.parse()
        .map_err(|e: kya_core::status::StatusError| e.to_string())
}

#[derive(Args, Debug)]
pub(crate) struct CreateArgs {
    /// The issuer's signing key (Multikey file): the key that signs the credentials whose
    /// status the list keeps.
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    /// The issuer, when it is not the key's own did:key (a did:pkh wallet that bound it).
    #[arg(long, value_name = "DID")]
    issuer: Option<Did>,
    /// The list's URL (what credentials name in `statusListCredential`).
    #[arg(long, value_name = "URL")]
    id: String,
    /// What a set entry means.
    #[arg(long, value_name = "PURPOSE", default_value = "revocation", value_parser = parse_purpose)]
    purpose: StatusPurpose,
    /// The number of entries (a multiple of 8, at least 131072).
    #[arg(long, value_name = "N", default_value_t = MIN_BITS)]
    entries: u64,
    /// How long verifiers may use this version: e.g. 12h, 1d.
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = io::parse_duration)]
    valid_for: i64,
}

#[derive(Args, Debug)]
pub(crate) struct SetArgs {
    /// The current list.
    file: PathBuf,
    /// The issuer's signing key (the key that signed the list).
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    /// The entry to set.
    #[arg(long, value_name = "N")]
    index: u64,
    /// Clear the entry instead (lift a suspension).
    #[arg(long)]
    clear: bool,
    /// How long verifiers may use the new version: e.g. 12h, 1d.
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = io::parse_duration)]
    valid_for: i64,
}

#[derive(Args, Debug)]
pub(crate) struct ShowArgs {
    /// The list (default: standard input).
    file: Option<PathBuf>,
    /// Print whether this entry is set.
    #[arg(long, value_name = "N")]
    index: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: StatusCommand) -> Result<ExitCode> {
    match cmd {
        StatusCommand::Create(args) => create(args),
        StatusCommand::Set(args) => set(args),
        StatusCommand::Show(args) => show(args),
    }
}

fn create(args: CreateArgs) -> Result<ExitCode> {
    let secret = io::read_secret_key(&args.key)?;
    let issuer = args
        .issuer
        .unwrap_or_else(|| Did::Key(DidKey::from_public_key(secret.public_key())));
    let now = Timestamp::now();
    let list = StatusList {
        id: args.id,
        issuer,
        purpose: args.purpose,
        bits: Bitstring::new(args.entries)?,
        valid_from: now,
        valid_until: Some(now.add_seconds(args.valid_for)),
    };
    write_json(&list.sign(&secret, now)?)?;
    Ok(ExitCode::SUCCESS)
}

fn read_list(file: Option<&std::path::Path>) -> Result<VerifiedStatusList> {
    let shown = file.map_or_else(|| "standard input".to_owned(), |p| p.display().to_string());
    VerifiedStatusList::from_slice(&io::read_input(file)?)
        .with_context(|| format!("status list {shown}"))
}

fn set(args: SetArgs) -> Result<ExitCode> {
    let current = read_list(Some(&args.file))?;
    let secret = io::read_secret_key(&args.key)?;
    if secret.public_key() != current.signer() {
        bail!(
            "{} is not the key that signed the list ({})",
            args.key.display(),
            DidKey::from_public_key(current.signer())
        );
    }
    let [purpose] = current.purposes() else {
        bail!("the list has several purposes; kya writes lists of one");
    };
    let mut bits = current.bits().clone();
    bits.set(args.index, !args.clear)?;
    let now = Timestamp::now();
    let list = StatusList {
        id: current.id().to_owned(),
        issuer: *current.issuer(),
        purpose: *purpose,
        bits,
        valid_from: now,
        valid_until: Some(now.add_seconds(args.valid_for)),
    };
    write_json(&list.sign(&secret, now)?)?;
    Ok(ExitCode::SUCCESS)
}

fn show(args: ShowArgs) -> Result<ExitCode> {
    let list = read_list(args.file.as_deref())?;
    let purposes: Vec<&str> = list.purposes().iter().map(|p| p.as_str()).collect();
    let entry = match args.index {
        Some(i) => Some(list.bits().get(i)?),
        None => None,
    };
    if args.json {
        write_json(&json!({
            "id": list.id(),
            "issuer": list.issuer().to_string(),
            "signer": DidKey::from_public_key(list.signer()).to_string(),
            "statusPurpose": purposes,
            "entries": list.bits().len(),
            "validFrom": list.valid_from().to_string(),
            "validUntil": list.valid_until().map(|t| t.to_string()),
            "index": args.index,
            "set": entry,
        }))?;
    } else {
        println!(
            "valid status list {} by {} ({}; {} entries; valid from {}{})",
            list.id(),
            list.issuer(),
            purposes.join(", "),
            list.bits().len(),
            list.valid_from(),
            list.valid_until()
                .map(|t| format!(" until {t}"))
                .unwrap_or_default()
        );
        if let (Some(i), Some(set)) = (args.index, entry) {
            println!("entry {i}: {}", if set { "set" } else { "clear" });
        }
    }
    Ok(ExitCode::SUCCESS)
}
