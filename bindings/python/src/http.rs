//! Signing HTTP requests (RFC 9421, Web Bot Auth profile) with kya-verify's own signer, so
//! the signature base a Python agent signs is byte for byte the one Rust signs.

use kya_core::Timestamp;
use kya_core::grant::Action;
use kya_verify::http::{ChainTransport, HttpRequest, RequestSigner, SignOptions};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::Value;

use crate::credentials::{PyChain, money, strict_value};
use crate::errors::{grant_error, http_error, value_error};
use crate::keys::with_signer;
use crate::time::timestamp_or;

/// Signs requests for an agent: its key (a `SecretKey` or an external signer) and its
/// credential chain (root first, its own credential last).
#[pyclass(name = "RequestSigner", module = "kya._kya", frozen)]
pub(crate) struct PyRequestSigner {
    signer: Py<PyAny>,
    chain: Value,
    transport: ChainTransport,
    signature_agent: Option<String>,
    default_action: Option<Action>,
}

/// The headers a signature added, and the body that was signed.
#[pyclass(name = "SignedRequest", module = "kya._kya", frozen, get_all)]
pub(crate) struct PySignedRequest {
    /// `(name, value)` pairs to set on the request, in order.
    headers: Vec<(String, String)>,
    /// The body that was signed (the chain itself for a registration call).
    body: Py<PyBytes>,
    /// The `keyid` (JWK thumbprint of the agent key).
    keyid: String,
    /// The nonce.
    nonce: String,
    /// `created` (RFC 3339).
    created: String,
    /// `expires` (RFC 3339).
    expires: String,
    /// Whether the chain went inline (`KYA-Chain`) rather than by digest.
    chain_inline: bool,
}

fn transport(name: &str) -> PyResult<ChainTransport> {
    match name {
        "auto" => Ok(ChainTransport::Auto),
        "inline" => Ok(ChainTransport::Inline),
        "digest" => Ok(ChainTransport::Digest),
        "body" => Ok(ChainTransport::Body),
        other => Err(value_error(format!(
            "chain transport `{other}` is not auto, inline, digest or body"
        ))),
    }
}

#[pymethods]
impl PyRequestSigner {
    /// A signer for `chain` (a `kya.Chain`, or its JSON) held by `signer`. `transport`:
    /// `"auto"` (inline while it fits a header), `"inline"`, `"digest"` or `"body"` (a chain
    /// registration call). `action`: the `KYA-Action` sent when a request names none.
    #[new]
    #[pyo3(signature = (signer, chain, *, transport="auto", signature_agent=None, action=None))]
    fn new(
        signer: &Bound<'_, PyAny>,
        chain: &Bound<'_, PyAny>,
        transport: &str,
        signature_agent: Option<String>,
        action: Option<&str>,
    ) -> PyResult<Self> {
        let chain = match chain.cast::<PyChain>() {
            Ok(typed) => {
                let typed = typed.get();
                // The key must be the chain's agent's, or every request would be refused.
                with_signer(signer, |s| {
                    RequestSigner::for_chain(s, &typed.0).map_err(|e| http_error(&e))?;
                    Ok(())
                })?;
                typed.0.to_value()
            }
            Err(_) => strict_value(chain)?,
        };
        let signer_object = signer.clone().unbind();
        let this = Self {
            signer: signer_object,
            chain,
            transport: self::transport(transport)?,
            signature_agent,
            default_action: action.map(Action::parse).transpose().map_err(grant_error)?,
        };
        // Fail now, not at the first request: the chain must canonicalise, the URL be valid.
        with_signer(signer, |s| this.build(s).map(|_| ()))?;
        Ok(this)
    }

    /// Signs a request to `url` (absolute `http(s)://`) and returns the headers to add:
    /// `Content-Digest` of `body`, the chain, `KYA-Action` / `KYA-Amount` when given
    /// (`amount="12.50 USD"`), `Signature-Input` and `Signature`. The window starts at
    /// `created` (default now) and lasts `expires_in` seconds; `nonce` defaults to 64
    /// random bytes.
    #[pyo3(signature = (method, url, *, body=None, action=None, amount=None, created=None,
        expires_in=60, nonce=None))]
    #[allow(clippy::too_many_arguments)]
    fn sign(
        &self,
        py: Python<'_>,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
        action: Option<&str>,
        amount: Option<&str>,
        created: Option<&Bound<'_, PyAny>>,
        expires_in: i64,
        nonce: Option<String>,
    ) -> PyResult<PySignedRequest> {
        let (_, mut request) = HttpRequest::from_url(method, url).map_err(|e| http_error(&e))?;
        request.body = body.map(<[u8]>::to_vec).unwrap_or_default();
        let action = action.map(Action::parse).transpose().map_err(grant_error)?;
        let amount = amount.map(money).transpose()?;
        let created = timestamp_or(created, Timestamp::now())?;
        let nonce = nonce.unwrap_or_else(RequestSigner::random_nonce);
        let options = SignOptions {
            action: action.as_ref().or(self.default_action.as_ref()),
            amount: amount.as_ref(),
            created,
            expires: created.add_seconds(expires_in),
            nonce: &nonce,
        };
        let signer = self.signer.bind(py);
        let signed = with_signer(signer, |s| {
            self.build(s)?
                .sign(&mut request, &options)
                .map_err(|e| http_error(&e))
        })?;
        Ok(PySignedRequest {
            headers: signed.headers,
            body: PyBytes::new(py, &request.body).unbind(),
            keyid: signed.keyid,
            nonce: signed.nonce,
            created: signed.created.to_string(),
            expires: signed.expires.to_string(),
            chain_inline: signed.chain_inline,
        })
    }

    /// The chain's JCS bytes (what `KYA-Chain` encodes; the body of a registration call).
    fn chain_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = kya_core::json::canonicalize(&self.chain).map_err(value_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn __repr__(&self) -> String {
        format!("RequestSigner(transport={:?})", self.transport)
    }
}

impl PyRequestSigner {
    fn build<'k>(&self, s: &'k dyn kya_core::Ed25519Signer) -> PyResult<RequestSigner<'k>> {
        let mut signer = RequestSigner::new(s, &self.chain)
            .map_err(|e| http_error(&e))?
            .transport(self.transport);
        if let Some(url) = &self.signature_agent {
            signer = signer.signature_agent(url).map_err(|e| http_error(&e))?;
        }
        Ok(signer)
    }
}
