//! The request as the verifier sees it, and the small encodings around it.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kya_core::PublicKey;
use kya_core::grant::{Amount, Asset, Money};
use sha2::{Digest as _, Sha256};
use web_bot_auth::components::{
    CoveredComponent, DerivedComponent, HTTPField, HTTPFieldParameters,
};
use web_bot_auth::message_signatures::SignedMessage;

use super::{HttpError, sf};

/// An HTTP request reduced to what a signature covers: method, authority, path, query,
/// headers and body. Framework-neutral; the tower middleware and the CLI build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method, e.g. `POST` (compared as given: methods are case-sensitive).
    pub method: String,
    /// The authority (`host[:port]`), lowercased.
    pub authority: String,
    /// The path, starting with `/`, without the query.
    pub path: String,
    /// The query without its leading `?`, if the target had one.
    pub query: Option<String>,
    /// Header fields in order, names as received (looked up case-insensitively).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request with no headers and an empty body.
    pub fn new(method: &str, authority: &str, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (path_and_query, None),
        };
        Self {
            method: method.to_owned(),
            authority: authority.to_ascii_lowercase(),
            path: if path.is_empty() {
                "/".to_owned()
            } else {
                path.to_owned()
            },
            query,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Splits an absolute `http://` or `https://` URL into scheme and request: the authority
    /// loses a default port (`:80` for http, `:443` for https), as clients send it.
    pub fn from_url(method: &str, url: &str) -> Result<(String, Self), HttpError> {
        let bad = || HttpError::BadRequest {
            detail: format!("`{}` is not an absolute http(s) url", truncate(url, 200)),
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad());
        }
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path_and_query) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if authority.is_empty()
            || authority.contains('@')
            || authority.contains(char::is_whitespace)
        {
            return Err(bad());
        }
        let authority = authority.to_ascii_lowercase();
        let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
            ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host.to_owned(),
            _ => authority,
        };
        let path_and_query = if path_and_query.starts_with('?') {
            format!("/{path_and_query}")
        } else {
            path_and_query.to_owned()
        };
        Ok((scheme, Self::new(method, &authority, &path_and_query)))
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Every value of a header field, in order, trimmed.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.values_of(name).collect()
    }

    /// Whether the request has a header field `name`.
    pub fn has_header(&self, name: &str) -> bool {
        self.values_of(name).next().is_some()
    }

    /// The single value of a header field: `Ok(None)` when absent, an error when repeated.
    pub fn single_header(&self, name: &str) -> Result<Option<&str>, HttpError> {
        let mut values = self.values_of(name);
        match (values.next(), values.next()) {
            (one, None) => Ok(one),
            (Some(_), Some(_)) | (None, Some(_)) => Err(HttpError::DuplicateHeader {
                name: name.to_owned(),
            }),
        }
    }

    /// Every line of field `name`, combined as RFC 9110 §5.3 combines them (`, `), borrowed
    /// when there is one; `None` when absent.
    pub(crate) fn combined_values(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        let mut values = self.values_of(name);
        match (values.next()?, values.next()) {
            (one, None) => Some(one.into()),
            (first, Some(second)) => {
                let mut all = [first, second].join(", ");
                for more in values {
                    all.push_str(", ");
                    all.push_str(more);
                }
                Some(all.into())
            }
        }
    }

    /// The values of `name`, trimmed, without collecting them (a request is looked up a few
    /// dozen times per verification).
    pub(crate) fn values_of<'r, 'n>(
        &'r self,
        name: &'n str,
    ) -> impl Iterator<Item = &'r str> + use<'r, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name))
            // ASCII whitespace only: kya reads ASCII field values alone (a non-ASCII one is
            // refused wherever it is read), and the byte-wise trim is several times cheaper.
            .map(|(_, v)| v.trim_ascii())
    }

    /// The serialized value of member `key` of the Dictionary field `name` (every line of the
    /// field, combined), or `None` when the field is absent, is not a Dictionary or has no
    /// such member.
    pub fn dictionary_member(&self, name: &str, key: &str) -> Option<String> {
        let text = self.combined_values(name)?;
        let dictionary = sf::Dictionary::parse(&text).ok()?;
        let mut out = String::new();
        match dictionary.get(key)? {
            sf::Entry::Item(item) => sf::write_item(item, &mut out),
            sf::Entry::InnerList(list) => sf::write_inner_list(list, &mut out),
        }
        Some(out)
    }

    /// The `@path` value: the path, `/` when empty.
    pub fn path_component(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }

    /// The request target as a resource URL: `<scheme>://<authority><path>`.
    pub fn resource(&self, scheme: &str) -> String {
        format!("{scheme}://{}{}", self.authority, self.path_component())
    }
}

