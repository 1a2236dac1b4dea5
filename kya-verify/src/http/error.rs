//! Why a signed request was refused before any decision was made.

use kya_core::Timestamp;

use crate::code::Code;
use crate::error::VerifyError;

/// Why a signed HTTP request was refused. [`code`](Self::code) is stable and machine-readable;
/// [`status`](Self::status) is the HTTP status a merchant answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// No `Signature-Input` / `Signature` pair in the Web Bot Auth profile.
    #[error("the request is not signed: {detail}")]
    SignatureMissing {
        /// What was missing.
        detail: String,
    },
    /// The signature headers could not be read.
    #[error("malformed signature: {detail}")]
    SignatureMalformed {
        /// Why.
        detail: String,
    },
    /// A component the verifier requires is not covered by the signature.
    #[error("the signature does not cover `{component}`")]
    ComponentNotCovered {
        /// The component (`@method`, `content-digest`, `kya-amount`, …).
        component: String,
    },
    /// A covered component is absent from the request.
    #[error("the signature covers `{component}`, which the request does not have")]
    ComponentMissing {
        /// The component.
        component: String,
    },
    /// `alg` names something other than `ed25519`.
    #[error("signature algorithm `{alg}` is not supported (only ed25519)")]
    AlgorithmUnsupported {
        /// The `alg` parameter.
        alg: String,
    },
    /// A required signature parameter is missing or of the wrong type.
    #[error("signature parameter `{name}` is missing or invalid")]
    ParameterInvalid {
        /// The parameter.
        name: &'static str,
    },
    /// `expires − created` exceeds the policy's maximum.
    #[error("the signature is valid for {window_seconds} s, more than the {max_seconds} s allowed")]
    WindowTooLong {
        /// `expires − created`.
        window_seconds: i64,
        /// The policy's maximum.
        max_seconds: i64,
    },
    /// `created` is after now + skew.
    #[error("the signature was created at {created}, after now ({now}) + {skew_seconds} s skew")]
    CreatedInFuture {
        /// `created`.
        created: Timestamp,
        /// The verifier's now.
        now: Timestamp,
        /// The allowed skew.
        skew_seconds: i64,
    },
    /// now is after `expires` + skew.
    #[error("the signature expired at {expires} (now {now})")]
    Expired {
        /// `expires`.
        expires: Timestamp,
        /// The verifier's now.
        now: Timestamp,
    },
    /// `Content-Digest` is not a `sha-256` structured dictionary member.
    #[error("Content-Digest must carry a sha-256 member: `sha-256=:<base64>:`")]
    ContentDigestMalformed,
    /// The body does not match `Content-Digest`.
    #[error("the body does not match Content-Digest")]
    ContentDigestMismatch,
    /// Neither `KYA-Chain` nor `KYA-Chain-Digest` (or both).
    #[error("the request must carry exactly one of KYA-Chain and KYA-Chain-Digest")]
    ChainMissing,
    /// `KYA-Chain` / `KYA-Chain-Digest` could not be read.
    #[error("malformed credential chain: {detail}")]
    ChainMalformed {
        /// Why.
        detail: String,
    },
    /// The chain is larger than the verifier accepts.
    #[error("the credential chain is larger than {max_bytes} bytes")]
    ChainTooLarge {
        /// The limit.
        max_bytes: usize,
    },
    /// `KYA-Chain-Digest` names a chain the verifier does not have.
    #[error("unknown chain digest {digest}: send the chain in KYA-Chain (or register it) first")]
    ChainUnknownDigest {
        /// The digest, hex.
        digest: String,
    },
    /// The credential chain, the agent's signature or its nonce did not verify, or a store
    /// the verifier needs could not answer.
    #[error(transparent)]
    Chain(#[from] VerifyError),
    /// The signed `@authority` is not one of this merchant's: the request was signed for
    /// another merchant.
    #[error("the request is signed for `{authority}`, which is not this merchant ({})", expected.join(", "))]
    AuthorityMismatch {
        /// The signed `@authority`.
        authority: String,
        /// This merchant's authorities.
        expected: Vec<String>,
    },
    /// The path has dot segments, encoded dots or separators, or backslashes: refused before
    /// routing, so that the path judged is the path the handler sees.
    #[error(
        "the path `{path}` is not in normal form (dot segments, encoded dots or slashes, backslashes)"
    )]
    PathNotNormalized {
        /// The path (truncated).
        path: String,
    },
    /// No route maps this request to an action, and the merchant did not opt in to the
    /// action the agent declares.
    #[error("no route maps {method} {path} to an action")]
    RouteNotMapped {
        /// The method.
        method: String,
        /// The path (truncated).
        path: String,
    },
    /// The agent's share of the chain store is full.
    #[error(
        "the chain store holds {held} bytes for this agent; {more} more would exceed its share of {max} bytes"
    )]
    ChainQuotaExceeded {
        /// Bytes held for the agent.
        held: usize,
        /// Bytes of the new chain.
        more: usize,
        /// The agent's share.
        max: usize,
    },
    /// `keyid` is not the JWK thumbprint of the chain's agent key.
    #[error("keyid `{keyid}` is not the agent's key thumbprint `{expected}`")]
    KeyIdMismatch {
        /// The `keyid` parameter.
        keyid: String,
        /// The thumbprint of the leaf subject's key.
        expected: String,
    },
    /// The signature does not verify (kya's Ed25519 rule, `kya_core::ed25519`).
    #[error("the request signature does not verify")]
    SignatureInvalid,
    /// A `kya-*` header appears more than once.
    #[error("header `{name}` appears more than once")]
    DuplicateHeader {
        /// The header.
        name: String,
    },
    /// A `kya-*` header could not be read.
    #[error("header `{name}`: {detail}")]
    HeaderInvalid {
        /// The header.
        name: String,
        /// Why.
        detail: String,
    },
    /// The body is larger than the middleware buffers.
    #[error("the body is larger than {max_bytes} bytes")]
    BodyTooLarge {
        /// The limit.
        max_bytes: usize,
    },
    /// The request cannot be interpreted (no authority, a bad URL, …).
    #[error("bad request: {detail}")]
    BadRequest {
        /// Why.
        detail: String,
    },
}

