//! The agent's side: signing a request (RFC 9421, Web Bot Auth profile).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kya_core::grant::{Action, Money};
use kya_core::json::canonicalize;
use kya_core::{Ed25519Signer, Timestamp};
use serde_json::Value;
use sfv::SerializeValue as _;
use web_bot_auth::components::{
    CoveredComponent, DerivedComponent, HTTPField, HTTPFieldParameters, HTTPFieldParametersSet,
};
use web_bot_auth::message_signatures::SignedMessage as _;

use super::message::{ChainRef, HttpRequest, content_digest, format_amount_header, jwk_thumbprint};
use super::{
    CONTENT_DIGEST, HttpError, INLINE_CHAIN_MAX_HEADER_BYTES, KYA_ACTION, KYA_AMOUNT, KYA_CHAIN,
    KYA_CHAIN_DIGEST, SIGNATURE, SIGNATURE_AGENT, SIGNATURE_INPUT, SIGNATURE_LABEL,
    WEB_BOT_AUTH_TAG,
};

/// How the signer carries the credential chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChainTransport {
    /// Inline while the `KYA-Chain` value fits in [`INLINE_CHAIN_MAX_HEADER_BYTES`], by
    /// digest otherwise.
    #[default]
    Auto,
    /// Always inline (`KYA-Chain`), whatever its size.
    Inline,
    /// Always by digest (`KYA-Chain-Digest`): the verifier must already have the chain.
    Digest,
    /// As the request body, with no chain header: a chain registration call (the merchant
    /// stores the chain under its digest for later requests by digest).
    Body,
}

/// What a signed request asks for, and its window: named fields, so that `created` and
/// `expires` cannot be swapped by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignOptions<'a> {
    /// The action declared in `KYA-Action` (the merchant's route map has the last word).
    pub action: Option<&'a Action>,
    /// The amount declared in `KYA-Amount`.
    pub amount: Option<&'a Money>,
    /// When the signature starts to be valid.
    pub created: Timestamp,
    /// When it stops (at most the merchant's maximum window after `created`).
    pub expires: Timestamp,
    /// A fresh nonce ([`RequestSigner::random_nonce`]).
    pub nonce: &'a str,
}

/// The headers a signer added to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `(name, value)` pairs in the order added, names in their conventional case.
    pub headers: Vec<(String, String)>,
    /// The `keyid` (JWK thumbprint of the agent key).
    pub keyid: String,
    /// The `nonce`.
    pub nonce: String,
    /// `created`.
    pub created: Timestamp,
    /// `expires`.
    pub expires: Timestamp,
    /// Whether the chain went inline (`KYA-Chain`) rather than by digest.
    pub chain_inline: bool,
}

/// Signs HTTP requests for an agent: its key (any [`Ed25519Signer`]) and its credential
/// chain (root first, the agent's own credential last).
pub struct RequestSigner<'k> {
    signer: &'k dyn Ed25519Signer,
    chain: Vec<u8>,
    transport: ChainTransport,
    signature_agent: Option<String>,
}

impl std::fmt::Debug for RequestSigner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSigner")
            .field("key", &self.signer.public_key())
            .field("chain_bytes", &self.chain.len())
            .field("transport", &self.transport)
            .field("signature_agent", &self.signature_agent)
            .finish()
    }
}

impl<'k> RequestSigner<'k> {
    /// A signer for `chain` (a JSON array of credentials, root first; a single credential is
    /// taken as a chain of one).
    pub fn new(signer: &'k dyn Ed25519Signer, chain: &Value) -> Result<Self, HttpError> {
        let chain = match chain {
            Value::Array(_) => chain.clone(),
            single => Value::Array(vec![single.clone()]),
        };
        let chain = canonicalize(&chain).map_err(|e| HttpError::ChainMalformed {
            detail: e.to_string(),
        })?;
        Ok(Self {
            signer,
            chain,
            transport: ChainTransport::Auto,
            signature_agent: None,
        })
    }

    /// A signer for a typed chain; `signer` must hold the chain's agent key (the leaf's
    /// subject), or every request it signs would be refused.
    pub fn for_chain(
        signer: &'k dyn Ed25519Signer,
        chain: &kya_core::chain::Chain,
    ) -> Result<Self, HttpError> {
        let agent = chain.agent().public_key();
        if signer.public_key() != agent {
            return Err(HttpError::KeyIdMismatch {
                keyid: jwk_thumbprint(&signer.public_key()),
                expected: jwk_thumbprint(&agent),
            });
        }
        Self::new(signer, &chain.to_value())
    }

    /// Chooses how the chain travels.
    pub fn transport(mut self, transport: ChainTransport) -> Self {
        self.transport = transport;
        self
    }

    /// Sends `Signature-Agent: sig1="<url>"` and covers `"signature-agent";key="sig1"`, as
    /// the Web Bot Auth protocol asks of a signer (the URL where the agent's keys are
    /// published: an `https` origin for a key directory). kya's verifier takes the agent's
    /// key from the chain, not from this URL.
    pub fn signature_agent(mut self, url: &str) -> Result<Self, HttpError> {
        let valid = url.starts_with("https://")
            && url.len() <= 2048
            && url
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if !valid {
            return Err(HttpError::BadRequest {
                detail: "a Signature-Agent must be an https url of printable ascii".to_owned(),
            });
        }
        self.signature_agent = Some(url.to_owned());
        Ok(self)
    }