impl SignedMessage for HttpRequest {
    fn lookup_component(&self, name: &CoveredComponent) -> Vec<String> {
        match name {
            CoveredComponent::HTTP(HTTPField { name, parameters }) => {
                match parameters.0.as_slice() {
                    [] => self
                        .header_values(name)
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                    // RFC 9421 §2.1.2: one member of a Dictionary field, as its serialized
                    // member value (how Web Bot Auth signs its `Signature-Agent` entry).
                    [HTTPFieldParameters::Key(key)] => {
                        self.dictionary_member(name, key).into_iter().collect()
                    }
                    // `sf`, `bs`, `tr`, `req` and combinations are not supported: an empty
                    // answer makes the signature base fail to build, so the signature is
                    // refused.
                    _ => Vec::new(),
                }
            }
            CoveredComponent::Derived(derived) => match derived {
                DerivedComponent::Method { req: false } => vec![self.method.clone()],
                DerivedComponent::Authority { req: false } => vec![self.authority.clone()],
                DerivedComponent::Path { req: false } => vec![self.path_component().to_owned()],
                DerivedComponent::Query { req: false } => {
                    vec![format!("?{}", self.query.as_deref().unwrap_or_default())]
                }
                _ => Vec::new(),
            },
        }
    }
}

/// How a request names its credential chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainRef {
    /// The chain's JCS bytes, from `KYA-Chain`.
    Inline(Vec<u8>),
    /// The SHA-256 of the chain's JCS bytes, from `KYA-Chain-Digest`.
    Digest([u8; 32]),
}

impl ChainRef {
    /// The SHA-256 naming the chain.
    pub fn digest(&self) -> [u8; 32] {
        match self {
            Self::Inline(bytes) => Sha256::digest(bytes).into(),
            Self::Digest(d) => *d,
        }
    }

