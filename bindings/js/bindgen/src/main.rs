//! `wasm-bindgen <input.wasm> --out-dir <dir> [--out-name <name>] [--target web|nodejs|bundler]`:
//! the subset of the wasm-bindgen command kya's package build uses, over the same library
//! (`wasm-bindgen-cli-support`) the published command is built on, pinned here by this
//! crate's own lock file. (The published command's lock names a crate version the registry no
//! longer serves, so `cargo install --locked wasm-bindgen-cli` cannot resolve.)

#![forbid(unsafe_code)]

use anyhow::{Context, Result, bail};
use wasm_bindgen_cli_support::Bindgen;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut input, mut out_dir, mut out_name, mut target) = (None, None, None, "web".to_owned());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--version" | "-V" => {
                println!("wasm-bindgen {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "--out-dir" => out_dir = Some(args.next().context("--out-dir needs a value")?),
            "--out-name" => out_name = Some(args.next().context("--out-name needs a value")?),
            "--target" => target = args.next().context("--target needs a value")?,
            other if other.starts_with("--") => bail!("unknown option {other}"),
            other => input = Some(other.to_owned()),
        }
    }
    let input = input.context("usage: wasm-bindgen <input.wasm> --out-dir <dir>")?;
    let out_dir = out_dir.context("--out-dir is required")?;
    let mut bindgen = Bindgen::new();
    bindgen.input_path(&input).typescript(true);
    if let Some(name) = &out_name {
        bindgen.out_name(name);
    }
    match target.as_str() {
        "web" => bindgen.web(true)?,
        "nodejs" => bindgen.nodejs(true)?,
        "bundler" => bindgen.bundler(true)?,
        other => bail!("unsupported --target {other} (web, nodejs or bundler)"),
    };
    bindgen
        .generate(&out_dir)
        .with_context(|| format!("cannot generate bindings of {input} into {out_dir}"))
}
