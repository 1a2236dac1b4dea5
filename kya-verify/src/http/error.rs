//! Why a signed request was refused before any decision was made.

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
        /// `created` (unix seconds).
        created: i64,
        /// The verifier's now.
        now: i64,
        /// The allowed skew.
        skew_seconds: i64,
    },
    /// now is after `expires` + skew.
    #[error("the signature expired at {expires} (now {now})")]
    Expired {
        /// `expires` (unix seconds).
        expires: i64,
        /// The verifier's now.
        now: i64,
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
    /// The credential chain did not verify.
    #[error("credential chain: {message}")]
    Chain {
        /// The chain verifier's stable code.
        code: String,
        /// The link concerned (0 = root), when one is.
        link: Option<usize>,
        /// A human sentence.
        message: String,
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
    /// The nonce was seen before within its window.
    #[error("nonce already used: the request is a replay")]
    NonceReplayed,
    /// The nonce store could not answer; refused (fail closed).
    #[error("the nonce store is unavailable: {detail}")]
    NonceStoreUnavailable {
        /// Why.
        detail: String,
    },
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
    pub fn code(&self) -> &str {
        match self {
            Self::SignatureMissing { .. } => "signature_missing",
            Self::SignatureMalformed { .. } => "signature_malformed",
            Self::ComponentNotCovered { .. } => "signature_component_not_covered",
            Self::ComponentMissing { .. } => "signature_component_missing",
            Self::AlgorithmUnsupported { .. } => "signature_algorithm_unsupported",
            Self::ParameterInvalid { .. } => "signature_parameter_invalid",
            Self::WindowTooLong { .. } => "signature_window_too_long",
            Self::CreatedInFuture { .. } => "signature_created_in_future",
            Self::Expired { .. } => "signature_expired",
            Self::ContentDigestMalformed => "content_digest_malformed",
            Self::ContentDigestMismatch => "content_digest_mismatch",
            Self::ChainMissing => "chain_missing",
            Self::ChainMalformed { .. } => "chain_malformed",
            Self::ChainTooLarge { .. } => "chain_too_large",
            Self::ChainUnknownDigest { .. } => "chain_unknown_digest",
            Self::Chain { code, .. } => code,
            Self::KeyIdMismatch { .. } => "signature_keyid_mismatch",
            Self::SignatureInvalid => "signature_invalid",
            Self::NonceReplayed => "nonce_replayed",
            Self::NonceStoreUnavailable { .. } => "nonce_store_unavailable",
            Self::DuplicateHeader { .. } => "header_duplicate",
            Self::HeaderInvalid { .. } => "header_invalid",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::BadRequest { .. } => "bad_request",
        }
    }

    /// The HTTP status for this refusal: 401 when the request is not (or no longer) proof of
    /// an agent's authority, 400 for unreadable `kya-*` headers, 413 for an oversized body,
    /// 503 when the nonce store cannot answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::DuplicateHeader { .. } | Self::HeaderInvalid { .. } | Self::BadRequest { .. } => {
                400
            }
            Self::BodyTooLarge { .. } => 413,
            Self::NonceStoreUnavailable { .. } => 503,
            _ => 401,
        }
    }

    /// The chain link this refusal concerns, if any (0 = root).
    pub fn link(&self) -> Option<usize> {
        match self {
            Self::Chain { link, .. } => *link,
            _ => None,
        }
    }
}
