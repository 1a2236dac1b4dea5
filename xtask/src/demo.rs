//! The main job: the whole kya story, told through the `kya` command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};

use crate::cargo;

/// A step of the story: a title, then the command and what it printed.
struct Story {
    kya: PathBuf,
    dir: PathBuf,
}

impl Story {
    fn say(&self, text: &str) {
        println!("\n== {text}");
    }

    /// Runs `kya ARGS`, shows the command and its output, and returns its stdout.
    fn kya(&self, args: &[&str]) -> Result<String> {
        let out = self.kya_output(args)?;
        if !out.status.success() {
            bail!(
                "kya {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    fn kya_output(&self, args: &[&str]) -> Result<Output> {
        println!("$ kya {}", args.join(" "));
        let out = Command::new(&self.kya)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .context("cannot run kya")?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        Ok(out)
    }

    /// Runs `kya ARGS` and saves its stdout to FILE in the demo directory.
    fn kya_to(&self, file: &str, args: &[&str]) -> Result<()> {
        println!("$ kya {} > {file}", args.join(" "));
        let out = Command::new(&self.kya)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .context("cannot run kya")?;
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            bail!("kya {} failed", args.join(" "));
        }
        std::fs::write(self.dir.join(file), &out.stdout)?;
        Ok(())
    }
}

pub(crate) fn run(root: &Path) -> Result<()> {
    crate::run(cargo().args(["build", "--locked", "--quiet", "-p", "kya-cli"]))?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let dir = root.join("target/demo");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let story = Story {
        kya: target.join("debug/kya"),
        dir,
    };

    story.say("1. keys: a principal (the company), its shopping agent, and a sub-agent");
    for who in ["principal", "agent", "subagent"] {
        story.kya(&["key", "generate", "--out", &format!("{who}.key")])?;
    }
    let agent_did = story.kya(&["key", "did", "agent.key"])?.trim().to_owned();
    let subagent_did = story
        .kya(&["key", "did", "subagent.key"])?
        .trim()
        .to_owned();

    story.say("2. the principal authorises its agent: payments up to 100.00 USD at two shops");
    story.kya_to(
        "authorization.json",
        &[
            "issue",
            "--key",
            "principal.key",
            "--agent",
            &agent_did,
            "--valid-for",
            "30d",
            "--action",
            "payments",
            "--max-amount",
            "100.00",
            "--asset",
            "USD",
            "--audience",
            "did:web:shop.example",
            "--audience",
            "did:web:books.example",
        ],
    )?;

    story
        .say("3. the agent delegates a narrower share to a sub-agent: 25.00 USD, one shop, 7 days");
    story.kya_to(
        "chain.json",
        &[
            "delegate",
            "--key",
            "agent.key",
            "--parent",
            "authorization.json",
            "--agent",
            &subagent_did,
            "--valid-for",
            "7d",
            "--chain",
            "--action",
            "payments/send",
            "--max-amount",
            "25.00",
            "--asset",
            "USD",
            "--audience",
            "did:web:shop.example",
        ],
    )?;

    story.say("4. the sub-agent cannot be given more than its parent has (this must fail)");
    let widened = story.kya_output(&[
        "delegate",
        "--key",
        "agent.key",
        "--parent",
        "authorization.json",
        "--agent",
        &subagent_did,
        "--valid-for",
        "7d",
        "--action",
        "payments/send",
        "--max-amount",
        "500.00",
        "--asset",
        "USD",
        "--audience",
        "did:web:shop.example",
    ])?;
    if widened.status.success() {
        bail!("a widening delegation was accepted");
    }

    story.say("5. anyone can read the chain");
    story.kya(&["inspect", "chain.json"])?;

    story.say("6. and check every proof");
    story.kya(&["proof", "verify", "chain.json"])?;

    story.say("7. a tampered credential fails, saying what failed");
    let chain = std::fs::read_to_string(story.dir.join("chain.json"))?;
    let tampered = chain.replacen("25.00", "2500.00", 1);
    if tampered == chain {
        bail!("nothing to tamper with");
    }
    std::fs::write(story.dir.join("tampered.json"), tampered)?;
    let out = story.kya_output(&["proof", "verify", "tampered.json"])?;
    if out.status.success() {
        bail!("a tampered chain verified");
    }

    println!(
        "\nThe story's files are in {}.",
        story.dir.strip_prefix(root).unwrap_or(&story.dir).display()
    );
    Ok(())
}
