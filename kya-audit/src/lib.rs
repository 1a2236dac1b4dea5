#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod audit;
pub mod explain;
pub mod history;
pub mod issuer;
mod jcs;
pub mod journal;
pub mod receipt;

pub use audit::{Anchor, AuditError, Audited, Evidence, ProveError, audit, prove};
pub use explain::explain;
pub use history::chain_at;
pub use issuer::{RECEIPT_HEADER, ReceiptIssuer};
pub use journal::{Journal, JournalError};
pub use receipt::{Activity, Outcome, Receipt, ReceiptError, SettlementRecord, SignedReceipt};
