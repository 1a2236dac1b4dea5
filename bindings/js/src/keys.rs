//! Keys and DIDs: kya's Ed25519 keys (the secret half zeroized in wasm memory when freed)
//! and the `did:key` / `did:pkh` identifiers.

use std::rc::Rc;

use ed25519_dalek::Signature;
use kya_core::{Did, DidKey, MultikeyFile, PublicKey, SecretKey};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::errors::{Failure, key_error};

/// An Ed25519 public key (a valid, non-weak curve point).
#[wasm_bindgen(js_name = PublicKey)]
#[derive(Clone)]
pub struct JsPublicKey(pub(crate) PublicKey);

#[wasm_bindgen(js_class = PublicKey)]
impl JsPublicKey {
    /// Reads 32 raw bytes.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(data: &[u8]) -> Result<JsPublicKey, JsValue> {
        let raw: &[u8; 32] = data
            .try_into()
            .map_err(|_| key_error(format!("a public key is 32 bytes, not {}", data.len())))?;
        PublicKey::from_bytes(raw).map(Self).map_err(key_error)
    }

    /// Reads a `z6Mk…` Multikey `publicKeyMultibase`.
    #[wasm_bindgen(js_name = fromMultibase)]
    pub fn from_multibase(text: &str) -> Result<JsPublicKey, JsValue> {
        PublicKey::from_multibase(text).map(Self).map_err(key_error)
    }

    /// The 32 raw bytes.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes().to_vec()
    }

    /// The `z6Mk…` multibase form.
    #[wasm_bindgen(getter)]
    pub fn multibase(&self) -> String {
        self.0.to_multibase()
    }

    /// The `did:key` naming this key.
    #[wasm_bindgen(getter)]
    pub fn did(&self) -> String {
        DidKey::from_public_key(self.0).to_string()
    }

    /// Whether `signature` is this key's Ed25519 signature of `message` under kya's strict
    /// rule (canonical encodings, no small-order points, the cofactored equation).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.0
            .verify(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }

    /// The multibase form.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_text(&self) -> String {
        self.0.to_multibase()
    }
}

/// An Ed25519 secret key held in wasm memory, zeroized when freed (`free()`, or when the
/// garbage collector reclaims it). It leaves wasm only through `toMultikeyJson()`.
#[wasm_bindgen(js_name = SecretKey)]
pub struct JsSecretKey(pub(crate) Rc<SecretKey>);

#[wasm_bindgen(js_class = SecretKey)]
impl JsSecretKey {
    /// A fresh key from the Web Crypto random source (`crypto.getRandomValues`).
    pub fn generate() -> JsSecretKey {
        Self(Rc::new(SecretKey::generate()))
    }

    /// The key of a 32-byte seed (RFC 8032). The copy in wasm memory is wiped; the caller's
    /// `Uint8Array` is not: prefer `generate` or `fromMultikeyJson` outside tests.
    #[wasm_bindgen(js_name = fromSeed)]
    pub fn from_seed(seed: Vec<u8>) -> Result<JsSecretKey, JsValue> {
        let seed = Zeroizing::new(seed);
        let len = seed.len();
        let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(
            seed.as_slice()
                .try_into()
                .map_err(|_| key_error(format!("a seed is 32 bytes, not {len}")))?,
        );
        Ok(Self(Rc::new(SecretKey::from_seed(&bytes))))
    }

    /// Reads a `z3u2…` Multikey `secretKeyMultibase`.
    #[wasm_bindgen(js_name = fromMultibase)]
    pub fn from_multibase(text: String) -> Result<JsSecretKey, JsValue> {
        let text = Zeroizing::new(text);
        SecretKey::from_multibase(&text)
            .map(|k| Self(Rc::new(k)))
            .map_err(key_error)
    }

    /// Reads a Multikey JSON document as `kya key generate` writes it; its `id` and
    /// `controller`, when present, must name the same key.
    #[wasm_bindgen(js_name = fromMultikeyJson)]
    pub fn from_multikey_json(text: String) -> Result<JsSecretKey, JsValue> {
        let text = Zeroizing::new(text);
        let file = MultikeyFile::from_json(text.as_bytes()).map_err(key_error)?;
        file.checked_did().map_err(key_error)?;
        file.secret_key()
            .map(|k| Self(Rc::new(k)))
            .map_err(key_error)
    }

