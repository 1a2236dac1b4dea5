//! Typed grants, signed credentials (authorisations, delegations), chains and presentations:
//! kya-core's builders, so a credential issued from JavaScript is byte for byte the one Rust
//! issues from the same keys and inputs.

use kya_core::chain::Chain;
use kya_core::credential::{
    AgentAuthorization, AgentDelegation, AgentRegistration, UnverifiedCredential,
    VerifiedCredential,
};
use kya_core::grant::{Action, Amount, Asset, Grant, Money, Period};
use kya_core::json::canonicalize;
use kya_core::{Did, Timestamp};
use kya_verify::{ChainDigest, PresentationOptions};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::errors::{Failure, credential_error, grant_error, input_error};
use crate::js::{
    field, items, json_bytes, parse, strict_value, string_field, strings, timestamp,
    timestamp_field, u64_field, u64_of,
};
use crate::keys::{JsSecretKey, did_key_of, did_of};

#[wasm_bindgen(typescript_custom_section)]
const TS_CREDENTIALS: &'static str = r#"
/** An instant: an RFC 3339 string with a zone, Unix seconds, or a Date (to the second). */
export type KyaTime = string | number | Date;
/** A grant's constraints (all optional). Amounts are "<decimal> <asset>", e.g. "12.50 USD". */
export interface GrantOptions {
  maxAmount?: string;
  audience?: string | string[];
  resource?: string | string[];
  validFrom?: KyaTime;
  validUntil?: KyaTime;
  /** At most `limit` per `period` seconds. */
  budget?: { limit: string; period: number };
  /** At most `count` requests per `period` seconds. */
  rate?: { count: number; period: number };
}
/** A grant's JSON form (kya-core's wire form), as `Grant.toJSON()` returns it. */
export type GrantJson = { action: string; [constraint: string]: unknown };
/** A DID string, or a key (its did:key). */
export type DidLike = string | { readonly did: string };
export interface AuthorizationOptions {
  agent: DidLike;
  grants: Array<Grant | GrantJson>;
  validFrom: KyaTime;
  validUntil: KyaTime;
  /** The issuer when it is not the signer's did:key (a did:pkh wallet that bound the key). */
  principal?: DidLike;
  created?: KyaTime;
  id?: string;
  registration?: { agentRegistry: string; agentId: string };
}
export interface DelegationOptions {
  agent: DidLike;
  grants: Array<Grant | GrantJson>;
  validFrom?: KyaTime;
  validUntil?: KyaTime;
  created?: KyaTime;
  id?: string;
}
export interface PresentOptions {
  audience: string;
  nonce: string;
  created?: KyaTime;
  /** Seconds (default 60). */
  expiresIn?: number;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// Grant constraints.
    #[wasm_bindgen(typescript_type = "GrantOptions")]
    pub type GrantOptions;
    /// An authorisation's inputs.
    #[wasm_bindgen(typescript_type = "AuthorizationOptions")]
    pub type AuthorizationOptions;
    /// A delegation's inputs.
    #[wasm_bindgen(typescript_type = "DelegationOptions")]
    pub type DelegationOptions;
    /// A presentation's inputs.
    #[wasm_bindgen(typescript_type = "PresentOptions")]
    pub type PresentOptions;
    /// Grant JSON (text or object) or a `Grant`.
    #[wasm_bindgen(typescript_type = "string | GrantJson | Grant")]
    pub type GrantInput;
    /// A chain: its JSON (text, bytes, array of credential documents or `Credential`s).
    #[wasm_bindgen(typescript_type = "Chain | string | Uint8Array | Array<Credential | object>")]
    pub type ChainInput;
    /// A credential's JSON (text, bytes or object).
    #[wasm_bindgen(typescript_type = "string | Uint8Array | object")]
    pub type JsonInput;
}

