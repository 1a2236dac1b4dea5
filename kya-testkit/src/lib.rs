//! Test support for the kya workspace, never published: a local `anvil` node, spawned on a
//! free port and killed on drop (never a mock: the real node from the pinned Foundry install).
//!
//! anvil is found at `$KYA_ANVIL`, then `<workspace>/.tools/bin/anvil` (installed by
//! `cargo xtask install`), then on `PATH`. Each node runs with its own temporary home and
//! working directory, removed on drop, so parallel tests never share Foundry's caches or state.
//!
//! [`redis`] starts a real `redis-server` (single node or a 3-master cluster) the same way.

#[cfg(feature = "anvil")]
mod anvil;
pub mod redis;

#[cfg(feature = "anvil")]
pub use anvil::*;
