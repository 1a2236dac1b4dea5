//! Rust errors as the typed JavaScript errors of the package's `errors.js`: every refusal
//! carries kya's stable code (the `snake_case` wire form of `kya_verify::Code`), the chain
//! link it concerns and the HTTP status the Rust middleware answers with.

use kya_verify::Code;
use kya_verify::http::HttpError;
use wasm_bindgen::prelude::*;

// The error classes are defined once, in JavaScript (`errors.js` beside the generated
// `wasm/` folder), where users catch them; the module builds them.
#[wasm_bindgen(raw_module = "../errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = fromNative)]
    fn from_native(
        family: &str,
        code: Option<String>,
        message: &str,
        link: Option<u32>,
        status: Option<u16>,
    ) -> JsValue;
}

/// What a JavaScript error is built from.
pub(crate) struct Failure {
    /// The error family when no code names one: `KeyFormatError`, `GrantError`, …
    pub(crate) family: &'static str,
    /// kya's stable code, when the failure has one.
    pub(crate) code: Option<Code>,
    /// A human sentence (never a secret).
    pub(crate) message: String,
    /// The chain link (0 = root), when it concerns one.
    pub(crate) link: Option<usize>,
    /// The HTTP status a merchant answers with, when it is a request refusal.
    pub(crate) status: Option<u16>,
}

impl Failure {
    /// A failure of `family` without a code.
    pub(crate) fn plain(family: &'static str, message: impl ToString) -> Self {
        Self {
            family,
            code: None,
            message: message.to_string(),
            link: None,
            status: None,
        }
    }

    /// A failure with kya's stable `code`.
    pub(crate) fn coded(code: Code, message: impl ToString, link: Option<usize>) -> Self {
        Self {
            family: "VerificationError",
            code: Some(code),
            message: message.to_string(),
            link,
            status: None,
        }
    }
}

impl From<Failure> for JsValue {
    fn from(f: Failure) -> Self {
        from_native(
            f.family,
            f.code.map(|c| c.as_str().to_owned()),
            &f.message,
            f.link.and_then(|l| u32::try_from(l).ok()),
            f.status,
        )
    }
}

/// A verifier refusal (`VerifyError`): its code and link.
pub(crate) fn verify_error(e: &kya_verify::VerifyError) -> JsValue {
    Failure::coded(e.code(), e, e.link()).into()
}

/// A signed request's refusal (`HttpError`): its code, link and HTTP status.
pub(crate) fn http_error(e: &HttpError) -> JsValue {
    Failure {
        status: Some(e.status()),
        ..Failure::coded(e.code(), e, e.link())
    }
    .into()
}

/// A credential that cannot be built, signed or read, with the code a verifier gives the
/// same fault (`Code::of_credential_error`: `grant_widened`, `validity_outside_parent`,
/// `issuer_not_parent_subject`, `bad_signature`, `malformed`); a signer that failed is a
/// `SignerError`.
pub(crate) fn credential_error(e: &kya_core::credential::CredentialError) -> JsValue {
    use kya_core::credential::CredentialError as E;
    if let E::Proof(kya_core::ProofError::Signer(_)) = e {
        return Failure::plain("SignerError", e).into();
    }
    Failure {
        code: Code::of_credential_error(e),
        ..Failure::plain("CredentialError", e)
    }
    .into()
}

/// A key or DID that cannot be read.
pub(crate) fn key_error(e: impl ToString) -> JsValue {
    Failure::plain("KeyFormatError", e).into()
}

/// A grant, action, amount or asset that cannot be read.
pub(crate) fn grant_error(e: impl ToString) -> JsValue {
    Failure::plain("GrantError", e).into()
}

/// A policy or snapshot that cannot be read.
pub(crate) fn config_error(e: impl ToString) -> JsValue {
    Failure::plain("ConfigError", e).into()
}

/// A value of the wrong form from JavaScript (a time, a header, an option).
pub(crate) fn input_error(e: impl ToString) -> JsValue {
    Failure::plain("InputError", e).into()
}