    /// The chain's JCS bytes (what `KYA-Chain` encodes and `KYA-Chain-Digest` hashes; also
    /// the body of a chain registration call).
    pub fn chain_bytes(&self) -> &[u8] {
        &self.chain
    }

    /// The `KYA-Chain-Digest` value of the chain.
    pub fn chain_digest_header(&self) -> String {
        ChainRef::encode_digest(&ChainRef::Inline(self.chain.clone()).digest())
    }

    /// A fresh random nonce (32 bytes, base64).
    pub fn random_nonce() -> String {
        use rand_core::RngCore as _;
        // 64 random bytes, base64: the nonce form Web Bot Auth signers send.
        let mut bytes = [0u8; 64];
        rand_core::OsRng.fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// Signs `request` in place: adds `Content-Digest`, the chain header, `KYA-Action` and
    /// `KYA-Amount` when given, `Signature-Input` and `Signature`. Any previous values of
    /// those headers are removed first. With [`ChainTransport::Body`] the body becomes the
    /// chain.
    pub fn sign(
        &self,
        request: &mut HttpRequest,
        options: &SignOptions<'_>,
    ) -> Result<SignedHeaders, HttpError> {
        let SignOptions {
            action,
            amount,
            created,
            expires,
            nonce,
        } = *options;
        if self.transport == ChainTransport::Body {
            request.body = self.chain.clone();
        }
        let inline_value = ChainRef::encode_inline(&self.chain);
        let inline = match self.transport {
            ChainTransport::Inline => Some(true),
            ChainTransport::Digest => Some(false),
            ChainTransport::Body => None,
            ChainTransport::Auto => Some(inline_value.len() <= INLINE_CHAIN_MAX_HEADER_BYTES),
        };
        let mut added: Vec<(String, String)> =
            vec![("Content-Digest".into(), content_digest(&request.body))];
        let mut covered: Vec<CoveredComponent> = vec![
            derived(DerivedComponent::Method { req: false }),
            derived(DerivedComponent::Authority { req: false }),
            derived(DerivedComponent::Path { req: false }),
        ];
        if request.query.is_some() {
            covered.push(derived(DerivedComponent::Query { req: false }));
        }
        covered.push(field(CONTENT_DIGEST));
        match inline {
            Some(true) => {
                added.push(("KYA-Chain".into(), inline_value));
                covered.push(field(KYA_CHAIN));
            }
            Some(false) => {
                added.push(("KYA-Chain-Digest".into(), self.chain_digest_header()));
                covered.push(field(KYA_CHAIN_DIGEST));
            }
            None => {}
        }
        if let Some(url) = &self.signature_agent {
            added.push((
                "Signature-Agent".into(),
                format!("{SIGNATURE_LABEL}=\"{url}\""),
            ));
            covered.push(CoveredComponent::HTTP(HTTPField {
                name: SIGNATURE_AGENT.to_owned(),
                parameters: HTTPFieldParametersSet(vec![HTTPFieldParameters::Key(
                    SIGNATURE_LABEL.to_owned(),
                )]),
            }));
        }
        if let Some(action) = action {
            added.push(("KYA-Action".into(), action.to_string()));
            covered.push(field(KYA_ACTION));
        }
        if let Some(amount) = amount {
            added.push(("KYA-Amount".into(), format_amount_header(amount)));
            covered.push(field(KYA_AMOUNT));
        }
        for name in [
            CONTENT_DIGEST,
            KYA_CHAIN,
            KYA_CHAIN_DIGEST,
            KYA_ACTION,
            KYA_AMOUNT,
            SIGNATURE_AGENT,
            SIGNATURE_INPUT,
            SIGNATURE,
        ] {
            request
                .headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
        request.headers.extend(added.iter().cloned());

        let keyid = jwk_thumbprint(&self.signer.public_key());
        let params = signature_params(created.unix(), expires.unix(), nonce, &keyid)?;
        let mut values = Vec::with_capacity(covered.len());
        for component in covered {
            let found = request.lookup_component(&component);
            let [value] = found.as_slice() else {
                return Err(HttpError::ComponentMissing {
                    component: component_name(&component),
                });
            };
            values.push((component, value.clone()));
        }
        let (base, params_line) = signature_base(values, params)?;
        let signature =
            self.signer
                .try_sign(base.as_bytes())
                .map_err(|e| HttpError::BadRequest {
                    detail: format!("the signer failed: {e}"),
                })?;
        let signature_value =
            sfv::Item::new(sfv::BareItem::ByteSequence(signature.to_bytes().to_vec()))
                .serialize_value();
        let input = format!("{SIGNATURE_LABEL}={params_line}");
        let signature_header = format!("{SIGNATURE_LABEL}={signature_value}");
        request
            .headers
            .push(("Signature-Input".into(), input.clone()));
        request
            .headers
            .push(("Signature".into(), signature_header.clone()));
        added.push(("Signature-Input".into(), input));
        added.push(("Signature".into(), signature_header));
        Ok(SignedHeaders {
            headers: added,
            keyid,
            nonce: nonce.to_owned(),
            created,
            expires,
            chain_inline: inline == Some(true),
        })
    }
}

fn derived(d: DerivedComponent) -> CoveredComponent {
    CoveredComponent::Derived(d)
}

fn field(name: &str) -> CoveredComponent {
    CoveredComponent::HTTP(HTTPField {
        name: name.to_owned(),
        parameters: HTTPFieldParametersSet(Vec::new()),
    })
}

/// The name of a component as written in `Signature-Input` (without parameters).
pub(crate) fn component_name(component: &CoveredComponent) -> String {
    let item: Result<sfv::Item, _> = match component.clone() {
        CoveredComponent::HTTP(h) => sfv::Item::try_from(h),
        CoveredComponent::Derived(d) => sfv::Item::try_from(d),
    };
    // The name with its parameters (`signature-agent;key="sig1"`), so that a parameterised
    // component never stands in for the plain one a rule requires.
    item.ok()
        .and_then(|i| {
            let name = i.bare_item.as_string()?.as_str().to_owned();
            let mut params = sfv::Item::new(sfv::BareItem::Boolean(true));
            params.params = i.params;
            let serialized = params.serialize_value();
            Some(format!("{name}{}", serialized.trim_start_matches("?1")))
        })
        .unwrap_or_else(|| "?".to_owned())
}

fn signature_params(
    created: i64,
    expires: i64,
    nonce: &str,
    keyid: &str,
) -> Result<sfv::Parameters, HttpError> {
    let string = |name: &'static str, v: &str| {
        sfv::String::from_string(v.to_owned())
            .map(sfv::BareItem::String)
            .map_err(|_| HttpError::ParameterInvalid { name })
    };
    let integer = |name: &'static str, v: i64| {
        sfv::Integer::try_from(v)
            .map(sfv::BareItem::Integer)
            .map_err(|_| HttpError::ParameterInvalid { name })
    };
    let mut params = sfv::Parameters::new();
    params.insert(
        sfv::KeyRef::constant("created").to_owned(),
        integer("created", created)?,
    );
    params.insert(
        sfv::KeyRef::constant("expires").to_owned(),
        integer("expires", expires)?,
    );
    params.insert(
        sfv::KeyRef::constant("nonce").to_owned(),
        string("nonce", nonce)?,
    );
    params.insert(
        sfv::KeyRef::constant("keyid").to_owned(),
        string("keyid", keyid)?,
    );
    params.insert(
        sfv::KeyRef::constant("alg").to_owned(),
        string("alg", "ed25519")?,
    );
    params.insert(
        sfv::KeyRef::constant("tag").to_owned(),
        string("tag", WEB_BOT_AUTH_TAG)?,
    );
    Ok(params)
}

