//! Errors: contract reverts decoded into the `sol!`-generated error types ([`ContractRevert`]),
//! everything else in [`RegistryError`], with the alloy error kept as the typed source.

use std::fmt;

use alloy::primitives::{B256, Bytes, U256};
use alloy::sol_types::{Revert, SolError, SolInterface};
use kya_verify::snapshot::SnapshotError;

use crate::bindings::KyaIdentityRegistry::KyaIdentityRegistryErrors;
use crate::bindings::KyaLogAnchor::KyaLogAnchorErrors;
use crate::bindings::KyaReputationRegistry::KyaReputationRegistryErrors;
use crate::bindings::KyaValidationRegistry::KyaValidationRegistryErrors;

/// Everything that can go wrong talking to the registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The contract refused: a custom error (or revert string / panic) it reverted with.
    #[error("the registry refused: {0}")]
    Contract(ContractRevert),
    /// The transaction was mined but reverted (no revert data is available from a receipt).
    #[error("transaction {tx_hash} reverted on-chain")]
    Reverted {
        /// The transaction.
        tx_hash: B256,
    },
    /// The node could not be reached, or answered with an error response that is not a
    /// revert. The source tells a connection failure or timeout
    /// ([`TransportError::Transport`](alloy::transports::RpcError::Transport)) from a JSON-RPC
    /// error response ([`TransportError::ErrorResp`](alloy::transports::RpcError::ErrorResp)).
    #[error("rpc request failed")]
    Rpc(#[source] alloy::transports::TransportError),
    /// A contract call failed other than by a revert or a transport error (e.g. its return
    /// data did not decode: wrong contract at that address?).
    #[error("contract call failed")]
    Call(#[source] alloy::contract::Error),
    /// Waiting for a sent transaction failed other than by a transport error (e.g. it was
    /// not mined in time).
    #[error("waiting for the transaction failed")]
    Pending(#[source] alloy::providers::PendingTransactionError),
    /// A log did not decode as the event its signature names (wrong contract at that address?).
    #[error("undecodable {event} log")]
    Log {
        /// The event.
        event: &'static str,
        /// The decoding error.
        #[source]
        source: alloy::sol_types::Error,
    },
    /// A snapshot could not be read, or the chain data does not fit it.
    #[error("{context}")]
    Snapshot {
        /// Which snapshot, or which event.
        context: String,
        /// The cause.
        #[source]
        source: SnapshotError,
    },
    /// A deployment file could not be read or written as JSON.
    #[error("{context}")]
    Json {
        /// Which file.
        context: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A receipt or block did not have the expected shape (wrong contract at that address?).
    #[error("unexpected chain data: {0}")]
    Unexpected(String),
    /// A value given by the caller is out of range (e.g. an agent id that is not a uint256).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The deployment has no such contract (a deployment file written before it existed).
    #[error("the deployment has no {contract} contract")]
    NotDeployed {
        /// `log anchor` or `validation registry`.
        contract: &'static str,
    },
    /// A read would return more than the caller's bound: ask for a smaller block range.
    #[error("{what}: more than {max} results")]
    TooManyResults {
        /// What was read.
        what: String,
        /// The caller's bound.
        max: usize,
    },
    /// Reading or writing a file (snapshot, deployment file) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A reorganisation went deeper than the snapshot's kept block window, and rebuilding
    /// from scratch was not allowed.
    #[error("chain reorganisation deeper than the snapshot's kept window (snapshot block {block})")]
    DeepReorg {
        /// The snapshot's block.
        block: u64,
    },
    /// The snapshot belongs to another chain or other registry contracts.
    #[error("snapshot mismatch: {0}")]
    SnapshotMismatch(String),
    /// A request to one of several endpoints failed.
    #[error("rpc request to {endpoint} failed")]
    RpcAt {
        /// The endpoint.
        endpoint: String,
        /// The cause.
        #[source]
        source: alloy::transports::TransportError,
    },
    /// Fewer than `quorum` endpoints gave the same answer.
    #[error(
        "no quorum on {what}: {quorum} endpoints must agree, they answered: {}",
        list(answers)
    )]
    NoQuorum {
        /// What was asked.
        what: String,
        /// How many must agree.
        quorum: usize,
        /// Every endpoint's answer.
        answers: Vec<crate::sources::Answer>,
    },
    /// A block the snapshot holds as final has another hash (or is gone): history was
    /// rewritten below what was finalized, or the sources serve another history. Not a
    /// reorganisation: the snapshot is kept unless a rebuild is asked for.
    #[error(
        "block {block} had hash {expected} when it was final; the sources now give {}",
        got.map_or_else(|| "no such block".to_owned(), |h| h.to_string())
    )]
    FinalityViolation {
        /// The block number.
        block: u64,
        /// The hash the snapshot recorded.
        expected: B256,
        /// What the sources agree on now.
        got: Option<B256>,
    },
    /// The sources' block 0 is not the snapshot's: another chain under the same chain id.
    #[error(
        "chain {chain_id}: the snapshot's genesis is {expected}, the sources' genesis is {got}"
    )]
    GenesisMismatch {
        /// The chain id both claim.
        chain_id: u64,
        /// The snapshot's genesis hash.
        expected: B256,
        /// The sources' genesis hash.
        got: B256,
    },
    /// No contract code at a registry's address: a chain without the registry.
    #[error("no contract code at the {registry} registry {address} in block {block}")]
    NoRegistryCode {
        /// `identity` or `reputation`.
        registry: &'static str,
        /// The address.
        address: alloy::primitives::Address,
        /// The block read.
        block: u64,
    },
    /// A storage proof (or the block it is anchored in) does not verify.
    #[error("proof refused: {0}")]
    Proof(String),
    /// A Merkle-Patricia proof failed the trie check.
    #[error("proof refused: {context}")]
    Trie {
        /// Which proof.
        context: String,
        /// The trie's verdict.
        #[source]
        source: Box<alloy::trie::proof::ProofVerificationError>,
    },
}

