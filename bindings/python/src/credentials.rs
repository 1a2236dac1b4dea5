//! Typed grants, signed credentials (authorisations, delegations), chains and
//! presentations: kya-core's builders, so a credential issued from Python is byte for byte
//! the one Rust issues from the same keys and inputs.

use kya_core::chain::Chain;
use kya_core::credential::{
    AgentAuthorization, AgentDelegation, AgentRegistration, UnverifiedCredential,
    VerifiedCredential,
};
use kya_core::grant::{Action, Amount, Asset, Grant, GrantSet, Money, Period};
use kya_core::json::canonicalize;
use kya_core::{Did, Timestamp};
use kya_verify::{ChainDigest, PresentationOptions};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use serde_json::Value;

use crate::errors::{Failure, credential_error, grant_error, value_error};
use crate::keys::{did_key_of, did_of, with_signer};
use crate::time::{timestamp, timestamp_or};

/// JSON from Python: `str`, `bytes`, or any value `json.dumps` writes (a `dict`, a `list`).
pub(crate) fn json_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(text.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    let dumped = value
        .py()
        .import("json")?
        .call_method1("dumps", (value,))
        .map_err(|e| value_error(format!("not JSON-serialisable: {e}")))?;
    Ok(dumped.cast::<PyString>()?.to_cow()?.as_bytes().to_vec())
}

/// Parses JSON text into a Python value.
pub(crate) fn loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}

/// Reads a strict JSON value (duplicate keys refused, bounded).
pub(crate) fn strict_value(value: &Bound<'_, PyAny>) -> PyResult<Value> {
    kya_core::json::parse_strict(&json_bytes(value)?, kya_core::json::JsonLimits::default())
        .map_err(value_error)
}

/// `"<decimal> <asset>"`, e.g. `"12.50 USD"`: the form of `KYA-Amount`.
pub(crate) fn money(text: &str) -> PyResult<Money> {
    let (amount, asset) = text.split_once(' ').ok_or_else(|| {
        grant_error(format!(
            "`{text}` is not `<decimal> <asset>`, e.g. `12.50 USD`"
        ))
    })?;
    Ok(Money::new(
        Amount::parse(amount).map_err(grant_error)?,
        Asset::parse(asset).map_err(grant_error)?,
    ))
}

/// One grant: an action and the constraints under which the agent may perform it.
#[pyclass(name = "Grant", module = "kya._kya", frozen, eq)]
#[derive(Clone, PartialEq)]
pub(crate) struct PyGrant(pub(crate) Grant);

#[pymethods]
impl PyGrant {
    /// A grant of `action` (e.g. `"payments/send"`), with optional constraints: a
    /// per-request ceiling (`max_amount="100.00 USD"`), audiences, resource URL prefixes, a
    /// window, a budget (`budget=("500.00 USD", 86400)`: amount per period of seconds) and
    /// a rate (`rate=(10, 60)`: requests per period of seconds).
    #[new]
    #[pyo3(signature = (action, *, max_amount=None, audience=None, resource=None,
        valid_from=None, valid_until=None, budget=None, rate=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        action: &str,
        max_amount: Option<&str>,
        audience: Option<Vec<String>>,
        resource: Option<Vec<String>>,
        valid_from: Option<&Bound<'_, PyAny>>,
        valid_until: Option<&Bound<'_, PyAny>>,
        budget: Option<(String, u64)>,
        rate: Option<(u64, u64)>,
    ) -> PyResult<Self> {
        let mut b = Grant::builder(Action::parse(action).map_err(grant_error)?);
        if let Some(m) = max_amount {
            let m = money(m)?;
            b = b.max_amount(m.value, m.asset);
        }
        if let Some(a) = audience {
            b = b.audience(a);
        }
        if let Some(r) = resource {
            b = b.resource(r);
        }
        if let Some(t) = valid_from {
            b = b.valid_from(timestamp(t)?);
        }
        if let Some(t) = valid_until {
            b = b.valid_until(timestamp(t)?);
        }
        if let Some((limit, period)) = budget {
            let m = money(&limit)?;
            b = b.budget(m.value, m.asset, Period::seconds(period));
        }
        if let Some((count, period)) = rate {
            b = b.rate(count, Period::seconds(period));
        }
        b.build().map(Self).map_err(grant_error)
    }

    /// Reads a grant's JSON form (a `dict` or JSON text).
    #[staticmethod]
    fn from_json(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        Grant::from_json_value(&strict_value(value)?)
            .map(Self)
            .map_err(grant_error)
    }

    /// The JSON text of the grant.
    fn to_json(&self) -> String {
        self.0.to_json_value().to_string()
    }

    /// The action.
    #[getter]
    fn action(&self) -> String {
        self.0.action().to_string()
    }

    /// Whether this grant is at most as wide as `parent` (kya-core's attenuation rule).
    fn attenuates(&self, parent: &PyGrant) -> bool {
        self.0.attenuates(&parent.0).is_ok()
    }

    /// The code of the first way this grant is wider than `parent` (e.g.
    /// `"amount_widened"`), or `None` when it attenuates.
    fn widening(&self, parent: &PyGrant) -> Option<&'static str> {
        self.0.attenuates(&parent.0).err().map(|w| w.code())
    }

    /// The codes of every way this grant is wider than `parent` (empty when it attenuates).
    fn widenings(&self, parent: &PyGrant) -> Vec<&'static str> {
        self.0
            .widenings(&parent.0)
            .iter()
            .map(|w| w.code())
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("Grant({})", self.to_json())
    }
}

