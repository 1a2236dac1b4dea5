#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod anchor;
pub mod bindings;
mod client;
mod erc8004;
mod error;
mod fsutil;
pub mod proof;
pub mod sources;
pub mod sync;
mod validation;

pub use alloy::primitives::{Address, B256, U256};
pub use alloy::providers::DynProvider;
pub use alloy::rpc::types::BlockNumberOrTag;
pub use alloy::signers::local::PrivateKeySigner;
pub use anchor::{AnchoredCheckpoint, LatestCheckpoint, LogId};
pub use client::{
    AgentInfo, Deployment, FeedbackGiven, KeyPeriod, NewAgent, NewFeedbackEntry, Registration,
    Registry, TxInfo, agent_id_of, agent_id_to_u256, connect_http,
};
pub use erc8004::{Erc8004Agent, Erc8004Registry};
pub use error::{ContractRevert, MAX_DECODED_REVERT_LEN, RegistryError, Result};
pub use fsutil::{write_atomic, write_snapshot_unless_newer};
pub use kya_verify::snapshot::Snapshot;
pub use sources::{Answer, Sources};
pub use sync::{
    DEFAULT_PAGE_SIZE, Follow, Progress, SnapshotCheck, SyncEvent, SyncOptions, SyncReport,
    new_snapshot, read_snapshot, sync, sync_file, sync_file_sources, sync_sources, verify_snapshot,
    verify_snapshot_sources,
};
pub use validation::{MAX_ANSWERS_READ, RequestHash, ValidationAnswer, ValidationStatus};
