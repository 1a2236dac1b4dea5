//! Rust errors as the typed Python exceptions of `kya.errors`: every refusal carries kya's
//! stable code (the same `snake_case` wire form as `kya_verify::Code`), the chain link it
//! concerns and the HTTP status the Rust middleware answers with.

use kya_verify::Code;
use kya_verify::http::HttpError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// What a Python exception is built from (see `kya.errors._from_native`).
pub(crate) struct Failure {
    /// The exception family when no code names one: `KeyFormatError`, `GrantError`, …
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

    /// The Python exception: built by `kya.errors._from_native`, so that the class for each
    /// code is defined once, in Python, where users catch it.
    pub(crate) fn into_pyerr(self) -> PyErr {
        Python::attach(|py| match self.build(py) {
            Ok(err) => err,
            Err(e) => PyRuntimeError::new_err(format!(
                "kya: cannot raise {} ({}): {e}",
                self.family, self.message
            )),
        })
    }

    fn build(&self, py: Python<'_>) -> PyResult<PyErr> {
        let factory = py.import("kya.errors")?.getattr("_from_native")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("family", self.family)?;
        kwargs.set_item("code", self.code.map(Code::as_str))?;
        kwargs.set_item("link", self.link)?;
        kwargs.set_item("status", self.status)?;
        let instance = factory.call((self.message.as_str(),), Some(&kwargs))?;
        Ok(PyErr::from_value(instance))
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> Self {
        f.into_pyerr()
    }
}

/// A verifier refusal (`VerifyError`): its code and link.
pub(crate) fn verify_error(e: &kya_verify::VerifyError) -> PyErr {
    Failure::coded(e.code(), e, e.link()).into()
}

/// A signed request's refusal (`HttpError`): its code, link and HTTP status.
pub(crate) fn http_error(e: &HttpError) -> PyErr {
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
pub(crate) fn credential_error(e: &kya_core::credential::CredentialError) -> PyErr {
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
pub(crate) fn key_error(e: impl ToString) -> PyErr {
    Failure::plain("KeyFormatError", e).into()
}

/// A grant, action, amount or asset that cannot be read.
pub(crate) fn grant_error(e: impl ToString) -> PyErr {
    Failure::plain("GrantError", e).into()
}

/// A policy or snapshot that cannot be read.
pub(crate) fn config_error(e: impl ToString) -> PyErr {
    Failure::plain("ConfigError", e).into()
}

/// A value of the wrong form from Python (a time, a header, a chain).
pub(crate) fn value_error(e: impl ToString) -> PyErr {
    Failure::plain("InputError", e).into()
}