fn list(answers: &[crate::sources::Answer]) -> String {
    let parts: Vec<String> = answers.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

impl RegistryError {
    /// The decoded revert, if the contract refused.
    pub fn as_revert(&self) -> Option<&ContractRevert> {
        match self {
            Self::Contract(r) => Some(r),
            _ => None,
        }
    }

    /// The identity registry's custom error, if it refused with one.
    pub fn as_identity(&self) -> Option<&KyaIdentityRegistryErrors> {
        self.as_revert().and_then(ContractRevert::as_identity)
    }

    /// The reputation registry's custom error, if it refused with one.
    pub fn as_reputation(&self) -> Option<&KyaReputationRegistryErrors> {
        self.as_revert().and_then(ContractRevert::as_reputation)
    }

    /// The checkpoint anchor's custom error, if it refused with one.
    pub fn as_log_anchor(&self) -> Option<&KyaLogAnchorErrors> {
        self.as_revert().and_then(ContractRevert::as_log_anchor)
    }

    /// The validation registry's custom error, if it refused with one.
    pub fn as_validation(&self) -> Option<&KyaValidationRegistryErrors> {
        self.as_revert().and_then(ContractRevert::as_validation)
    }
}

/// Revert data longer than this is not decoded: the registries' errors are a few words, so
/// anything longer is another contract's, and decoding it would only cost time.
pub const MAX_DECODED_REVERT_LEN: usize = 16 * 1024;

/// A revert of the kya registry contracts (or of any ERC-8004 registry sharing their errors),
/// decoded into the types `sol!` generates from the contracts' ABI, so the error list is never
/// copied by hand. `Display` is a lowercase sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContractRevert {
    /// A custom error of the identity registry (including the ERC-721 errors).
    Identity(KyaIdentityRegistryErrors),
    /// A custom error of the reputation registry.
    Reputation(KyaReputationRegistryErrors),
    /// A custom error of the checkpoint anchor.
    LogAnchor(KyaLogAnchorErrors),
    /// A custom error of the validation registry (those it shares with the identity or the
    /// reputation registry — `KyaUnauthorized`, `KyaTagTooLong`, `KyaZeroIdentityRegistry` —
    /// decode as theirs: same name, same arguments, same meaning).
    Validation(KyaValidationRegistryErrors),
    /// A `revert("…")` / `require(…, "…")` string.
    Revert(String),
    /// A Solidity panic (`Panic(uint256)`: overflow, division by zero, …) and its code.
    Panic(U256),
    /// Revert data this client does not know (another contract's custom error, or data too
    /// long to decode), kept as it came.
    Unknown(Bytes),
    /// The call reverted without any data.
    NoReason,
}

