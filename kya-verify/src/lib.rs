#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod admission;
pub mod agent;
pub mod cache;
pub mod cards;
pub mod chain;
pub mod clock;
pub mod code;
pub mod decision;
pub mod error;
mod held;
pub mod http;
pub mod ledger;
#[cfg(feature = "tower")]
pub mod middleware;
pub mod nonce;
pub mod policy;
pub mod presentation;
pub mod registry;
pub mod reputation;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod validation;
pub mod verifier;

pub use admission::{Admission, AdmissionStore};
pub use agent::{ChainDigest, ChainLink, PresentationFacts, RegistrationFacts, VerifiedAgent};
pub use cache::ChainCache;
pub use cards::{AgentCardView, AgentCards};
pub use clock::{Clock, FixedClock, SystemClock};
pub use code::Code;
pub use decision::{Decision, LinkOutcome, Reason};
pub use error::VerifyError;
pub use ledger::{Charge, ChargeError, Ledger, LedgerKey, MemoryLedger, Usage};
pub use nonce::{MemoryNonceStore, NonceCounts, NonceKey, NonceQuotas, NonceStore, NonceVerdict};
pub use policy::{Limits, Policy, PolicyBuilder, PolicyError};
pub use presentation::{PresentationOptions, check_window, present};
pub use registry::{
    AgentRecord, BlockAt, Feedback, IssuerRevocation, MemoryRegistry, RegistryView,
    ReputationSummary, Revocation, Validation, ValidationAnswer,
};
pub use status::{StatusListView, StatusLists, StatusListsError};
pub use store::StoreUnavailable;
pub use verifier::{ChainInput, HolderProof, KeyRef, Verifier};
