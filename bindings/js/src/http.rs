//! Signing HTTP requests (RFC 9421, Web Bot Auth profile) with kya-verify's own signer, so
//! the signature base a JavaScript agent signs is byte for byte the one Rust signs.

use std::rc::Rc;

use kya_core::grant::Action;
use kya_core::{SecretKey, Timestamp};
use kya_verify::http::{ChainTransport, HttpRequest, RequestSigner, SignOptions};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::credentials::{ChainInput, chain_of, money};
use crate::errors::{grant_error, http_error, input_error};
use crate::js::{field, json_bytes, object, string_field, timestamp_field, u64_field};
use crate::keys::JsSecretKey;

#[wasm_bindgen(typescript_custom_section)]
const TS_HTTP: &'static str = r#"
/** How the chain travels: inline while it fits a header (auto), always inline, by digest
 * (after a registration call), or as the body of a registration call. */
export type ChainTransport = "auto" | "inline" | "digest" | "body";
export interface RequestSignerOptions {
  transport?: ChainTransport;
  /** An https URL sent as Signature-Agent (Web Bot Auth key directory). */
  signatureAgent?: string;
  /** The KYA-Action sent when a request names none. */
  action?: string;
}
export interface SignOptions {
  body?: Uint8Array | string;
  action?: string;
  /** "<decimal> <asset>", e.g. "12.50 USD". */
  amount?: string;
  created?: KyaTime;
  /** Seconds (default 60). */
  expiresIn?: number;
  /** Default: 64 random bytes, base64. */
  nonce?: string;
}
/** The headers a signature adds, in order, and the body that was signed. */
export interface SignedRequest {
  headers: Array<[string, string]>;
  body: Uint8Array;
  keyid: string;
  nonce: string;
  created: string;
  expires: string;
  chainInline: boolean;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// Signer options.
    #[wasm_bindgen(typescript_type = "RequestSignerOptions")]
    pub type RequestSignerOptions;
    /// Per-request signing options.
    #[wasm_bindgen(typescript_type = "SignOptions")]
    pub type SignRequestOptions;
    /// A signed request's headers and body.
    #[wasm_bindgen(typescript_type = "SignedRequest")]
    pub type SignedRequest;
}

fn transport(name: &str) -> Result<ChainTransport, JsValue> {
    match name {
        "auto" => Ok(ChainTransport::Auto),
        "inline" => Ok(ChainTransport::Inline),
        "digest" => Ok(ChainTransport::Digest),
        "body" => Ok(ChainTransport::Body),
        other => Err(input_error(format!(
            "chain transport `{other}` is not auto, inline, digest or body"
        ))),
    }
}

/// Signs requests for an agent: its key and its credential chain (root first, its own
/// credential last). The key must be the chain's agent's.
#[wasm_bindgen(js_name = RequestSigner)]
pub struct JsRequestSigner {
    key: Rc<SecretKey>,
    chain: Value,
    transport: ChainTransport,
    signature_agent: Option<String>,
    default_action: Option<Action>,
}

#[wasm_bindgen(js_class = RequestSigner)]
impl JsRequestSigner {
    /// A signer for `chain` (a `Chain` or its JSON) held by `key`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        key: &JsSecretKey,
        chain: ChainInput,
        options: Option<RequestSignerOptions>,
    ) -> Result<JsRequestSigner, JsValue> {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let typed = chain_of(&chain)?;
        // The key must be the chain's agent's, or every request would be refused.
        RequestSigner::for_chain(key.0.as_ref(), &typed).map_err(|e| http_error(&e))?;
        let this = Self {
            key: key.0.clone(),
            chain: typed.to_value(),
            transport: transport(
                &string_field(&options, "transport")?.unwrap_or_else(|| "auto".into()),
            )?,
            signature_agent: string_field(&options, "signatureAgent")?,
            default_action: string_field(&options, "action")?
                .map(|a| Action::parse(&a))
                .transpose()
                .map_err(grant_error)?,
        };
        // Fail now, not at the first request: the chain must canonicalise, the URL be valid.
        this.build()?;
        Ok(this)
    }

    /// Signs a request to `url` (absolute `http(s)://`) and returns the headers to add:
    /// `Content-Digest` of the body, the chain, `KYA-Action` / `KYA-Amount` when given,
    /// `Signature-Input` and `Signature`.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        options: Option<SignRequestOptions>,
    ) -> Result<SignedRequest, JsValue> {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let (_, mut request) = HttpRequest::from_url(method, url).map_err(|e| http_error(&e))?;
        request.body = match field(&options, "body")? {
            Some(body) => json_bytes_or_bytes(&body)?,
            None => Vec::new(),
        };
        let action = string_field(&options, "action")?
            .map(|a| Action::parse(&a))
            .transpose()
            .map_err(grant_error)?;
        let amount = string_field(&options, "amount")?
            .map(|a| money(&a))
            .transpose()?;
        let created = timestamp_field(&options, "created", Timestamp::now())?;
        let expires_in = u64_field(&options, "expiresIn")?.unwrap_or(60);
        let nonce = string_field(&options, "nonce")?.unwrap_or_else(RequestSigner::random_nonce);
        let sign_options = SignOptions {
            action: action.as_ref().or(self.default_action.as_ref()),
            amount: amount.as_ref(),
            created,
            expires: created.add_seconds(i64::try_from(expires_in).unwrap_or(i64::MAX)),
            nonce: &nonce,
        };
        let signed = self
            .build()?
            .sign(&mut request, &sign_options)
            .map_err(|e| http_error(&e))?;
        let headers = js_sys::Array::new();
        for (name, value) in &signed.headers {
            headers.push(&js_sys::Array::of2(&name.into(), &value.into()));
        }
        Ok(object(&[
            ("headers", headers.into()),
            (
                "body",
                js_sys::Uint8Array::from(request.body.as_slice()).into(),
            ),
            ("keyid", signed.keyid.into()),
            ("nonce", signed.nonce.into()),
            ("created", signed.created.to_string().into()),
            ("expires", signed.expires.to_string().into()),
            ("chainInline", signed.chain_inline.into()),
        ])
        .unchecked_into())
    }

    /// The chain's JCS bytes (what `KYA-Chain` encodes; the body of a registration call).
    #[wasm_bindgen(js_name = chainBytes)]
    pub fn chain_bytes(&self) -> Result<Vec<u8>, JsValue> {
        kya_core::json::canonicalize(&self.chain).map_err(input_error)
    }
}

impl JsRequestSigner {
    fn build(&self) -> Result<RequestSigner<'_>, JsValue> {
        let mut signer = RequestSigner::new(self.key.as_ref(), &self.chain)
            .map_err(|e| http_error(&e))?
            .transport(self.transport);
        if let Some(url) = &self.signature_agent {
            signer = signer.signature_agent(url).map_err(|e| http_error(&e))?;
        }
        Ok(signer)
    }
}

/// A body: bytes as they are, a string as its UTF-8 bytes.
fn json_bytes_or_bytes(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    if value.as_string().is_some() || value.dyn_ref::<js_sys::Uint8Array>().is_some() {
        return json_bytes(value);
    }
    Err(input_error("a body is a Uint8Array or a string"))
}