/// `"<decimal> <asset>"`, e.g. `"12.50 USD"`: the form of `KYA-Amount`.
pub(crate) fn money(text: &str) -> Result<Money, JsValue> {
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

/// One grant of an authorisation, delegation or attestation: an action and the
/// constraints under which the agent may perform it.
#[wasm_bindgen(js_name = Grant)]
#[derive(Clone)]
pub struct JsGrant(pub(crate) Grant);

#[wasm_bindgen(js_class = Grant)]
impl JsGrant {
    /// A grant of `action` (e.g. `"payments/send"`) with optional constraints.
    #[wasm_bindgen(constructor)]
    pub fn new(action: &str, options: Option<GrantOptions>) -> Result<JsGrant, JsValue> {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let mut b = Grant::builder(Action::parse(action).map_err(grant_error)?);
        if let Some(m) = string_field(&options, "maxAmount")? {
            let m = money(&m)?;
            b = b.max_amount(m.value, m.asset);
        }
        if let Some(a) = field(&options, "audience")? {
            b = b.audience(strings(&a, "audience")?);
        }
        if let Some(r) = field(&options, "resource")? {
            b = b.resource(strings(&r, "resource")?);
        }
        if let Some(t) = field(&options, "validFrom")? {
            b = b.valid_from(timestamp(&t)?);
        }
        if let Some(t) = field(&options, "validUntil")? {
            b = b.valid_until(timestamp(&t)?);
        }
        if let Some(budget) = field(&options, "budget")? {
            let limit = string_field(&budget, "limit")?
                .ok_or_else(|| grant_error("a budget needs its `limit`"))?;
            let period = u64_field(&budget, "period")?
                .ok_or_else(|| grant_error("a budget needs its `period` (seconds)"))?;
            let m = money(&limit)?;
            b = b.budget(m.value, m.asset, Period::seconds(period));
        }
        if let Some(rate) = field(&options, "rate")? {
            let count =
                field(&rate, "count")?.ok_or_else(|| grant_error("a rate needs its `count`"))?;
            let period = u64_field(&rate, "period")?
                .ok_or_else(|| grant_error("a rate needs its `period` (seconds)"))?;
            b = b.rate(u64_of(&count, "a rate's count")?, Period::seconds(period));
        }
        b.build().map(Self).map_err(grant_error)
    }

    /// Reads a grant's JSON form (text or object).
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(value: GrantInput) -> Result<JsGrant, JsValue> {
        grant_of(&value)
    }

    /// The JSON text of the grant.
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self) -> String {
        self.0.to_json_value().to_string()
    }

    /// The JSON form as an object (what `JSON.stringify` writes for a grant).
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "GrantJson")]
    pub fn to_json_object(&self) -> Result<JsValue, JsValue> {
        parse(&self.to_json())
    }

    /// The action.
    #[wasm_bindgen(getter)]
    pub fn action(&self) -> String {
        self.0.action().to_string()
    }

    /// Whether this grant is at most as wide as `parent` (kya-core's attenuation rule).
    pub fn attenuates(&self, parent: &JsGrant) -> bool {
        self.0.attenuates(&parent.0).is_ok()
    }

    /// The code of the first way this grant is wider than `parent` (e.g.
    /// `"amount_widened"`), or `undefined` when it attenuates.
    pub fn widening(&self, parent: &JsGrant) -> Option<String> {
        self.0
            .attenuates(&parent.0)
            .err()
            .map(|w| w.code().to_owned())
    }

    /// The codes of every way this grant is wider than `parent` (empty when it attenuates).
    pub fn widenings(&self, parent: &JsGrant) -> Vec<String> {
        self.0
            .widenings(&parent.0)
            .iter()
            .map(|w| w.code().to_owned())
            .collect()
    }
}

/// A grant from its JSON (text, object, or a `Grant` through its `toJSON`).
fn grant_of(value: &JsValue) -> Result<JsGrant, JsValue> {
    Grant::from_json_value(&strict_value(value)?)
        .map(JsGrant)
        .map_err(grant_error)
}

/// The `grants` option: an array of `Grant`s or grant JSON objects.
fn grants_field(options: &JsValue) -> Result<Vec<Grant>, JsValue> {
    let list = field(options, "grants")?.ok_or_else(|| grant_error("`grants` is required"))?;
    items(&list, "grants")?
        .iter()
        .map(|g| grant_of(g).map(|g| g.0))
        .collect()
}

/// A signed credential whose proof verified: an authorisation, a delegation or a reputation
/// attestation. Immutable; its digest names it.
#[wasm_bindgen(js_name = Credential)]
#[derive(Clone)]
pub struct JsCredential(pub(crate) VerifiedCredential);