impl HttpError {
    /// The stable machine code.
    pub fn code(&self) -> Code {
        match self {
            Self::SignatureMissing { .. } => Code::SignatureMissing,
            Self::SignatureMalformed { .. } => Code::SignatureMalformed,
            Self::ComponentNotCovered { .. } => Code::SignatureComponentNotCovered,
            Self::ComponentMissing { .. } => Code::SignatureComponentMissing,
            Self::AlgorithmUnsupported { .. } => Code::SignatureAlgorithmUnsupported,
            Self::ParameterInvalid { .. } => Code::SignatureParameterInvalid,
            Self::WindowTooLong { .. } => Code::SignatureWindowTooLong,
            Self::CreatedInFuture { .. } => Code::SignatureCreatedInFuture,
            Self::Expired { .. } => Code::SignatureExpired,
            Self::ContentDigestMalformed => Code::ContentDigestMalformed,
            Self::ContentDigestMismatch => Code::ContentDigestMismatch,
            Self::ChainMissing => Code::ChainMissing,
            Self::ChainMalformed { .. } => Code::ChainMalformed,
            Self::ChainTooLarge { .. } => Code::ChainTooLarge,
            Self::ChainUnknownDigest { .. } => Code::ChainUnknownDigest,
            // The request's own signature failing is told apart from a chain link's.
            Self::Chain(VerifyError::BadSignature { link: None, .. }) => Code::SignatureInvalid,
            Self::Chain(VerifyError::HolderMismatch { .. }) => Code::SignatureKeyidMismatch,
            Self::Chain(e) => e.code(),
            Self::AuthorityMismatch { .. } => Code::AuthorityMismatch,
            Self::PathNotNormalized { .. } => Code::PathNotNormalized,
            Self::RouteNotMapped { .. } => Code::RouteNotMapped,
            Self::ChainQuotaExceeded { .. } => Code::ChainQuotaExceeded,
            Self::KeyIdMismatch { .. } => Code::SignatureKeyidMismatch,
            Self::SignatureInvalid => Code::SignatureInvalid,
            Self::DuplicateHeader { .. } => Code::HeaderDuplicate,
            Self::HeaderInvalid { .. } => Code::HeaderInvalid,
            Self::BodyTooLarge { .. } => Code::BodyTooLarge,
            Self::BadRequest { .. } => Code::BadRequest,
        }
    }

    /// The HTTP status for this refusal: 401 when the request is not (or no longer) proof of
    /// an agent's authority here, 400 for unreadable headers or paths, 403 for an unmapped
    /// route, 413 for an oversized body, 429 when the agent's share of a store is full, 503
    /// when a store cannot answer (retry later; never a refusal of the agent).
    pub fn status(&self) -> u16 {
        match self {
            Self::DuplicateHeader { .. }
            | Self::HeaderInvalid { .. }
            | Self::BadRequest { .. }
            | Self::PathNotNormalized { .. } => 400,
            Self::RouteNotMapped { .. } => 403,
            Self::BodyTooLarge { .. } => 413,
            Self::ChainQuotaExceeded { .. }
            | Self::Chain(VerifyError::NonceQuotaExceeded { .. }) => 429,
            Self::Chain(VerifyError::StoreUnavailable(_)) => 503,
            _ => 401,
        }
    }

    /// The chain link this refusal concerns, if any (0 = root).
    pub fn link(&self) -> Option<usize> {
        match self {
            Self::Chain(e) => e.link(),
            _ => None,
        }
    }
}
