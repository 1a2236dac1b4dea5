//! The verifier's reading of RFC 9421 `Signature-Input` and `Signature`: the Web Bot Auth
//! label, its covered components with their values borrowed from the request, and the
//! signature base built once.
//!
//! The components kya signs and accepts are `@method`, `@authority`, `@path`, `@query` and
//! header fields, plain or as one member of a Dictionary field (`;key="…"`, RFC 9421
//! §2.1.2). Anything else is refused rather than guessed at. The base is built exactly as
//! [`super::sign::signature_base`] builds it for the signer; `tests/web_bot_auth_interop.rs`
//! holds both to the `web-bot-auth` crate's construction.

use std::borrow::Cow;

use super::message::HttpRequest;
use super::sf::{self, Bare};
use super::{HttpError, SIGNATURE, SIGNATURE_INPUT, WEB_BOT_AUTH_TAG};

/// The label a Web Bot Auth verifier picks, read and checked for form only.
#[derive(Debug)]
pub(crate) struct SignatureInput {
    /// Covered component names, with their parameters (`signature-agent;key="sig1"`).
    pub(crate) covered: Vec<String>,
    /// The label's parameters that kya reads.
    pub(crate) params: SignatureParams,
    /// The signature bytes.
    pub(crate) signature: Vec<u8>,
    /// The RFC 9421 §2.5 signature base.
    pub(crate) base: String,
}

/// The parameters kya reads, copied out of the header (the others are only signed).
#[derive(Debug, Default)]
pub(crate) struct SignatureParams(Vec<(&'static str, sfv::BareItem)>);

impl SignatureParams {
    const READ: [&'static str; 5] = ["alg", "created", "expires", "keyid", "nonce"];

    fn of(params: &sf::Params<'_>) -> Self {
        Self(
            Self::READ
                .iter()
                .filter_map(|name| params.get(name).map(|v| (*name, v.clone().into())))
                .collect(),
        )
    }

    /// The value of parameter `name` (one of those kya reads).
    pub(crate) fn get(&self, name: &str) -> Option<&sfv::BareItem> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl SignatureInput {
    /// An integer parameter.
    pub(crate) fn integer(&self, name: &'static str) -> Result<Option<i64>, HttpError> {
        match self.params.get(name) {
            None => Ok(None),
            Some(item) => item
                .as_integer()
                .map(|i| Some(i64::from(i)))
                .ok_or(HttpError::ParameterInvalid { name }),
        }
    }

    /// A string parameter.
    pub(crate) fn string(&self, name: &'static str) -> Result<Option<&str>, HttpError> {
        match self.params.get(name) {
            None => Ok(None),
            Some(item) => item
                .as_string()
                .map(|s| Some(s.as_str()))
                .ok_or(HttpError::ParameterInvalid { name }),
        }
    }
}

/// Reads the request's Web Bot Auth signature: the first label of `Signature-Input` that
/// carries `keyid`, `created`, `expires` and `tag="web-bot-auth"`, covers `@authority`, and
/// covers `signature-agent` when the request has that header; its signature from
/// `Signature`; and the signature base over the request's own values.
pub(crate) fn read_signature(request: &HttpRequest) -> Result<SignatureInput, HttpError> {
    let input_text = field_text(request, SIGNATURE_INPUT)?;
    let signature_text = field_text(request, SIGNATURE)?;
    let inputs = dictionary(&input_text, SIGNATURE_INPUT)?;
    let mut signatures = dictionary(&signature_text, SIGNATURE)?;
    let has_agent = request.has_header("signature-agent");
    let (label, list) = inputs
        .members()
        .find_map(|(label, entry)| match entry {
            sf::Entry::InnerList(list) if is_web_bot_auth(list, has_agent) => Some((label, list)),
            _ => None,
        })
        .ok_or_else(|| HttpError::SignatureMissing {
            detail: "no Web Bot Auth signature (no label with keyid, created, expires, tag=\"web-bot-auth\" covering @authority)".to_owned(),
        })?;
    let signature = match signatures.take(label.as_str()) {
        Some(sf::Entry::Item(sf::Item {
            bare: Bare::ByteSequence(bytes),
            ..
        })) => bytes,
        _ => {
            return Err(malformed(format!(
                "no byte-sequence signature for label `{}`",
                label.as_str()
            )));
        }
    };
    let (base, covered) = base_of(request, list)?;
    Ok(SignatureInput {
        covered,
        params: SignatureParams::of(&list.params),
        signature,
        base,
    })
}

/// Every line of a field, combined (RFC 9421 §4.1 allows several).
fn field_text<'r>(request: &'r HttpRequest, name: &str) -> Result<Cow<'r, str>, HttpError> {
    request
        .combined_values(name)
        .ok_or_else(|| HttpError::SignatureMissing {
            detail: format!("no {name} header"),
        })
}

fn dictionary<'t>(text: &'t str, name: &str) -> Result<sf::Dictionary<'t>, HttpError> {
    sf::Dictionary::parse(text)
        .map_err(|e| malformed(format!("{name} is not a structured-field dictionary: {e}")))
}