#[wasm_bindgen(js_class = Credential)]
impl JsCredential {
    /// Reads a signed credential (JSON text, bytes or an object) and verifies its proof.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(value: JsonInput) -> Result<JsCredential, JsValue> {
        let bytes = json_bytes(&value)?;
        UnverifiedCredential::from_slice(&bytes)
            .and_then(UnverifiedCredential::verify_proof)
            .map(Self)
            .map_err(|e| credential_error(&e))
    }

    /// The document as JSON text (`pretty`: as `kya issue` and the test vectors print it).
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self, pretty: Option<bool>) -> Result<String, JsValue> {
        let doc = self.0.document();
        if pretty.unwrap_or(false) {
            serde_json::to_string_pretty(doc).map_err(input_error)
        } else {
            Ok(doc.to_string())
        }
    }

    /// The document as an object (what `JSON.stringify` writes for a credential).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json_object(&self) -> Result<JsValue, JsValue> {
        parse(&self.0.document().to_string())
    }

    /// The credential's `id`.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.0.id().to_owned()
    }

    /// `AgentAuthorization`, `AgentDelegation` or `AgentReputationAttestation`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.0.kind().type_name().to_owned()
    }

    /// The issuer's DID.
    #[wasm_bindgen(getter)]
    pub fn issuer(&self) -> String {
        self.0.kind().issuer().to_string()
    }

    /// The subject (the agent's `did:key`).
    #[wasm_bindgen(getter)]
    pub fn subject(&self) -> String {
        self.0.kind().subject().to_string()
    }

    /// `validFrom`.
    #[wasm_bindgen(getter, js_name = validFrom)]
    pub fn valid_from(&self) -> String {
        self.0.kind().valid_from().to_string()
    }

    /// `validUntil`, when set.
    #[wasm_bindgen(getter, js_name = validUntil)]
    pub fn valid_until(&self) -> Option<String> {
        self.0.kind().valid_until().map(|t| t.to_string())
    }

    /// The grants.
    #[wasm_bindgen(getter)]
    pub fn grants(&self) -> Vec<JsGrant> {
        self.0
            .kind()
            .grants()
            .iter()
            .cloned()
            .map(JsGrant)
            .collect()
    }

    /// SHA-256 of the credential's JCS bytes as `digestMultibase` (`u…`): what revocations
    /// and a delegation's `parentCredential` name.
    #[wasm_bindgen(getter)]
    pub fn digest(&self) -> String {
        self.0.digest().to_multibase()
    }

    /// The same digest in hex (the registry's `bytes32`).
    #[wasm_bindgen(getter, js_name = digestHex)]
    pub fn digest_hex(&self) -> String {
        self.0.digest().to_hex()
    }
}

fn registration(options: &JsValue) -> Result<Option<AgentRegistration>, JsValue> {
    let Some(value) = field(options, "registration")? else {
        return Ok(None);
    };
    let need = |name: &str| {
        string_field(&value, name)?
            .ok_or_else(|| credential_parse(format!("a registration needs `{name}`")))
    };
    Ok(Some(AgentRegistration {
        agent_registry: need("agentRegistry")?.parse().map_err(credential_parse)?,
        agent_id: need("agentId")?.parse().map_err(credential_parse)?,
    }))
}

fn credential_parse(e: impl ToString) -> JsValue {
    Failure::plain("CredentialError", e).into()
}

/// Issues an authorisation: `signer` (the principal's key) authorises `options.agent` for
/// `options.grants` from `validFrom` to `validUntil`. The issuer is the signer's `did:key`
/// unless `principal` names a `did:pkh` wallet that bound it.
#[wasm_bindgen(js_name = issueAuthorization)]
pub fn issue_authorization(
    signer: &JsSecretKey,
    options: AuthorizationOptions,
) -> Result<JsCredential, JsValue> {
    let options: JsValue = options.into();
    let issuer: Did = match field(&options, "principal")? {
        Some(p) => did_of(&p)?,
        None => Did::Key(kya_core::DidKey::from_public_key(signer.0.public_key())),
    };
    let agent = field(&options, "agent")?.ok_or_else(|| input_error("`agent` is required"))?;
    let need = |name: &str| {
        field(&options, name)?
            .ok_or_else(|| input_error(format!("`{name}` is required")))
            .and_then(|t| timestamp(&t))
    };
    let mut builder = AgentAuthorization::builder(issuer, did_key_of(&agent)?)
        .valid_from(need("validFrom")?)
        .valid_until(need("validUntil")?)
        .grants(grants_field(&options)?);
    if let Some(id) = string_field(&options, "id")? {
        builder = builder.id(id);
    }
    if let Some(r) = registration(&options)? {
        builder = builder.registration(r);
    }
    let created = timestamp_field(&options, "created", Timestamp::now())?;
    builder
        .sign(signer.0.as_ref(), created)
        .map(JsCredential)
        .map_err(|e| credential_error(&e))
}

/// Delegates a share of `parent` to `options.agent` (a sub-agent): `signer` must hold the
/// parent's subject key, and the grants and window may only narrow the parent's (refused
/// with `grant_widened` / `validity_outside_parent` otherwise). The window defaults to the
/// parent's.
#[wasm_bindgen]
pub fn delegate(
    signer: &JsSecretKey,
    parent: &JsCredential,
    options: DelegationOptions,
) -> Result<JsCredential, JsValue> {
    let options: JsValue = options.into();
    let agent = field(&options, "agent")?.ok_or_else(|| input_error("`agent` is required"))?;
    let mut builder = AgentDelegation::builder(&parent.0, did_key_of(&agent)?)
        .map_err(|e| credential_error(&e))?
        .grants(grants_field(&options)?);
    if let Some(t) = field(&options, "validFrom")? {
        builder = builder.valid_from(timestamp(&t)?);
    }
    if let Some(t) = field(&options, "validUntil")? {
        builder = builder.valid_until(timestamp(&t)?);
    }
    if let Some(id) = string_field(&options, "id")? {
        builder = builder.id(id);
    }
    let created = timestamp_field(&options, "created", Timestamp::now())?;
    builder
        .sign(signer.0.as_ref(), created)
        .map(JsCredential)
        .map_err(|e| credential_error(&e))
}

