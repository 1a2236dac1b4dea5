#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
// Every binding is JavaScript-facing: compiled for wasm32-unknown-unknown only (a native
// build of the workspace compiles an empty crate).
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

mod credentials;
mod errors;
mod http;
mod js;
mod keys;
mod verify;

use wasm_bindgen::prelude::*;

pub use credentials::{delegate, issue_authorization};

/// Every stable code kya knows, in its order (`kya_verify::Code::ALL`): the package's
/// `KyaCode` type lists the same, and its tests check the two agree.
#[wasm_bindgen]
pub fn codes() -> Vec<String> {
    kya_verify::Code::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}
