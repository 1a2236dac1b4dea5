//! `kya vc validate`: a document against the W3C VC Data Model 2.0, every rule it shows by
//! itself ([`kya_core::vcdm`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use kya_core::vcdm::{self, DocumentKind};
use serde_json::json;

use crate::io::{self, write_json};

#[derive(Subcommand, Debug)]
pub(crate) enum VcCommand {
    /// Check a credential or presentation against every VC Data Model 2.0 rule that needs
    /// nothing fetched. Exit 0 if it conforms; otherwise every violation, one per line
    /// (path, rule, section, message), and exit 1.
    Validate {
        /// The document (`-` for standard input).
        file: PathBuf,
        /// Print `{"valid", "kind", "violations": [{path, rule, section, message}]}`.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(command: VcCommand) -> Result<ExitCode> {
    match command {
        VcCommand::Validate { file, json } => validate(&file, json),
    }
}

fn validate(file: &std::path::Path, as_json: bool) -> Result<ExitCode> {
    // Any I-JSON document: a credential from another issuer may hold numbers kya's own
    // credentials never use.
    let document = io::read_json_with(Some(file), io::Numbers::IJson)?;
    let (kind, violations) = vcdm::check(&document);
    let kind = match kind {
        DocumentKind::Presentation => "presentation",
        _ => "credential",
    };
    if as_json {
        let listed: Vec<_> = violations
            .iter()
            .map(|v| {
                json!({"path": v.path, "rule": v.rule.code(), "section": v.rule.section(),
                       "message": v.rule.to_string()})
            })
            .collect();
        write_json(&json!({"valid": violations.is_empty(), "kind": kind, "violations": listed}))?;
    } else if violations.is_empty() {
        eprintln!("ok: the {kind} conforms to the vc data model 2.0");
    } else {
        for v in &violations {
            println!(
                "{}\t{} (§{})\t{}",
                v.path,
                v.rule.code(),
                v.rule.section(),
                v.rule
            );
        }
    }
    Ok(if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