    /// The `KYA-Chain` value for chain bytes.
    pub fn encode_inline(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The `KYA-Chain-Digest` value for a digest.
    pub fn encode_digest(digest: &[u8; 32]) -> String {
        format!("sha-256=:{}:", STANDARD.encode(digest))
    }

    /// Reads `KYA-Chain` (at most `max_bytes` once decoded).
    pub fn parse_inline(value: &str, max_bytes: usize) -> Result<Self, HttpError> {
        crate::chain::decode_chain_text(value.trim_end_matches('='), max_bytes)
            .map(Self::Inline)
            .map_err(|e| match e {
                crate::chain::ChainTextError::TooLarge { .. } => {
                    HttpError::ChainTooLarge { max_bytes }
                }
                crate::chain::ChainTextError::NotBase64(_) => HttpError::ChainMalformed {
                    detail: "KYA-Chain is not base64url".to_owned(),
                },
            })
    }

    /// Reads `KYA-Chain-Digest`.
    pub fn parse_digest(value: &str) -> Result<Self, HttpError> {
        parse_sha256_dictionary(value)
            .map(Self::Digest)
            .ok_or_else(|| HttpError::ChainMalformed {
                detail: "KYA-Chain-Digest must be `sha-256=:<base64 of 32 bytes>:`".to_owned(),
            })
    }
}

/// The `Content-Digest` value (RFC 9530) of a body: `sha-256=:<base64>:`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// Checks a `Content-Digest` value against a body. The field must be a structured dictionary
/// with a `sha-256` member; other algorithms are ignored, and a missing `sha-256` fails.
pub fn verify_content_digest(value: &str, body: &[u8]) -> Result<(), HttpError> {
    let expected = parse_sha256_dictionary(value).ok_or(HttpError::ContentDigestMalformed)?;
    let actual: [u8; 32] = Sha256::digest(body).into();
    if expected == actual {
        Ok(())
    } else {
        Err(HttpError::ContentDigestMismatch)
    }
}

/// The `sha-256` member of a structured-field dictionary, if it is a 32-byte byte sequence.
fn parse_sha256_dictionary(value: &str) -> Option<[u8; 32]> {
    match sf::Dictionary::parse(value).ok()?.get("sha-256")? {
        sf::Entry::Item(sf::Item {
            bare: sf::Bare::ByteSequence(bytes),
            ..
        }) => bytes.as_slice().try_into().ok(),
        _ => None,
    }
}

/// The RFC 7638 JWK thumbprint (base64url SHA-256) of an Ed25519 key written as an OKP JWK
/// (`{"crv":"Ed25519","kty":"OKP","x":…}`): the `keyid` of Web Bot Auth.
pub fn jwk_thumbprint(key: &PublicKey) -> String {
    // RFC 7638 §3: SHA-256 of the required members in lexicographic order, no whitespace:
    // {"crv":"Ed25519","kty":"OKP","x":"<base64url of the 32 key bytes>"} (RFC 8037 §2).
    let mut x = [0u8; 43];
    let written = URL_SAFE_NO_PAD
        .encode_slice(key.to_bytes(), &mut x)
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(br#"{"crv":"Ed25519","kty":"OKP","x":""#);
    h.update(&x[..written]);
    h.update(br#""}"#);
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Reads `KYA-Amount`: `<decimal> <asset>`, exactly one space, e.g. `12.50 USD`.
pub fn parse_amount_header(value: &str) -> Result<Money, HttpError> {
    let bad = |why: String| HttpError::HeaderInvalid {
        name: "KYA-Amount".to_owned(),
        detail: why,
    };
    let (amount, asset) = value
        .split_once(' ')
        .ok_or_else(|| bad("expected `<decimal> <asset>`, e.g. `12.50 USD`".to_owned()))?;
    let amount = Amount::parse(amount).map_err(|e| bad(e.to_string()))?;
    let asset = Asset::parse(asset).map_err(|e| bad(e.to_string()))?;
    Ok(Money::new(amount, asset))
}

/// Writes `KYA-Amount`.
pub fn format_amount_header(money: &Money) -> String {
    format!("{} {}", money.value, money.asset)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn content_digest_matches_rfc_9530_example() {
        // RFC 9530 §B.1: the body `{"hello": "world"}` has this sha-256 digest.
        let body = br#"{"hello": "world"}"#;
        assert_eq!(
            content_digest(body),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        assert!(verify_content_digest(&content_digest(body), body).is_ok());
        assert!(matches!(
            verify_content_digest(&content_digest(body), b"other"),
            Err(HttpError::ContentDigestMismatch)
        ));
        assert!(matches!(
            verify_content_digest("sha-512=:AAAA:", body),
            Err(HttpError::ContentDigestMalformed)
        ));
    }

    #[test]
    fn urls_split_into_authority_path_and_query() {
        let (scheme, r) =
            HttpRequest::from_url("POST", "https://Shop.Example:443/pay?x=1").unwrap();
        assert_eq!(scheme, "https");
        assert_eq!(r.authority, "shop.example");
        assert_eq!(r.path, "/pay");
        assert_eq!(r.query.as_deref(), Some("x=1"));
        let (_, r) = HttpRequest::from_url("GET", "http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (r.authority.as_str(), r.path.as_str()),
            ("127.0.0.1:8080", "/")
        );
        assert!(HttpRequest::from_url("GET", "ftp://x/").is_err());
        assert!(HttpRequest::from_url("GET", "https://user@x/").is_err());
    }

    #[test]
    fn amount_header_round_trips() {
        let money = parse_amount_header("12.50 USD").unwrap();
        assert_eq!(format_amount_header(&money), "12.50 USD");
        assert!(parse_amount_header("12.50").is_err());
        assert!(parse_amount_header("12.5.0 USD").is_err());
    }

    #[test]
    fn thumbprints_are_the_ones_web_bot_auth_computes() {
        for seed in 0..32u8 {
            let key = kya_core::SecretKey::from_seed(&[seed; 32]).public_key();
            let theirs = web_bot_auth::keyring::Thumbprintable::OKP {
                crv: "Ed25519".to_owned(),
                x: URL_SAFE_NO_PAD.encode(key.to_bytes()),
            }
            .b64_thumbprint();
            assert_eq!(jwk_thumbprint(&key), theirs);
        }
    }

    #[test]
    fn thumbprint_matches_rfc_8037_example() {
        // RFC 8037 §A.3: the thumbprint of the Appendix A.2 Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = PublicKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(
            jwk_thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
