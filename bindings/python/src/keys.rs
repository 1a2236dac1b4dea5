//! Keys, DIDs and signers: kya's own Ed25519 keys, and any Python object with a
//! `public_key` and a `sign(message) -> bytes` (a KMS, an HSM) wherever a key is taken.

use std::cell::RefCell;
use std::io::Write as _;
use std::path::PathBuf;

use ed25519_dalek::Signature;
use kya_core::{Did, DidKey, Ed25519Signer, MultikeyFile, PublicKey, SecretKey};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use zeroize::Zeroizing;

use crate::errors::{Failure, key_error};

/// An Ed25519 public key (a valid, non-weak curve point).
#[pyclass(name = "PublicKey", module = "kya._kya", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PyPublicKey(pub(crate) PublicKey);

#[pymethods]
impl PyPublicKey {
    /// Reads 32 raw bytes.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        let raw: &[u8; 32] = data
            .try_into()
            .map_err(|_| key_error(format!("a public key is 32 bytes, not {}", data.len())))?;
        PublicKey::from_bytes(raw).map(Self).map_err(key_error)
    }

    /// Reads a `z6Mk…` Multikey `publicKeyMultibase`.
    #[staticmethod]
    fn from_multibase(text: &str) -> PyResult<Self> {
        PublicKey::from_multibase(text).map(Self).map_err(key_error)
    }

    /// The 32 raw bytes.
    #[allow(clippy::wrong_self_convention)] // the Python name; pyo3 passes `&self`
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }

    /// The `z6Mk…` multibase form.
    #[getter]
    fn multibase(&self) -> String {
        self.0.to_multibase()
    }

    /// The `did:key` naming this key.
    #[getter]
    fn did(&self) -> String {
        DidKey::from_public_key(self.0).to_string()
    }

    /// Whether `signature` is this key's Ed25519 signature of `message` under kya's strict
    /// rule (canonical encodings, no small-order points, the cofactored equation).
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.0
            .verify(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }

    fn __repr__(&self) -> String {
        format!("PublicKey('{}')", self.0.to_multibase())
    }

    fn __str__(&self) -> String {
        self.0.to_multibase()
    }
}

/// An Ed25519 secret key held in Rust memory, zeroized when dropped. Its `repr` shows only
/// the public half; the secret leaves Rust only through `save` (a 0600 file).
#[pyclass(name = "SecretKey", module = "kya._kya", frozen)]
pub(crate) struct PySecretKey(pub(crate) SecretKey);

#[pymethods]
impl PySecretKey {
    /// A fresh key from the operating system's random source.
    #[staticmethod]
    fn generate() -> Self {
        Self(SecretKey::generate())
    }

    /// The key of a 32-byte seed (RFC 8032). The Python `bytes` given cannot be wiped by
    /// kya: prefer `generate` or `load` outside tests.
    #[staticmethod]
    fn from_seed(seed: &[u8]) -> PyResult<Self> {
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            seed.try_into()
                .map_err(|_| key_error(format!("a seed is 32 bytes, not {}", seed.len())))?,
        );
        Ok(Self(SecretKey::from_seed(&seed)))
    }

    /// Reads a `z3u2…` Multikey `secretKeyMultibase`.
    #[staticmethod]
    fn from_multibase(text: &str) -> PyResult<Self> {
        SecretKey::from_multibase(text).map(Self).map_err(key_error)
    }

    /// Reads a Multikey JSON file as `kya key generate` writes it; its `id` and
    /// `controller`, when present, must name the same key.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let bytes = Zeroizing::new(
            std::fs::read(&path)
                .map_err(|e| key_error(format!("cannot read key file {}: {e}", path.display())))?,
        );
        Self::from_json(&bytes)
    }

    /// Reads a Multikey JSON document (bytes or str).
    #[staticmethod]
    fn from_json(data: &[u8]) -> PyResult<Self> {
        let file = MultikeyFile::from_json(data).map_err(key_error)?;
        file.checked_did().map_err(key_error)?;
        file.secret_key().map(Self).map_err(key_error)
    }

    /// Writes the Multikey JSON file `kya key generate` writes (mode 0600, written to a
    /// temporary file and renamed); refuses to overwrite unless `overwrite`.
    #[pyo3(signature = (path, overwrite = false))]
    fn save(&self, path: PathBuf, overwrite: bool) -> PyResult<()> {
        let file = MultikeyFile::from_secret(&self.0);
        let mut json =
            Zeroizing::new(serde_json::to_vec_pretty(&file).map_err(|e| key_error(e.to_string()))?);
        json.push(b'\n');
        write_secret_file(&path, &json, overwrite)
            .map_err(|e| key_error(format!("cannot write {}: {e}", path.display())))
    }

    /// The public key.
    #[getter]
    fn public_key(&self) -> PyPublicKey {
        PyPublicKey(self.0.public_key())
    }

    /// The `did:key` of the public key.
    #[getter]
    fn did(&self) -> String {
        DidKey::from_public_key(self.0.public_key()).to_string()
    }

    /// Signs `message` (Ed25519, deterministic).
    fn sign<'py>(&self, py: Python<'py>, message: &[u8]) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.sign(message).to_bytes())
    }

    fn __repr__(&self) -> String {
        format!(
            "SecretKey(public='{}', secret=<redacted>)",
            self.0.public_key()
        )
    }
}

