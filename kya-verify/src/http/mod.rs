//! Signed HTTP requests: RFC 9421 HTTP Message Signatures with Ed25519, in the Web Bot Auth
//! profile, carrying (or naming) the agent's credential chain.
//!
//! The signature-base construction and the parsing of `Signature-Input` / `Signature` come
//! from Cloudflare's [`web_bot_auth`] crate; kya adds the checks a merchant needs around them
//! (window, skew, nonce, content digest, key binding, the credential chain) and verifies the
//! signature itself under kya's Ed25519 rule (`kya_core::ed25519`).
//!
//! # Wire format
//!
//! A request signed by an agent carries these headers (names are case-insensitive):
//!
//! ```text
//! Content-Digest:   sha-256=:<base64 SHA-256 of the body>:            (RFC 9530; also for an empty body)
//! KYA-Chain:        <base64url, no padding, of the JCS bytes of the chain, a JSON array root first>
//!   or
//! KYA-Chain-Digest: sha-256=:<base64 SHA-256 of those same JCS bytes>:  (a chain the verifier has)
//! KYA-Action:       payments/send                                        (optional)
//! KYA-Amount:       12.50 USD                                            (optional; decimal, one space, asset)
//! Signature-Input:  sig1=("@method" "@authority" "@path" "content-digest" "kya-chain" "kya-action" "kya-amount");
//!                   created=1735689600;expires=1735689900;nonce="<random>";
//!                   keyid="<RFC 7638 JWK thumbprint of the agent key>";alg="ed25519";tag="web-bot-auth"
//! Signature:        sig1=:<base64 Ed25519 signature of the RFC 9421 signature base>:
//! ```
//!
//! Rules the verifier enforces ([`HttpVerifier`]):
//!
//! - The label chosen is the first whose parameters make it a Web Bot Auth signature
//!   (`tag="web-bot-auth"`, `keyid`, `created`, `expires`, and `@authority` covered).
//! - `@method`, `@authority`, `@path` and `content-digest` must be covered, `@query` too when
//!   the request has a query, and every `kya-*` header present must be covered (each as the
//!   plain field, without parameters), so nothing a decision depends on can be changed in
//!   transit. A `Signature-Agent` present must be covered too (as the protocol's
//!   `"signature-agent";key="<label>"` member); field parameters other than `key` are not
//!   supported. `alg` is absent or `ed25519`; `nonce` is required.
//! - `expires − created` is at most the policy's maximum window (default 300 s, far below
//!   the 24 hours the Web Bot Auth protocol recommends as a ceiling: a short window bounds
//!   how long the nonce store must remember a nonce); `created` is not after now + skew; now
//!   is not after `expires` + skew.
//! - The body's SHA-256 matches `Content-Digest`.
//! - The chain verifies (see the crate's chain verification), `keyid` is the JWK thumbprint of
//!   the leaf subject's key (the agent), and the signature verifies under kya's Ed25519 rule.
//! - Only then is the nonce recorded in the nonce store; a nonce already seen is a replay.
//!
//! # Chains and header size
//!
//! Common proxies refuse request headers over 8 KiB (nginx `large_client_header_buffers`,
//! Apache `LimitRequestFieldSize`), and base64url inflates by 4/3. A signer therefore sends
//! the chain inline only while the `KYA-Chain` value stays under
//! [`INLINE_CHAIN_MAX_HEADER_BYTES`] (6 KiB), and otherwise names it with `KYA-Chain-Digest`.
//! A verifier resolves a digest through its [`ChainStore`]: every chain that verified inline
//! is stored there, and a merchant may accept a chain once in the body of a registration call
//! (the example merchant's `POST /kya/chains`) and answer with its digest. An unknown digest
//! is refused with `chain_unknown_digest` (401), telling the agent to send the chain.
//!
//! # What is decided
//!
//! After verification the request is mapped to a [`kya_core::grant::Request`]: the action is
//! taken from the merchant's [`RouteMap`] when a route matches (a covered `KYA-Action` header
//! must then agree), otherwise from `KYA-Action`; the amount from `KYA-Amount`; the audience is
//! the merchant's own identifier (never a header); the resource is
//! `<scheme>://<authority><path>`; the time is the verifier's clock.

mod chains;
mod error;
mod gate;
mod input;
mod message;
mod sf;
mod sign;
mod verify;

pub use chains::{ChainOwner, ChainStore, MemoryChainStore};
pub use error::HttpError;
pub use gate::{AdmitError, Admitted, KyaGate, ProblemReason, Refusal, one_reason_problem};
pub use message::{
    ChainRef, HttpRequest, content_digest, format_amount_header, jwk_thumbprint,
    parse_amount_header, verify_content_digest,
};
pub use sign::{ChainTransport, RequestSigner, SignOptions, SignedHeaders};
pub use verify::{
    ChainFrom, CheckedSignature, HttpPolicy, HttpVerifier, RequestChain, Route, RouteMap,
    VerifiedRequest, check_normalized_path, longest_under, path_under,
};

/// `Signature-Input` (RFC 9421).
pub const SIGNATURE_INPUT: &str = "signature-input";
/// `Signature` (RFC 9421).
pub const SIGNATURE: &str = "signature";
/// `Content-Digest` (RFC 9530).
pub const CONTENT_DIGEST: &str = "content-digest";
/// `KYA-Chain`: the credential chain, base64url (no padding) of its JCS bytes.
pub const KYA_CHAIN: &str = "kya-chain";
/// `KYA-Chain-Digest`: `sha-256=:<base64>:` of the chain's JCS bytes, for a chain the
/// verifier already has.
pub const KYA_CHAIN_DIGEST: &str = "kya-chain-digest";
/// `KYA-Action`: the action the agent asks to perform (a grant action path).
pub const KYA_ACTION: &str = "kya-action";
/// `KYA-Amount`: `<decimal> <asset>`, e.g. `12.50 USD`.
pub const KYA_AMOUNT: &str = "kya-amount";
/// The `tag` parameter of a Web Bot Auth signature.
pub const WEB_BOT_AUTH_TAG: &str = "web-bot-auth";
/// `Signature-Agent` (Web Bot Auth): a Dictionary whose member named by a signature's label
/// is the `https` URL where the signer's keys are published.
pub const SIGNATURE_AGENT: &str = "signature-agent";
/// The signature label kya writes.
pub const SIGNATURE_LABEL: &str = "sig1";
/// The largest `KYA-Chain` header value a signer sends inline (6 KiB); larger chains go by
/// digest. Leaves room for the other headers under an 8 KiB per-field proxy limit.
pub const INLINE_CHAIN_MAX_HEADER_BYTES: usize = 6 * 1024;