impl ContractRevert {
    /// Decodes revert data against the identity and reputation registries' errors, then the
    /// standard `Error(string)` and `Panic(uint256)`. Never panics; data over
    /// [`MAX_DECODED_REVERT_LEN`] bytes is kept undecoded.
    pub fn decode(data: &[u8]) -> Self {
        if data.is_empty() {
            return Self::NoReason;
        }
        if data.len() > MAX_DECODED_REVERT_LEN {
            return Self::Unknown(Bytes::copy_from_slice(data));
        }
        if let Ok(e) = KyaIdentityRegistryErrors::abi_decode(data) {
            return Self::Identity(e);
        }
        if let Ok(e) = KyaReputationRegistryErrors::abi_decode(data) {
            return Self::Reputation(e);
        }
        if let Ok(e) = KyaLogAnchorErrors::abi_decode(data) {
            return Self::LogAnchor(e);
        }
        if let Ok(e) = KyaValidationRegistryErrors::abi_decode(data) {
            return Self::Validation(e);
        }
        if let Ok(r) = Revert::abi_decode(data) {
            return Self::Revert(r.reason);
        }
        if let Ok(p) = alloy::sol_types::Panic::abi_decode(data) {
            return Self::Panic(p.code);
        }
        Self::Unknown(Bytes::copy_from_slice(data))
    }

    /// The identity registry's custom error, if it is one.
    pub fn as_identity(&self) -> Option<&KyaIdentityRegistryErrors> {
        match self {
            Self::Identity(e) => Some(e),
            _ => None,
        }
    }

    /// The reputation registry's custom error, if it is one.
    pub fn as_reputation(&self) -> Option<&KyaReputationRegistryErrors> {
        match self {
            Self::Reputation(e) => Some(e),
            _ => None,
        }
    }

    /// The checkpoint anchor's custom error, if it is one.
    pub fn as_log_anchor(&self) -> Option<&KyaLogAnchorErrors> {
        match self {
            Self::LogAnchor(e) => Some(e),
            _ => None,
        }
    }