fn write_secret_file(path: &std::path::Path, bytes: &[u8], overwrite: bool) -> std::io::Result<()> {
    if path.exists() && !overwrite {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the file exists (pass overwrite=True to replace it)",
        ));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let result = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A decentralised identifier kya accepts: `did:key` (Ed25519) or
/// `did:pkh:eip155:<chain>:<address>`.
#[pyclass(name = "Did", module = "kya._kya", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PyDid(pub(crate) Did);

#[pymethods]
impl PyDid {
    /// Parses a DID.
    #[new]
    fn new(text: &str) -> PyResult<Self> {
        text.parse::<Did>().map(Self).map_err(key_error)
    }

    /// The `did:key` of a public key.
    #[staticmethod]
    fn from_public_key(key: &PyPublicKey) -> Self {
        Self(Did::Key(DidKey::from_public_key(key.0)))
    }

    /// `"key"` or `"pkh"`.
    #[getter]
    fn method(&self) -> &'static str {
        match self.0 {
            Did::Key(_) => "key",
            Did::Pkh(_) => "pkh",
        }
    }

    /// The Ed25519 key of a `did:key`; `None` for a `did:pkh`.
    #[getter]
    fn public_key(&self) -> Option<PyPublicKey> {
        self.0.as_did_key().map(|k| PyPublicKey(k.public_key()))
    }

    /// The EIP-155 chain id of a `did:pkh`.
    #[getter]
    fn chain_id(&self) -> Option<u64> {
        match &self.0 {
            Did::Pkh(p) => Some(p.chain_id()),
            Did::Key(_) => None,
        }
    }

    /// The EIP-55 checksummed address of a `did:pkh`.
    #[getter]
    fn address(&self) -> Option<String> {
        match &self.0 {
            Did::Pkh(p) => Some(p.checksummed_address()),
            Did::Key(_) => None,
        }
    }

    /// The verification method id (`did:key:z…#z…`) of a `did:key`.
    #[getter]
    fn verification_method(&self) -> Option<String> {
        self.0.as_did_key().map(DidKey::verification_method_id)
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Did('{}')", self.0)
    }
}

/// A signer backed by a Python object: `public_key` (32 bytes, a `z6Mk…` string or a
/// `PublicKey`) and `sign(message: bytes) -> bytes`. Every signature it returns is checked
/// against its public key before kya uses it, so a misconfigured KMS fails here, loudly.
pub(crate) struct ExternalSigner<'py> {
    object: Bound<'py, PyAny>,
    public: PublicKey,
    /// The Python exception the object raised, re-raised to the caller unchanged.
    failure: RefCell<Option<PyErr>>,
}