/// The RFC 9421 §2.5 signature base of covered component values and signature parameters,
/// and the `@signature-params` value (the inner list written into `Signature-Input`).
///
/// The same construction as the `web-bot-auth` crate's (whose own is private): each line is
/// the component identifier serialised as a structured-field item, `: `, and the value; the
/// last is `"@signature-params": ` and the serialised inner list. Non-ASCII is refused.
pub(crate) fn signature_base<V: AsRef<str>>(
    components: impl IntoIterator<Item = (CoveredComponent, V)>,
    params: sfv::Parameters,
) -> Result<(String, String), HttpError> {
    let malformed = |detail: String| HttpError::SignatureMalformed { detail };
    let components: Vec<(CoveredComponent, V)> = components.into_iter().collect();
    // One allocation for the base: an inline chain makes it kilobytes long.
    let values_len: usize = components.iter().map(|(_, v)| v.as_ref().len() + 64).sum();
    let mut base = String::with_capacity(values_len + 256);
    let mut items = Vec::with_capacity(components.len());
    for (component, value) in components {
        let value = value.as_ref();
        let item = match component {
            CoveredComponent::HTTP(h) => sfv::Item::try_from(h),
            CoveredComponent::Derived(d) => sfv::Item::try_from(d),
        }
        .map_err(|e| malformed(e.to_string()))?;
        if value.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(malformed(
                "a component value contains a line break".to_owned(),
            ));
        }
        base.push_str(&item.serialize_value());
        base.push_str(": ");
        base.push_str(value);
        base.push('\n');
        items.push(item);
    }
    let params_line = vec![sfv::ListEntry::InnerList(sfv::InnerList::with_params(
        items, params,
    ))]
    .serialize_value()
    .ok_or_else(|| malformed("the signature parameters cannot be serialised".to_owned()))?;
    base.push_str("\"@signature-params\": ");
    base.push_str(&params_line);
    if !base.is_ascii() {
        return Err(malformed("the signature base is not ascii".to_owned()));
    }
    Ok((base, params_line))
}
