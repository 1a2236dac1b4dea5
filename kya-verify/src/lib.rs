#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod agent;
pub mod cache;
pub mod chain;
pub mod clock;
pub mod decision;
pub mod error;
pub mod http;
pub mod ledger;
#[cfg(feature = "tower")]
pub mod middleware;
pub mod nonce;
pub mod policy;
pub mod presentation;
pub mod registry;
pub mod snapshot;
pub mod verifier;

pub use agent::{ChainDigest, ChainLink, PresentationFacts, RegistrationFacts, VerifiedAgent};
pub use cache::ChainCache;
pub use chain::{DetachedSignature, verify_chain};
pub use clock::{Clock, FixedClock, SystemClock};
pub use decision::{Decision, LinkOutcome, Reason};
pub use error::VerifyError;
pub use ledger::{Charge, Ledger, LedgerKey, MemoryLedger};
pub use nonce::{MemoryNonceStore, NonceStore};
pub use policy::{Limits, Policy, PolicyBuilder, PolicyError};
pub use presentation::{check_window, present, verify_presentation};
pub use registry::{
    AgentRecord, Feedback, IssuerRevocation, MemoryRegistry, RegistryView, ReputationSummary,
    Revocation,
};
pub use verifier::{ChainSource, Verifier};