impl<'py> ExternalSigner<'py> {
    fn new(object: &Bound<'py, PyAny>) -> PyResult<Self> {
        let mut value = object.getattr("public_key").map_err(|_| {
            key_error("a signer needs a `public_key` attribute and a `sign(message)` method")
        })?;
        if value.is_callable() && !value.is_instance_of::<PyPublicKey>() {
            value = value.call0()?;
        }
        let public = if let Ok(key) = value.cast::<PyPublicKey>() {
            key.get().0
        } else if let Ok(text) = value.cast::<PyString>() {
            PublicKey::from_multibase(&text.to_cow()?).map_err(key_error)?
        } else if let Ok(bytes) = value.extract::<Vec<u8>>() {
            PyPublicKey::from_bytes(&bytes)?.0
        } else {
            return Err(key_error(
                "a signer's public_key must be 32 bytes, a z6Mk… string or a kya.PublicKey",
            ));
        };
        Ok(Self {
            object: object.clone(),
            public,
            failure: RefCell::new(None),
        })
    }

    fn call(&self, message: &[u8]) -> PyResult<Signature> {
        let py = self.object.py();
        let out = self
            .object
            .call_method1("sign", (PyBytes::new(py, message),))?;
        let bytes: Vec<u8> = out.extract()?;
        let bytes: [u8; 64] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| key_error(format!("a signer returned {} bytes, not 64", bytes.len())))?;
        let signature = Signature::from_bytes(&bytes);
        self.public.verify(message, &signature).map_err(|e| {
            key_error(format!(
                "the signer's signature does not verify under its public key {}: {e}",
                self.public
            ))
        })?;
        Ok(signature)
    }
}

impl signature::Signer<Signature> for ExternalSigner<'_> {
    fn try_sign(&self, message: &[u8]) -> Result<Signature, signature::Error> {
        self.call(message).map_err(|e| {
            *self.failure.borrow_mut() = Some(e);
            signature::Error::new()
        })
    }
}

impl Ed25519Signer for ExternalSigner<'_> {
    fn public_key(&self) -> PublicKey {
        self.public
    }
}

/// Runs `f` with the Ed25519 signer `object` stands for: a `SecretKey`, or any object with
/// `public_key` and `sign`. A Python exception raised by an external signer reaches the
/// caller as it was raised.
pub(crate) fn with_signer<R>(
    object: &Bound<'_, PyAny>,
    f: impl FnOnce(&dyn Ed25519Signer) -> PyResult<R>,
) -> PyResult<R> {
    if let Ok(key) = object.cast::<PySecretKey>() {
        return f(&key.get().0);
    }
    let external = ExternalSigner::new(object)?;
    let result = f(&external);
    match (result, external.failure.into_inner()) {
        (Err(_), Some(original)) => Err(original),
        (result, _) => result,
    }
}

/// A DID from a `Did`, a `str`, a `PublicKey` or a `SecretKey`/signer (its `did:key`).
pub(crate) fn did_of(object: &Bound<'_, PyAny>) -> PyResult<Did> {
    if let Ok(did) = object.cast::<PyDid>() {
        return Ok(did.get().0);
    }
    if let Ok(text) = object.cast::<PyString>() {
        return text.to_cow()?.parse::<Did>().map_err(key_error);
    }
    if let Ok(key) = object.cast::<PyPublicKey>() {
        return Ok(Did::Key(DidKey::from_public_key(key.get().0)));
    }
    with_signer(object, |s| {
        Ok(Did::Key(DidKey::from_public_key(s.public_key())))
    })
    .map_err(|_| key_error("expected a DID (str or kya.Did), a public key or a signer"))
}

/// A `did:key` (an agent): refuses a `did:pkh`.
pub(crate) fn did_key_of(object: &Bound<'_, PyAny>) -> PyResult<DidKey> {
    match did_of(object)? {
        Did::Key(k) => Ok(k),
        other => Err(Failure::plain(
            "KeyFormatError",
            format!("an agent is named by a did:key, not {other}"),
        )
        .into()),
    }
}