/// A credential chain: an authorisation, then delegations, each continuing the previous one.
#[wasm_bindgen(js_name = Chain)]
#[derive(Clone)]
pub struct JsChain(pub(crate) Chain);

fn chain_error(e: kya_core::chain::ChainError) -> JsValue {
    Failure::plain("CredentialError", e).into()
}

/// Reads a chain (a JSON array of signed credentials, root first; a single credential is a
/// chain of one), verifying each proof and the linkage.
pub(crate) fn chain_of(value: &JsValue) -> Result<Chain, JsValue> {
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
    Ok(chain)
}

#[wasm_bindgen(js_class = Chain)]
impl JsChain {
    /// A chain of `links` (`Credential`s or their documents, root first), or its JSON.
    #[wasm_bindgen(constructor)]
    pub fn new(links: ChainInput) -> Result<JsChain, JsValue> {
        chain_of(&links).map(Self)
    }

    /// Reads a chain from its JSON (text, bytes or an array), verifying proofs and linkage.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(value: ChainInput) -> Result<JsChain, JsValue> {
        chain_of(&value).map(Self)
    }

    /// A chain one link longer: `delegation` must continue this chain's leaf.
    pub fn extended(&self, delegation: &JsCredential) -> Result<JsChain, JsValue> {
        let mut chain = self.0.clone();
        chain.push(delegation.0.clone()).map_err(chain_error)?;
        Ok(Self(chain))
    }

    /// The links, root first.
    #[wasm_bindgen(getter)]
    pub fn links(&self) -> Vec<JsCredential> {
        self.0.links().iter().cloned().map(JsCredential).collect()
    }

    /// How many links.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.0.links().len()
    }

    /// The agent (the leaf's subject).
    #[wasm_bindgen(getter)]
    pub fn agent(&self) -> String {
        self.0.agent().to_string()
    }

    /// The principal (the root's issuer).
    #[wasm_bindgen(getter)]
    pub fn principal(&self) -> String {
        self.0
            .links()
            .first()
            .map(|c| c.kind().issuer().to_string())
            .unwrap_or_default()
    }

    /// The chain's digest (`u…`), as a verifier names it (`VerifiedAgent.chainDigest`).
    #[wasm_bindgen(getter)]
    pub fn digest(&self) -> Result<String, JsValue> {
        ChainDigest::of_chain(&self.0.to_value())
            .map(|d| d.to_string())
            .map_err(input_error)
    }

    /// The JSON array (`canonical`: its JCS bytes, what `KYA-Chain` carries).
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self, canonical: Option<bool>) -> Result<String, JsValue> {
        let value = self.0.to_value();
        if canonical.unwrap_or(false) {
            let bytes = canonicalize(&value).map_err(input_error)?;
            String::from_utf8(bytes).map_err(input_error)
        } else {
            Ok(value.to_string())
        }
    }

    /// The array of documents (what `JSON.stringify` writes for a chain).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json_object(&self) -> Result<JsValue, JsValue> {
        parse(&self.0.to_value().to_string())
    }

    /// A signed presentation (JSON text) of this chain by its agent (`signer` holds the
    /// leaf's subject key) for `audience`, with `nonce` (the verifier's challenge).
    pub fn present(
        &self,
        signer: &JsSecretKey,
        options: PresentOptions,
    ) -> Result<String, JsValue> {
        let options: JsValue = options.into();
        let need = |name: &str| {
            string_field(&options, name)?
                .ok_or_else(|| input_error(format!("`{name}` is required")))
        };
        let created = timestamp_field(&options, "created", Timestamp::now())?;
        let expires_in = u64_field(&options, "expiresIn")?.unwrap_or(60);
        let options = PresentationOptions {
            audience: need("audience")?,
            nonce: need("nonce")?,
            created,
            expires: created.add_seconds(i64::try_from(expires_in).unwrap_or(i64::MAX)),
        };
        let docs = self.0.documents();
        kya_verify::present(&docs, signer.0.as_ref(), &options)
            .map(|v| v.to_string())
            .map_err(|e| credential_error(&kya_core::credential::CredentialError::Proof(e)))
    }
}