/// A signed credential whose proof verified: an authorisation, a delegation or a reputation
/// attestation. Immutable; its digest names it.
#[pyclass(name = "Credential", module = "kya._kya", frozen)]
#[derive(Clone)]
pub(crate) struct PyCredential(pub(crate) VerifiedCredential);

#[pymethods]
impl PyCredential {
    /// Reads a signed credential (JSON text, bytes or a `dict`) and verifies its proof.
    #[staticmethod]
    fn from_json(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        let bytes = json_bytes(value)?;
        UnverifiedCredential::from_slice(&bytes)
            .and_then(UnverifiedCredential::verify_proof)
            .map(Self)
            .map_err(|e| credential_error(&e))
    }

    /// The document as JSON text (`pretty`: as `kya issue` and the test vectors print it).
    #[pyo3(signature = (pretty = false))]
    fn to_json(&self, pretty: bool) -> PyResult<String> {
        let doc = self.0.document();
        if pretty {
            serde_json::to_string_pretty(doc).map_err(value_error)
        } else {
            Ok(doc.to_string())
        }
    }

    /// The document as a Python `dict`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        loads(py, &self.0.document().to_string())
    }

    /// The credential's `id`.
    #[getter]
    fn id(&self) -> String {
        self.0.id().to_owned()
    }

    /// `AgentAuthorization`, `AgentDelegation` or `AgentReputationAttestation`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind().type_name()
    }

    /// The issuer's DID.
    #[getter]
    fn issuer(&self) -> String {
        self.0.kind().issuer().to_string()
    }

    /// The subject (the agent's `did:key`).
    #[getter]
    fn subject(&self) -> String {
        self.0.kind().subject().to_string()
    }

    /// `validFrom`.
    #[getter]
    fn valid_from(&self) -> String {
        self.0.kind().valid_from().to_string()
    }

    /// `validUntil`, when set.
    #[getter]
    fn valid_until(&self) -> Option<String> {
        self.0.kind().valid_until().map(|t| t.to_string())
    }

    /// The grants.
    #[getter]
    fn grants(&self) -> Vec<PyGrant> {
        self.0
            .kind()
            .grants()
            .iter()
            .cloned()
            .map(PyGrant)
            .collect()
    }

    /// SHA-256 of the credential's JCS bytes as `digestMultibase` (`u…`): what revocations
    /// and a delegation's `parentCredential` name.
    #[getter]
    fn digest(&self) -> String {
        self.0.digest().to_multibase()
    }

    /// The same digest in hex (the registry's `bytes32`).
    #[getter]
    fn digest_hex(&self) -> String {
        self.0.digest().to_hex()
    }

    fn __repr__(&self) -> String {
        format!(
            "Credential({} {} → {})",
            self.kind(),
            self.issuer(),
            self.subject()
        )
    }
}

fn registration(value: Option<(String, String)>) -> PyResult<Option<AgentRegistration>> {
    value
        .map(|(registry, id)| {
            Ok(AgentRegistration {
                agent_registry: registry.parse().map_err(credential_parse)?,
                agent_id: id.parse().map_err(credential_parse)?,
            })
        })
        .transpose()
}