    /// The validation registry's custom error, if it is one.
    pub fn as_validation(&self) -> Option<&KyaValidationRegistryErrors> {
        match self {
            Self::Validation(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for ContractRevert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Identity(e) => {
                if let Some(s) = identity_wording(e) {
                    return f.write_str(&s);
                }
                let name = KyaIdentityRegistryErrors::name_by_selector(e.selector());
                write_generic(f, name, e)
            }
            Self::Reputation(e) => {
                let name = KyaReputationRegistryErrors::name_by_selector(e.selector());
                write_generic(f, name, e)
            }
            Self::LogAnchor(KyaLogAnchorErrors::KyaTreeSizeNotIncreasing(e)) => write!(
                f,
                "tree size {} of log {} is not above {}, the size {} anchored last",
                e.treeSize, e.logId, e.latestTreeSize, e.anchorer
            ),
            Self::LogAnchor(e) => {
                let name = KyaLogAnchorErrors::name_by_selector(e.selector());
                write_generic(f, name, e)
            }
            Self::Validation(e) => {
                let name = KyaValidationRegistryErrors::name_by_selector(e.selector());
                write_generic(f, name, e)
            }
            Self::Revert(reason) => write!(f, "reverted: {reason}"),
            Self::Panic(code) => write!(f, "panic code {code:#x}"),
            Self::Unknown(data) => match data.get(..4) {
                Some(selector) => write!(
                    f,
                    "unknown custom error with selector 0x{}",
                    hex::encode(selector)
                ),
                None => write!(f, "reverted with malformed data 0x{}", hex::encode(data)),
            },
            Self::NoReason => f.write_str("reverted without a reason"),
        }
    }
}

impl std::error::Error for ContractRevert {}

/// Sentences for the identity errors a user meets in normal use (an operator mistake rather
/// than a client bug); the CLI shows these, so their wording is kept stable.
fn identity_wording(e: &KyaIdentityRegistryErrors) -> Option<String> {
    use KyaIdentityRegistryErrors as E;
    Some(match e {
        E::KyaUnauthorized(e) => format!(
            "{} is neither the owner nor an operator of agent {}",
            e.caller, e.agentId
        ),
        E::ERC721NonexistentToken(e) => format!("agent {} does not exist", e.tokenId),
        E::KyaKeyAlreadyBound(e) => format!(
            "key {} is already bound to agent {} (since block {})",
            e.key, e.agentId, e.boundAt
        ),
        E::KyaKeyNotBound(e) => format!("key {} is not bound to agent {}", e.key, e.agentId),
        E::KyaKeyRetired(e) => format!(
            "key {} was unbound from agent {} at block {} and cannot be bound again",
            e.key, e.agentId, e.unboundAt
        ),
        E::KyaPrincipalKeyRetired(e) => format!(
            "key {} was unbound from principal {} at block {} and cannot be bound again",
            e.key, e.principal, e.unboundAt
        ),
        E::KyaURITooLong(e) => format!(
            "the agent uri is {} bytes, over the limit of {}",
            e.length, e.maxLength
        ),
        _ => return None,
    })
}

/// `name` as lowercase words, then the fields as `Debug` prints them: e.g. `KyaTagTooLong`
/// becomes "tag too long { length: 65, maxLength: 64 }". Written once for every error, so a
/// new contract error needs no code here.
fn write_generic(
    f: &mut fmt::Formatter<'_>,
    name: Option<&str>,
    e: &impl fmt::Debug,
) -> fmt::Result {
    let name = name.unwrap_or("custom error");
    f.write_str(&words(name.strip_prefix("Kya").unwrap_or(name)))?;
    // The enum's Debug is `Name(Name { fields })`, or `Name(Name)` without fields.
    let debug = format!("{e:?}");
    if let (Some(open), Some(close)) = (debug.find('{'), debug.rfind('}'))
        && open < close
    {
        write!(f, " {}", &debug[open..=close])?;
    }
    Ok(())
}

/// `CamelCase` to lowercase words; digits stay with the word before (`ERC721Invalid…` →
/// "erc721 invalid …").
fn words(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            // A new word starts after a lowercase letter or digit, or at the last capital of
            // an acronym (`URITooLong` → "uri too long").
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push(' ');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

impl From<alloy::contract::Error> for RegistryError {
    fn from(e: alloy::contract::Error) -> Self {
        if let Some(data) = e.as_revert_data() {
            return Self::Contract(ContractRevert::decode(&data));
        }
        match e {
            alloy::contract::Error::TransportError(t) => t.into(),
            other => Self::Call(other),
        }
    }
}

impl From<alloy::transports::TransportError> for RegistryError {
    fn from(e: alloy::transports::TransportError) -> Self {
        if let Some(resp) = e.as_error_resp() {
            // The node attached revert data (e.g. to an `eth_estimateGas` or `eth_call` error).
            if let Some(data) = resp.as_revert_data() {
                return Self::Contract(ContractRevert::decode(&data));
            }
            // Reverts without data ("execution reverted") are still reverts.
            if resp.message.contains("revert") {
                return Self::Contract(ContractRevert::NoReason);
            }
        }
        Self::Rpc(e)
    }
}

impl From<alloy::providers::PendingTransactionError> for RegistryError {
    fn from(e: alloy::providers::PendingTransactionError) -> Self {
        match e {
            alloy::providers::PendingTransactionError::TransportError(t) => t.into(),
            other => Self::Pending(other),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::bindings::{KyaIdentityRegistry, KyaReputationRegistry};

    #[test]
    fn decodes_into_the_generated_types() {
        let e = KyaIdentityRegistry::KyaURITooLong {
            length: U256::from(3000),
            maxLength: U256::from(2048),
        };
        let data = KyaIdentityRegistryErrors::KyaURITooLong(e.clone()).abi_encode();
        let r = ContractRevert::decode(&data);
        assert!(matches!(
            &r,
            ContractRevert::Identity(KyaIdentityRegistryErrors::KyaURITooLong(d)) if *d == e
        ));
        assert_eq!(
            r.to_string(),
            "the agent uri is 3000 bytes, over the limit of 2048"
        );

        let data =
            KyaReputationRegistryErrors::KyaTagTooLong(KyaReputationRegistry::KyaTagTooLong {
                length: U256::from(65),
                maxLength: U256::from(64),
            })
            .abi_encode();
        assert_eq!(
            ContractRevert::decode(&data).to_string(),
            "tag too long { length: 65, maxLength: 64 }"
        );
        let data = KyaReputationRegistryErrors::KyaClientsRequired(
            KyaReputationRegistry::KyaClientsRequired {},
        )
        .abi_encode();
        assert_eq!(
            ContractRevert::decode(&data).to_string(),
            "clients required"
        );
    }

    #[test]
    fn decodes_anchor_and_validation_errors() {
        use crate::bindings::{KyaLogAnchor, KyaValidationRegistry};
        let e = KyaLogAnchor::KyaTreeSizeNotIncreasing {
            anchorer: alloy::primitives::Address::repeat_byte(0xaa),
            logId: B256::repeat_byte(0x11),
            latestTreeSize: 20,
            treeSize: 10,
        };
        let r = ContractRevert::decode(
            &KyaLogAnchorErrors::KyaTreeSizeNotIncreasing(e.clone()).abi_encode(),
        );
        assert!(matches!(
            r.as_log_anchor(),
            Some(KyaLogAnchorErrors::KyaTreeSizeNotIncreasing(d)) if *d == e
        ));
        assert!(r.to_string().starts_with("tree size 10 of log 0x1111"));
        assert!(r.to_string().contains("is not above 20"));

        let e = KyaValidationRegistry::KyaAmbiguousRequestHash {
            requestHash: B256::repeat_byte(0x22),
        };
        let r = ContractRevert::decode(
            &KyaValidationRegistryErrors::KyaAmbiguousRequestHash(e.clone()).abi_encode(),
        );
        assert!(matches!(
            r.as_validation(),
            Some(KyaValidationRegistryErrors::KyaAmbiguousRequestHash(d)) if *d == e
        ));
        assert!(r.to_string().starts_with("ambiguous request hash {"));
    }

    #[test]
    fn standard_and_unknown_reverts() {
        let data = Revert::from("nope").abi_encode();
        assert_eq!(
            ContractRevert::decode(&data),
            ContractRevert::Revert("nope".into())
        );
        let data = alloy::sol_types::Panic::from(0x11).abi_encode();
        assert_eq!(
            ContractRevert::decode(&data),
            ContractRevert::Panic(U256::from(0x11))
        );
        assert_eq!(ContractRevert::decode(&[]), ContractRevert::NoReason);
        let r = ContractRevert::decode(&[1, 2, 3, 4, 5]);
        assert_eq!(
            r.to_string(),
            "unknown custom error with selector 0x01020304"
        );
        assert!(matches!(
            ContractRevert::decode(&[1, 2]),
            ContractRevert::Unknown(_)
        ));
    }

    #[test]
    fn arbitrary_data_never_panics() {
        // Every known selector followed by truncated, garbage and oversized bodies.
        let selectors = KyaIdentityRegistryErrors::SELECTORS
            .iter()
            .chain(KyaReputationRegistryErrors::SELECTORS)
            .chain(KyaLogAnchorErrors::SELECTORS)
            .chain(KyaValidationRegistryErrors::SELECTORS)
            .chain([&Revert::SELECTOR, &alloy::sol_types::Panic::SELECTOR]);
        for sel in selectors {
            for len in [
                0usize,
                1,
                31,
                32,
                33,
                64,
                95,
                96,
                200,
                MAX_DECODED_REVERT_LEN + 1,
            ] {
                for fill in [0u8, 0xff, 0x20] {
                    let mut data = sel.to_vec();
                    data.resize(4 + len, fill);
                    let r = ContractRevert::decode(&data);
                    let _ = r.to_string();
                }
            }
        }
    }

    #[test]
    fn node_error_answers_stay_typed() {
        use alloy::transports::TransportError;
        // The payload type is alloy's `ErrorPayload`, read the way a node's answer is.
        let answer = |message: &str, data: Option<&str>| {
            let mut payload = serde_json::json!({ "code": 3, "message": message });
            if let Some(d) = data {
                payload["data"] = serde_json::Value::String(d.into());
            }
            TransportError::err_resp(serde_json::from_value(payload).unwrap())
        };
        // Not a revert: the JSON-RPC error response is kept, with its code.
        let e = RegistryError::from(answer("block range too large", None));
        assert!(
            matches!(&e, RegistryError::Rpc(t) if t.as_error_resp().is_some_and(|p| p.code == 3))
        );
        // A revert with data decodes; without data it is still a revert.
        let data = Revert::from("nope").abi_encode();
        let hex = format!("0x{}", hex::encode(&data));
        let e = RegistryError::from(answer("execution reverted: nope", Some(&hex)));
        assert!(matches!(e.as_revert(), Some(ContractRevert::Revert(r)) if r == "nope"));
        let e = RegistryError::from(answer("execution reverted", None));
        assert_eq!(e.as_revert(), Some(&ContractRevert::NoReason));
    }

    #[test]
    fn camel_case_to_words() {
        assert_eq!(words("ERC721NonexistentToken"), "erc721 nonexistent token");
        assert_eq!(words("URITooLong"), "uri too long");
        assert_eq!(words("EmptyResponseURI"), "empty response uri");
    }
}