fn is_web_bot_auth(list: &sf::InnerList<'_>, has_agent: bool) -> bool {
    let covers = |wanted: &str| list.items.iter().any(|i| as_str(&i.bare) == Some(wanted));
    ["keyid", "created", "expires"]
        .iter()
        .all(|p| list.params.get(p).is_some())
        && list.params.get("tag").and_then(as_str) == Some(WEB_BOT_AUTH_TAG)
        && covers("@authority")
        && (!has_agent || covers("signature-agent"))
}

fn as_str<'a>(item: &'a Bare<'_>) -> Option<&'a str> {
    match item {
        Bare::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// The signature base of the covered components (each once) and the label's parameters,
/// with the component names as `Signature-Input` writes them.
fn base_of(
    request: &HttpRequest,
    list: &sf::InnerList<'_>,
) -> Result<(String, Vec<String>), HttpError> {
    let mut values = Vec::with_capacity(list.items.len());
    let mut covered: Vec<String> = Vec::with_capacity(list.items.len());
    for item in &list.items {
        let (name, value) = component_value(request, item)?;
        if covered.contains(&name) {
            return Err(malformed(format!("component `{name}` is covered twice")));
        }
        if !is_field_value(&value) {
            return Err(malformed(format!(
                "the value of `{name}` is not printable ascii"
            )));
        }
        values.push((item, value));
        covered.push(name);
    }
    // Written straight into the base by sfv's serializers (no copy of the list, no string
    // per identifier): the values are the bulk (an inline chain is kilobytes).
    let len: usize = values.iter().map(|(_, v)| v.len() + 64).sum();
    let mut base = String::with_capacity(len + 256);
    for (item, value) in &values {
        sf::write_item(item, &mut base);
        base.push_str(": ");
        base.push_str(value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    sf::write_inner_list(list, &mut base);
    Ok((base, covered))
}

/// One covered component: its name with parameters, and its value in this request.
fn component_value<'r>(
    request: &'r HttpRequest,
    item: &sf::Item<'_>,
) -> Result<(String, Cow<'r, str>), HttpError> {
    let name = as_str(&item.bare)
        .ok_or_else(|| malformed("a covered component is not a string".to_owned()))?;
    let missing = |component: String| HttpError::ComponentMissing { component };
    if let Some(derived) = name.strip_prefix('@') {
        if derived == "query-param" {
            return Err(malformed("@query-param is not supported".to_owned()));
        }
        if !item.params.is_empty() {
            return Err(missing(format!("{name} with parameters")));
        }
        let value = match derived {
            "method" => Cow::Borrowed(request.method.as_str()),
            "authority" => Cow::Borrowed(request.authority.as_str()),
            "path" => Cow::Borrowed(request.path_component()),
            "query" => Cow::Owned(format!("?{}", request.query.as_deref().unwrap_or_default())),
            _ => return Err(missing(name.to_owned())),
        };
        return Ok((name.to_owned(), value));
    }
    if !is_field_name(name) {
        return Err(malformed(format!(
            "`{}` is not a lowercase field name",
            name.chars().take(64).collect::<String>()
        )));
    }
    let mut params = item.params.iter();
    match (params.next(), params.next()) {
        (None, _) => {
            let value = request
                .combined_values(name)
                .ok_or_else(|| missing(name.to_owned()))?;
            Ok((name.to_owned(), value))
        }
        // RFC 9421 §2.1.2: one member of a Dictionary field, as its serialized member value
        // (how Web Bot Auth signs its `Signature-Agent` entry).
        (Some((param, Bare::String(key))), None) if param.as_str() == "key" => {
            // The identifier as serialized (`"name";key="…"`) without the quotes around the
            // name, which a field name never needs escaping in.
            let mut id = String::with_capacity(name.len() + key.as_str().len() + 10);
            sf::write_item(item, &mut id);
            let full = format!("{name}{}", id.get(name.len() + 2..).unwrap_or_default());
            let value = request
                .dictionary_member(name, key.as_str())
                .ok_or_else(|| missing(full.clone()))?;
            Ok((full, Cow::Owned(value)))
        }
        // `sf`, `bs`, `tr`, `req` and combinations are not supported.
        _ => Err(missing(format!("{name} with parameters"))),
    }
}

/// A value that can stand on one line of the base: visible ASCII, spaces and tabs (no line
/// breaks, no other controls, no obs-text). Values can be kilobytes (an inline chain): each
/// 64-byte block is judged by one branch-free reduction, which the compiler vectorises.
fn is_field_value(value: &str) -> bool {
    let refused = |b: u8| (b.wrapping_sub(0x20) >= 0x5f) & (b != b'\t');
    value
        .as_bytes()
        .chunks(64)
        .all(|block| !block.iter().fold(false, |any, &b| any | refused(b)))
}

/// A field name as RFC 9421 covers it: lowercase token characters.
fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

fn malformed(detail: String) -> HttpError {
    HttpError::SignatureMalformed { detail }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kya_core::grant::Action;
    use kya_core::{SecretKey, Timestamp};
    use proptest::prelude::*;
    use web_bot_auth::keyring::{Algorithm, KeyRing};
    use web_bot_auth::message_signatures::MessageVerifier;

    use super::*;
    use crate::http::{RequestSigner, SignOptions};

    /// Every byte, alone and at every position of a long value (each 64-byte block and its
    /// edges): accepted exactly when it is visible ASCII, a space or a tab.
    #[test]
    fn field_values_are_judged_byte_by_byte() {
        let allowed = |b: u8| (0x20..0x7f).contains(&b) || b == b'\t';
        for b in 0..=255u8 {
            let one = [b];
            if let Ok(text) = std::str::from_utf8(&one) {
                assert_eq!(is_field_value(text), allowed(b), "{b:#04x}");
            }
            for at in [0, 1, 63, 64, 65, 127, 128, 199] {
                let mut long = vec![b'a'; 200];
                long[at] = b;
                if let Ok(text) = std::str::from_utf8(&long) {
                    assert_eq!(is_field_value(text), allowed(b), "{b:#04x} at {at}");
                }
            }
        }
        assert!(!is_field_value("caf\u{e9}"));
    }

    fn signed(url: &str, agent: Option<&str>, nonce: &str) -> HttpRequest {
        let key = SecretKey::from_seed(&[7; 32]);
        let chain = serde_json::json!([{"stand-in": "chain"}]);
        let (_, mut request) = HttpRequest::from_url("POST", url).unwrap();
        request.body = b"{}".to_vec();
        let mut signer = RequestSigner::new(&key, &chain).unwrap();
        if let Some(agent) = agent {
            signer = signer.signature_agent(agent).unwrap();
        }
        let created = Timestamp::from_unix(1_800_000_000).unwrap();
        signer
            .sign(
                &mut request,
                &SignOptions {
                    action: Some(&Action::parse("payments/send").unwrap()),
                    amount: None,
                    created,
                    expires: created.add_seconds(60),
                    nonce,
                },
            )
            .unwrap();
        request
    }

    /// Whether the `web-bot-auth` crate's verifier accepts the signature over the base it
    /// builds itself; with kya accepting it over its own base, the two bases are equal.
    fn they_verify(request: &HttpRequest) -> bool {
        let key = SecretKey::from_seed(&[7; 32]).public_key();
        let mut keyring = KeyRing::default();
        keyring.import_raw(
            crate::http::jwk_thumbprint(&key),
            Algorithm::Ed25519,
            key.to_bytes().to_vec(),
        );
        MessageVerifier::parse(request, |(_, l)| l.params.contains_key("tag"))
            .and_then(|v| v.verify(&keyring, None))
            .is_ok()
    }

    fn we_verify(input: &SignatureInput) -> bool {
        let key = SecretKey::from_seed(&[7; 32]).public_key();
        let signature: [u8; 64] = input.signature.as_slice().try_into().unwrap();
        kya_core::ed25519::verify(
            &key,
            input.base.as_bytes(),
            &ed25519_dalek::Signature::from_bytes(&signature),
        )
        .is_ok()
    }

    proptest! {
        #[test]
        fn the_base_is_the_one_web_bot_auth_builds(
            path in "/[a-z0-9/]{0,30}",
            query in proptest::option::of("[a-z0-9=&]{0,20}"),
            agent in proptest::option::of("https://[a-z]{1,12}\\.example/[a-z]{0,8}"),
            // Any printable nonce: quotes and backslashes are escaped in the base.
            nonce in "[!-~][ -~]{0,62}[!-~]",
        ) {
            let url = match &query {
                Some(q) => format!("https://shop.example{path}?{q}"),
                None => format!("https://shop.example{path}"),
            };
            let request = signed(&url, agent.as_deref(), &nonce);
            let ours = read_signature(&request).unwrap();
            prop_assert!(we_verify(&ours));
            prop_assert!(they_verify(&request));
        }
    }

    fn set(request: &mut HttpRequest, name: &str, value: &str) {
        request
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        request.headers.push((name.to_owned(), value.to_owned()));
    }

    #[test]
    fn a_component_covered_twice_is_refused() {
        let mut request = signed("https://shop.example/pay", None, "n");
        let input = request.header_values(SIGNATURE_INPUT)[0]
            .replace("(\"@method\"", "(\"@method\" \"@method\"");
        set(&mut request, SIGNATURE_INPUT, &input);
        let err = read_signature(&request).unwrap_err();
        assert!(
            matches!(&err, HttpError::SignatureMalformed { detail } if detail.contains("covered twice")),
            "{err:?}"
        );
    }

    #[test]
    fn unsupported_components_are_refused() {
        for (from, to, expect_missing) in [
            ("\"@method\"", "\"@target-uri\"", true),
            ("\"@method\"", "\"@method\";req", true),
            ("\"content-digest\"", "\"Content-Digest\"", false),
            ("\"content-digest\"", "\"content-digest\";sf", true),
            ("\"@method\"", "\"@query-param\";name=\"a\"", false),
        ] {
            let mut request = signed("https://shop.example/pay", None, "n");
            let input = request.header_values(SIGNATURE_INPUT)[0].replace(from, to);
            assert_ne!(input, request.header_values(SIGNATURE_INPUT)[0]);
            set(&mut request, SIGNATURE_INPUT, &input);
            let err = read_signature(&request).unwrap_err();
            if expect_missing {
                assert!(
                    matches!(err, HttpError::ComponentMissing { .. }),
                    "{to}: {err:?}"
                );
            } else {
                assert!(
                    matches!(err, HttpError::SignatureMalformed { .. }),
                    "{to}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn a_label_without_the_web_bot_auth_tag_is_not_picked() {
        let mut request = signed("https://shop.example/pay", None, "n");
        let input = request.header_values(SIGNATURE_INPUT)[0].replace("web-bot-auth", "other");
        set(&mut request, SIGNATURE_INPUT, &input);
        assert!(matches!(
            read_signature(&request),
            Err(HttpError::SignatureMissing { .. })
        ));
    }
}