fn credential_parse(e: impl ToString) -> PyErr {
    Failure::plain("CredentialError", e).into()
}

fn grants_of(grants: Vec<PyRef<'_, PyGrant>>) -> Vec<Grant> {
    grants.iter().map(|g| g.0.clone()).collect()
}

/// Issues an authorisation: `signer` (the principal's key: a `SecretKey` or an external
/// signer) authorises `agent` for `grants` from `valid_from` to `valid_until`. The issuer is
/// the signer's `did:key` unless `principal` names a `did:pkh` wallet that bound it.
#[pyfunction]
#[pyo3(signature = (signer, *, agent, grants, valid_from, valid_until, principal=None,
    created=None, id=None, registration=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn issue_authorization(
    signer: &Bound<'_, PyAny>,
    agent: &Bound<'_, PyAny>,
    grants: Vec<PyRef<'_, PyGrant>>,
    valid_from: &Bound<'_, PyAny>,
    valid_until: &Bound<'_, PyAny>,
    principal: Option<&Bound<'_, PyAny>>,
    created: Option<&Bound<'_, PyAny>>,
    id: Option<String>,
    registration: Option<(String, String)>,
) -> PyResult<PyCredential> {
    let issuer: Did = match principal {
        Some(p) => did_of(p)?,
        None => did_of(signer)?,
    };
    let mut builder = AgentAuthorization::builder(issuer, did_key_of(agent)?)
        .valid_from(timestamp(valid_from)?)
        .valid_until(timestamp(valid_until)?)
        .grants(grants_of(grants));
    if let Some(id) = id {
        builder = builder.id(id);
    }
    if let Some(r) = self::registration(registration)? {
        builder = builder.registration(r);
    }
    let created = timestamp_or(created, Timestamp::now())?;
    with_signer(signer, |s| {
        builder
            .sign(s, created)
            .map(PyCredential)
            .map_err(|e| credential_error(&e))
    })
}

/// Delegates a share of `parent` to `agent` (a sub-agent): `signer` must hold the parent's
/// subject key, and the grants and window may only narrow the parent's (refused with
/// `grant_widened` / `validity_outside_parent` otherwise). The window defaults to the
/// parent's.
#[pyfunction]
#[pyo3(signature = (signer, parent, *, agent, grants, valid_from=None, valid_until=None,
    created=None, id=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn delegate(
    signer: &Bound<'_, PyAny>,
    parent: &PyCredential,
    agent: &Bound<'_, PyAny>,
    grants: Vec<PyRef<'_, PyGrant>>,
    valid_from: Option<&Bound<'_, PyAny>>,
    valid_until: Option<&Bound<'_, PyAny>>,
    created: Option<&Bound<'_, PyAny>>,
    id: Option<String>,
) -> PyResult<PyCredential> {
    let mut builder = AgentDelegation::builder(&parent.0, did_key_of(agent)?)
        .map_err(|e| credential_error(&e))?
        .grants(grants_of(grants));
    if let Some(t) = valid_from {
        builder = builder.valid_from(timestamp(t)?);
    }
    if let Some(t) = valid_until {
        builder = builder.valid_until(timestamp(t)?);
    }
    if let Some(id) = id {
        builder = builder.id(id);
    }
    let created = timestamp_or(created, Timestamp::now())?;
    with_signer(signer, |s| {
        builder
            .sign(s, created)
            .map(PyCredential)
            .map_err(|e| credential_error(&e))
    })
}

/// A credential chain: an authorisation, then delegations, each continuing the previous
/// one (its issuer is the previous subject, its parent digest the previous credential's).
#[pyclass(name = "Chain", module = "kya._kya", frozen)]
#[derive(Clone)]
pub(crate) struct PyChain(pub(crate) Chain);

fn chain_error(e: kya_core::chain::ChainError) -> PyErr {
    Failure::plain("CredentialError", e).into()
}

#[pymethods]
impl PyChain {
    /// A chain of `links` (credentials, root first; at least the root).
    #[new]
    fn new(links: Vec<PyRef<'_, PyCredential>>) -> PyResult<Self> {
        let mut iter = links.iter();
        let root = iter
            .next()
            .ok_or_else(|| credential_parse("a chain needs at least its root authorisation"))?;
        let mut chain = Chain::new(root.0.clone()).map_err(chain_error)?;
        for link in iter {
            chain.push(link.0.clone()).map_err(chain_error)?;
        }
        Ok(Self(chain))
    }

