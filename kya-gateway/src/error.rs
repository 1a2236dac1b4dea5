//! What can stop the gateway from starting, reloading or syncing.

/// A gateway error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A file could not be read or a socket could not be bound.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The policy file does not load.
    #[error("policy {path}: {source}")]
    Policy {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: kya_verify::PolicyError,
    },
    /// The status lists do not load.
    #[error("status lists: {0}")]
    StatusLists(#[from] kya_verify::StatusListsError),
    /// The registry (deployment file, snapshot, sync) failed.
    #[error("registry: {0}")]
    Registry(#[source] Box<kya_registry::RegistryError>),
    /// The receipt log cannot be opened.
    #[error("receipts: {0}")]
    Receipts(#[source] Box<kya_audit::JournalError>),
    /// A store the configuration names is not available in this build.
    #[error("stores: {0}")]
    Stores(String),
}

impl From<kya_audit::JournalError> for GatewayError {
    fn from(e: kya_audit::JournalError) -> Self {
        Self::Receipts(Box::new(e))
    }
}

impl From<kya_registry::RegistryError> for GatewayError {
    fn from(e: kya_registry::RegistryError) -> Self {
        Self::Registry(Box::new(e))
    }
}