    /// The Multikey JSON document `kya key generate` writes (it holds the secret: write it
    /// to a file only its owner reads, e.g. mode 0600).
    #[wasm_bindgen(js_name = toMultikeyJson)]
    pub fn to_multikey_json(&self) -> Result<String, JsValue> {
        let file = MultikeyFile::from_secret(&self.0);
        let json = Zeroizing::new(serde_json::to_string_pretty(&file).map_err(key_error)?);
        Ok(format!("{}\n", json.as_str()))
    }

    /// The public key.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> JsPublicKey {
        JsPublicKey(self.0.public_key())
    }

    /// The `did:key` of the public key.
    #[wasm_bindgen(getter)]
    pub fn did(&self) -> String {
        DidKey::from_public_key(self.0.public_key()).to_string()
    }

    /// Signs `message` (Ed25519, deterministic).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).to_bytes().to_vec()
    }

    /// Shows only the public half.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_text(&self) -> String {
        format!(
            "SecretKey(public={}, secret=<redacted>)",
            self.0.public_key()
        )
    }
}

/// A decentralised identifier kya accepts: `did:key` (Ed25519) or
/// `did:pkh:eip155:<chain>:<address>`.
#[wasm_bindgen(js_name = Did)]
pub struct JsDid(pub(crate) Did);

#[wasm_bindgen(js_class = Did)]
impl JsDid {
    /// Parses a DID.
    pub fn parse(text: &str) -> Result<JsDid, JsValue> {
        text.parse::<Did>().map(Self).map_err(key_error)
    }

    /// The `did:key` of a public key.
    #[wasm_bindgen(js_name = fromPublicKey)]
    pub fn from_public_key(key: &JsPublicKey) -> JsDid {
        Self(Did::Key(DidKey::from_public_key(key.0)))
    }

    /// `"key"` or `"pkh"`.
    #[wasm_bindgen(getter)]
    pub fn method(&self) -> String {
        match self.0 {
            Did::Key(_) => "key".to_owned(),
            Did::Pkh(_) => "pkh".to_owned(),
        }
    }

    /// The Ed25519 key of a `did:key`; `undefined` for a `did:pkh`.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> Option<JsPublicKey> {
        self.0.as_did_key().map(|k| JsPublicKey(k.public_key()))
    }

    /// The EIP-155 chain id of a `did:pkh` (as a decimal string: it may exceed 2^53).
    #[wasm_bindgen(getter, js_name = chainId)]
    pub fn chain_id(&self) -> Option<String> {
        match &self.0 {
            Did::Pkh(p) => Some(p.chain_id().to_string()),
            Did::Key(_) => None,
        }
    }

    /// The EIP-55 checksummed address of a `did:pkh`.
    #[wasm_bindgen(getter)]
    pub fn address(&self) -> Option<String> {
        match &self.0 {
            Did::Pkh(p) => Some(p.checksummed_address()),
            Did::Key(_) => None,
        }
    }

    /// The verification method id (`did:key:z…#z…`) of a `did:key`.
    #[wasm_bindgen(getter, js_name = verificationMethod)]
    pub fn verification_method(&self) -> Option<String> {
        self.0.as_did_key().map(DidKey::verification_method_id)
    }

    /// The DID text.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_text(&self) -> String {
        self.0.to_string()
    }
}

/// A DID from a string, or from an object with a string `did` property (a `PublicKey`, a
/// `SecretKey`).
pub(crate) fn did_of(value: &JsValue) -> Result<Did, JsValue> {
    let expected = || key_error("expected a DID string or an object with a string `did`");
    let text = match value.as_string() {
        Some(text) => text,
        None if value.is_object() => crate::js::string_field(value, "did")
            .ok()
            .flatten()
            .ok_or_else(expected)?,
        None => return Err(expected()),
    };
    text.parse::<Did>().map_err(key_error)
}

/// A `did:key` (an agent): refuses a `did:pkh`.
pub(crate) fn did_key_of(value: &JsValue) -> Result<DidKey, JsValue> {
    match did_of(value)? {
        Did::Key(k) => Ok(k),
        other => Err(Failure::plain(
            "KeyFormatError",
            format!("an agent is named by a did:key, not {other}"),
        )
        .into()),
    }
}