    /// Reads a chain (a JSON array of signed credentials, root first; a single credential
    /// is a chain of one), verifying each proof and the linkage.
    #[staticmethod]
    fn from_json(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        let docs = match strict_value(value)? {
            Value::Array(docs) => docs,
            single => vec![single],
        };
        let mut links = Vec::with_capacity(docs.len());
        for doc in docs {
            let credential = UnverifiedCredential::from_value(doc)
                .and_then(UnverifiedCredential::verify_proof)
                .map_err(|e| credential_error(&e))?;
            links.push(credential);
        }
        let mut iter = links.into_iter();
        let root = iter
            .next()
            .ok_or_else(|| credential_parse("an empty chain"))?;
        let mut chain = Chain::new(root).map_err(chain_error)?;
        for link in iter {
            chain.push(link).map_err(chain_error)?;
        }
        Ok(Self(chain))
    }

    /// A chain one link longer: `delegation` must continue this chain's leaf.
    fn extended(&self, delegation: &PyCredential) -> PyResult<Self> {
        let mut chain = self.0.clone();
        chain.push(delegation.0.clone()).map_err(chain_error)?;
        Ok(Self(chain))
    }

    /// The links, root first.
    #[getter]
    fn links(&self) -> Vec<PyCredential> {
        self.0.links().iter().cloned().map(PyCredential).collect()
    }

    /// The agent (the leaf's subject).
    #[getter]
    fn agent(&self) -> String {
        self.0.agent().to_string()
    }

    /// The principal (the root's issuer).
    #[getter]
    fn principal(&self) -> String {
        self.0
            .links()
            .first()
            .map(|c| c.kind().issuer().to_string())
            .unwrap_or_default()
    }

    /// The chain's digest (`u…`), as a verifier names it (`VerifiedAgent.chain_digest`).
    #[getter]
    fn digest(&self) -> PyResult<String> {
        ChainDigest::of_chain(&self.0.to_value())
            .map(|d| d.to_string())
            .map_err(value_error)
    }

    /// The JSON array (`canonical`: its JCS bytes, what `KYA-Chain` carries).
    #[pyo3(signature = (canonical = false))]
    fn to_json(&self, canonical: bool) -> PyResult<String> {
        let value = self.0.to_value();
        if canonical {
            let bytes = canonicalize(&value).map_err(value_error)?;
            String::from_utf8(bytes).map_err(value_error)
        } else {
            Ok(value.to_string())
        }
    }

    /// A signed presentation of this chain by its agent (`signer` holds the leaf's subject
    /// key) for `audience`, with `nonce` (the verifier's challenge) and a short window.
    #[pyo3(signature = (signer, *, audience, nonce, created=None, expires_in=60))]
    fn present(
        &self,
        signer: &Bound<'_, PyAny>,
        audience: String,
        nonce: String,
        created: Option<&Bound<'_, PyAny>>,
        expires_in: i64,
    ) -> PyResult<String> {
        let created = timestamp_or(created, Timestamp::now())?;
        let options = PresentationOptions {
            audience,
            nonce,
            created,
            expires: created.add_seconds(expires_in),
        };
        let docs = self.0.documents();
        with_signer(signer, |s| {
            kya_verify::present(&docs, s, &options)
                .map(|v| v.to_string())
                .map_err(|e| credential_error(&kya_core::credential::CredentialError::Proof(e)))
        })
    }

    fn __len__(&self) -> usize {
        self.0.links().len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Chain({} links, agent {})",
            self.0.links().len(),
            self.0.agent()
        )
    }
}

/// Grants of a child against its parent's as a set: `None` when every child grant is
/// covered by a parent grant, else the code of the uncovered grant's widening.
#[pyfunction]
pub(crate) fn grants_attenuate(
    child: Vec<PyRef<'_, PyGrant>>,
    parent: Vec<PyRef<'_, PyGrant>>,
) -> Option<String> {
    let child = grants_of(child);
    let parent = grants_of(parent);
    GrantSet(&child)
        .attenuates(&parent)
        .err()
        .map(|w| w.reason.code().to_owned())
}
