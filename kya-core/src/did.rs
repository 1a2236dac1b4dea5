//! Decentralised identifiers: `did:key` (Ed25519) for agents and issuing keys, `did:pkh`
//! (`eip155`) for wallet principals.

use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

use crate::key::{ED25519_PUB_PREFIX, KeyError, PublicKey};

/// Why a DID was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DidError {
    /// Not of the form `did:<method>:<id>`.
    #[error("`{did}` is not a did (expected `did:<method>:<method-specific-id>`)")]
    Malformed {
        /// The input.
        did: String,
    },
    /// A DID method kya does not handle here.
    #[error("did method `{method}` is not supported here (expected {expected})")]
    UnsupportedMethod {
        /// The method found.
        method: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// A `did:key` whose key is not Ed25519.
    #[error(
        "did:key multicodec 0x{code:x} ({name}) is not supported: kya did:keys are ed25519 (0xed)"
    )]
    UnsupportedKeyType {
        /// The multicodec code.
        code: u64,
        /// Its name, when known.
        name: &'static str,
    },
    /// A `did:key` with an invalid key.
    #[error("invalid did:key `{did}`: {source}")]
    InvalidKey {
        /// The input.
        did: String,
        /// What is wrong with the key.
        source: KeyError,
    },
    /// A `did:pkh` that is not a valid `eip155` account.
    #[error("invalid did:pkh `{did}`: {reason}")]
    InvalidPkh {
        /// The input.
        did: String,
        /// Why.
        reason: String,
    },
}

impl DidError {
    /// The error the did:key specification (v0.9, "Read") names for this refusal, when it
    /// names one: `invalidDid`, `invalidPublicKey` (not a usable point, a non-canonical
    /// encoding with y ≥ p, or a small-order point), `invalidPublicKeyLength` or
    /// `unsupportedPublicKeyType`.
    ///
    /// ```
    /// use kya_core::DidKey;
    /// // The Ed25519 encoding of y = p + 2 (non-canonical: y ≥ p).
    /// let mut y = [0xff_u8; 32];
    /// y[0] = 0xef;
    /// y[31] = 0x7f;
    /// let id = multibase::encode(multibase::Base::Base58Btc, [&[0xed, 0x01][..], &y].concat());
    /// let err = format!("did:key:{id}").parse::<DidKey>().unwrap_err();
    /// assert_eq!(err.did_key_error(), Some("invalidPublicKey"));
    /// ```
    pub fn did_key_error(&self) -> Option<&'static str> {
        match self {
            Self::Malformed { .. } => Some("invalidDid"),
            Self::UnsupportedKeyType { .. } => Some("unsupportedPublicKeyType"),
            Self::InvalidKey { source, .. } => Some(match source {
                KeyError::WrongLength { .. } => "invalidPublicKeyLength",
                KeyError::InvalidPublicKey { .. } => "invalidPublicKey",
                _ => "invalidDid",
            }),
            Self::UnsupportedMethod { .. } | Self::InvalidPkh { .. } => None,
        }
    }
}

/// A `did:key` naming an Ed25519 public key: `did:key:z6Mk…`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DidKey(PublicKey);

impl DidKey {
    /// The did:key of a public key.
    pub fn from_public_key(key: PublicKey) -> Self {
        Self(key)
    }

    /// The public key this DID names.
    pub fn public_key(&self) -> PublicKey {
        self.0
    }

    /// The id of its single verification method, `did:key:z6Mk…#z6Mk…`.
    pub fn verification_method_id(&self) -> String {
        let mb = self.0.to_multibase();
        format!("did:key:{mb}#{mb}")
    }

    /// Parses a verification method id (`did:key:z6Mk…#z6Mk…`), checking that the fragment
    /// names the same key, as the did:key method defines.
    pub fn from_verification_method(vm: &str) -> Result<Self, DidError> {
        Self::from_verification_method_known(vm, None)
    }

    /// As [`from_verification_method`](Self::from_verification_method), given a DID string
    /// already parsed into `known` (parsing is deterministic): when the method's DID is that
    /// same string, its key is reused instead of decoded and decompressed again.
    pub(crate) fn from_verification_method_known(
        vm: &str,
        known: Option<(&str, DidKey)>,
    ) -> Result<Self, DidError> {
        let (did, fragment) = vm
            .split_once('#')
            .ok_or_else(|| DidError::Malformed { did: vm.to_owned() })?;
        let parsed: DidKey = match known {
            Some((known_did, key)) if known_did == did => key,
            _ => did.parse()?,
        };
        // A did:key has one spelling, so its fragment must be its method-specific id
        // itself (comparing strings rather than re-encoding the key).
        if Some(fragment) != did.strip_prefix("did:key:") {
            return Err(DidError::Malformed { did: vm.to_owned() });
        }
        Ok(parsed)
    }

    /// The DID document the did:key method derives, with a `Multikey` verification method
    /// usable for authentication, assertion, capability invocation and delegation.
    pub fn resolve(&self) -> Value {
        let did = self.to_string();
        let vm = self.verification_method_id();
        json!({
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": did,
            "verificationMethod": [{
                "id": vm,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": self.0.to_multibase(),
            }],
            "authentication": [vm],
            "assertionMethod": [vm],
            "capabilityInvocation": [vm],
            "capabilityDelegation": [vm],
        })
    }
}

impl FromStr for DidKey {
    type Err = DidError;
    fn from_str(s: &str) -> Result<Self, DidError> {
        let id = match s.strip_prefix("did:key:") {
            Some("") => return Err(DidError::Malformed { did: s.to_owned() }),
            Some(id) => id,
            None => {
                return Err(match method_of(s) {
                    Some(method) => DidError::UnsupportedMethod {
                        method: method.to_owned(),
                        expected: "did:key",
                    },
                    None => DidError::Malformed { did: s.to_owned() },
                });
            }
        };
        if let Some(key) = recent_did_keys::get(id) {
            return Ok(Self(key));
        }
        let invalid = |source| DidError::InvalidKey {
            did: s.to_owned(),
            source,
        };
        let bytes = match id.strip_prefix('z').map(|_| multibase::decode(id)) {
            Some(Ok((multibase::Base::Base58Btc, bytes))) => bytes,
            _ => {
                return Err(invalid(KeyError::NotBase58Btc {
                    value: id.to_owned(),
                }));
            }
        };
        if !bytes.starts_with(&ED25519_PUB_PREFIX) {
            let code = read_varint(&bytes).unwrap_or(0);
            return Err(DidError::UnsupportedKeyType {
                code,
                name: multicodec_name(code),
            });
        }
        let key = PublicKey::from_multicodec_bytes(&bytes).map_err(invalid)?;
        recent_did_keys::put(id, key);
        Ok(Self(key))
    }
}

/// The did:key identifiers this thread parsed last, so that a DID named again and again (a
/// chain names each agent twice; a merchant sees the same principals and agents) is
/// base58-decoded once. Accepted identifiers only, compared in full: a miss costs one
/// comparison, and a collision only a decode.
mod recent_did_keys {
    use std::cell::RefCell;

    use crate::key::PublicKey;

    /// `z6Mk…`: the multibase form of an Ed25519 multikey is 48 characters.
    const ID_LEN: usize = 48;
    const SLOTS: usize = 32;

    type Slot = Option<([u8; ID_LEN], PublicKey)>;

    thread_local! {
        static RECENT: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
    }

    fn slot(id: &[u8; ID_LEN]) -> usize {
        usize::from(id[ID_LEN - 1] ^ id[ID_LEN - 9] ^ id[ID_LEN - 17]) % SLOTS
    }

    pub(super) fn get(id: &str) -> Option<PublicKey> {
        let id: &[u8; ID_LEN] = id.as_bytes().try_into().ok()?;
        RECENT
            .try_with(|r| {
                let r = r.try_borrow().ok()?;
                match r.get(slot(id))? {
                    Some((known, key)) if known == id => Some(*key),
                    _ => None,
                }
            })
            .ok()
            .flatten()
    }

    pub(super) fn put(id: &str, key: PublicKey) {
        let Ok(id) = <&[u8; ID_LEN]>::try_from(id.as_bytes()) else {
            return;
        };
        let _ = RECENT.try_with(|r| {
            if let Ok(mut r) = r.try_borrow_mut() {
                if r.is_empty() {
                    r.resize(SLOTS, None);
                }
                if let Some(entry) = r.get_mut(slot(id)) {
                    *entry = Some((*id, key));
                }
            }
        });
    }
}

impl fmt::Display for DidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "did:key:{}", self.0.to_multibase())
    }
}

impl fmt::Debug for DidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DidKey({self})")
    }
}

/// A `did:pkh` naming an EVM account: `did:pkh:eip155:<chain id>:<address>`.
///
/// Mixed-case addresses must carry a valid EIP-55 checksum; all-lowercase and all-uppercase
/// addresses carry none and are accepted. Two `DidPkh` are equal when chain and address are.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DidPkh {
    chain_id: u64,
    address: [u8; 20],
}

impl DidPkh {
    /// The did:pkh of an account on an EVM chain.
    pub fn new(chain_id: u64, address: [u8; 20]) -> Self {
        Self { chain_id, address }
    }

    /// The EIP-155 chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The 20-byte account address.
    pub fn address(&self) -> [u8; 20] {
        self.address
    }

    /// The address in EIP-55 checksummed form.
    pub fn checksummed_address(&self) -> String {
        eip55(&self.address)
    }
}

impl FromStr for DidPkh {
    type Err = DidError;
    fn from_str(s: &str) -> Result<Self, DidError> {
        let invalid = |reason: &str| DidError::InvalidPkh {
            did: s.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = match s.strip_prefix("did:pkh:") {
            Some(rest) => rest,
            None => {
                return Err(match method_of(s) {
                    Some(method) => DidError::UnsupportedMethod {
                        method: method.to_owned(),
                        expected: "did:pkh",
                    },
                    None => DidError::Malformed { did: s.to_owned() },
                });
            }
        };
        let mut parts = rest.split(':');
        let (Some(namespace), Some(reference), Some(account), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("expected did:pkh:eip155:<chain id>:<address>"));
        };
        if namespace != "eip155" {
            return Err(invalid("only the eip155 namespace is supported"));
        }
        if reference.is_empty()
            || reference.len() > 32
            || !reference.bytes().all(|b| b.is_ascii_digit())
            || (reference.len() > 1 && reference.starts_with('0'))
        {
            return Err(invalid(
                "the chain id must be a decimal number without leading zeros",
            ));
        }
        let chain_id: u64 = reference
            .parse()
            .map_err(|_| invalid("the chain id does not fit in 64 bits"))?;
        let hex_part = account
            .strip_prefix("0x")
            .ok_or_else(|| invalid("the address must start with 0x"))?;
        if hex_part.len() != 40 {
            return Err(invalid("the address must have 40 hex digits"));
        }
        let mut address = [0u8; 20];
        hex::decode_to_slice(hex_part, &mut address)
            .map_err(|_| invalid("the address is not hexadecimal"))?;
        let has_lower = hex_part.bytes().any(|b| b.is_ascii_lowercase());
        let has_upper = hex_part.bytes().any(|b| b.is_ascii_uppercase());
        if has_lower && has_upper && eip55(&address) != account {
            return Err(invalid(&format!(
                "mixed-case address fails its eip-55 checksum (expected {})",
                eip55(&address)
            )));
        }
        Ok(Self { chain_id, address })
    }
}

impl fmt::Display for DidPkh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "did:pkh:eip155:{}:{}",
            self.chain_id,
            eip55(&self.address)
        )
    }
}

impl fmt::Debug for DidPkh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DidPkh({self})")
    }
}

/// A DID kya can act on: an Ed25519 `did:key` or an `eip155` `did:pkh`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Did {
    /// `did:key:z6Mk…`
    Key(DidKey),
    /// `did:pkh:eip155:…`
    Pkh(DidPkh),
}

impl Did {
    /// The Ed25519 key, for a did:key.
    pub fn as_did_key(&self) -> Option<&DidKey> {
        match self {
            Did::Key(k) => Some(k),
            Did::Pkh(_) => None,
        }
    }
}

impl FromStr for Did {
    type Err = DidError;
    fn from_str(s: &str) -> Result<Self, DidError> {
        match method_of(s) {
            Some("key") => s.parse().map(Did::Key),
            Some("pkh") => s.parse().map(Did::Pkh),
            Some(method) => Err(DidError::UnsupportedMethod {
                method: method.to_owned(),
                expected: "did:key or did:pkh",
            }),
            None => Err(DidError::Malformed { did: s.to_owned() }),
        }
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Did::Key(k) => k.fmt(f),
            Did::Pkh(p) => p.fmt(f),
        }
    }
}

impl fmt::Debug for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Did::Key(k) => k.fmt(f),
            Did::Pkh(p) => p.fmt(f),
        }
    }
}

impl From<DidKey> for Did {
    fn from(k: DidKey) -> Self {
        Did::Key(k)
    }
}

impl From<DidPkh> for Did {
    fn from(p: DidPkh) -> Self {
        Did::Pkh(p)
    }
}

serde_via_string!(DidKey, DidPkh, Did);

fn method_of(s: &str) -> Option<&str> {
    let rest = s.strip_prefix("did:")?;
    let (method, id) = rest.split_once(':')?;
    let valid = !method.is_empty()
        && !id.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    valid.then_some(method)
}

fn read_varint(bytes: &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().take(9).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn multicodec_name(code: u64) -> &'static str {
    match code {
        0xe7 => "secp256k1-pub",
        0xeb => "bls12_381-g2-pub",
        0xec => "x25519-pub",
        0x1200 => "p256-pub",
        0x1201 => "p384-pub",
        0x1202 => "p521-pub",
        0x1205 => "rsa-pub",
        0x1300 => "ed25519-priv",
        _ => "unknown",
    }
}

/// EIP-55 mixed-case checksum encoding of an address.
fn eip55(address: &[u8; 20]) -> String {
    use sha3::Digest;
    let lower = hex::encode(address);
    let hash = sha3::Keccak256::digest(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn did_key_round_trips_and_resolves() {
        let did: DidKey = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
            .parse()
            .unwrap();
        assert_eq!(
            did.to_string(),
            "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
        );
        let doc = did.resolve();
        assert_eq!(doc["verificationMethod"][0]["type"], "Multikey");
        assert_eq!(doc["assertionMethod"][0], did.verification_method_id());
        assert_eq!(
            DidKey::from_verification_method(&did.verification_method_id()).unwrap(),
            did
        );
        assert!(DidKey::from_verification_method(&format!("{did}#other")).is_err());
    }

    #[test]
    fn did_key_refuses_other_key_types_by_name() {
        // An X25519 did:key from the did:key test vectors.
        let err = "did:key:z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW"
            .parse::<DidKey>()
            .unwrap_err();
        assert_eq!(
            err,
            DidError::UnsupportedKeyType {
                code: 0xec,
                name: "x25519-pub"
            }
        );
        assert!(err.to_string().contains("x25519-pub"));
        assert!(matches!(
            "did:web:example.com".parse::<DidKey>(),
            Err(DidError::UnsupportedMethod { .. })
        ));
        assert!(matches!(
            "did:key:".parse::<DidKey>(),
            Err(DidError::Malformed { .. })
        ));
    }

    fn did_key_of_bytes(bytes: &[u8]) -> String {
        let id = multibase::encode(
            multibase::Base::Base58Btc,
            [&[0xed, 0x01][..], bytes].concat(),
        );
        format!("did:key:{id}")
    }

    #[test]
    fn non_canonical_did_keys_are_invalid_public_keys_and_never_cached() {
        // Every y in [p, 2^255): y = p + k for k < 19 decompresses (to the point with y = k)
        // but is not canonical; larger ones are not points kya accepts either.
        let mut refused = 0;
        for k in 0..=18u8 {
            for sign in [0u8, 0x80] {
                let mut bytes = [0xffu8; 32];
                bytes[0] = 0xed + k;
                bytes[31] = 0x7f | sign;
                let did = did_key_of_bytes(&bytes);
                // Twice: a refusal is not remembered as an acceptance.
                for _ in 0..2 {
                    let err = did.parse::<DidKey>().unwrap_err();
                    assert_eq!(
                        err.did_key_error(),
                        Some("invalidPublicKey"),
                        "{did}: {err}"
                    );
                }
                refused += 1;
                // The canonical encoding of the same point, where there is one, is accepted
                // (or refused for another reason), and does not make the other accepted.
                let mut canonical = [0u8; 32];
                canonical[0] = k;
                canonical[31] = sign;
                let _ = did_key_of_bytes(&canonical).parse::<DidKey>();
                assert!(did.parse::<DidKey>().is_err(), "{did}");
            }
        }
        assert_eq!(refused, 38);
    }

    #[test]
    fn did_key_errors_carry_the_spec_names() {
        let name = |s: &str| s.parse::<DidKey>().unwrap_err().did_key_error();
        assert_eq!(name("did:key:"), Some("invalidDid"));
        assert_eq!(name("did:key:f00"), Some("invalidDid"));
        assert_eq!(
            name(&did_key_of_bytes(&[1, 2, 3])),
            Some("invalidPublicKeyLength")
        );
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(name(&did_key_of_bytes(&identity)), Some("invalidPublicKey"));
        assert_eq!(
            name("did:key:z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW"),
            Some("unsupportedPublicKeyType")
        );
        assert_eq!(name("did:web:example.com"), None);
    }

    #[test]
    fn did_pkh_checks_eip55() {
        // The EIP-55 specification's own examples.
        for addr in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let did: DidPkh = format!("did:pkh:eip155:1:{addr}").parse().unwrap();
            assert_eq!(did.checksummed_address(), addr);
            let lower: DidPkh = format!("did:pkh:eip155:1:{}", addr.to_lowercase())
                .parse()
                .unwrap();
            assert_eq!(lower, did);
        }
        let bad = "did:pkh:eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        assert!(matches!(
            bad.parse::<DidPkh>(),
            Err(DidError::InvalidPkh { .. })
        ));
        for bad in [
            "did:pkh:eip155:01:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "did:pkh:solana:1:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "did:pkh:eip155:1:5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "did:pkh:eip155:1:0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea",
            "did:pkh:eip155:1:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed:x",
        ] {
            assert!(bad.parse::<DidPkh>().is_err(), "{bad}");
        }
    }

    #[test]
    fn did_dispatches_by_method() {
        assert!(matches!(
            "did:pkh:eip155:31337:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed".parse::<Did>(),
            Ok(Did::Pkh(_))
        ));
        assert!(matches!(
            "did:example:123".parse::<Did>(),
            Err(DidError::UnsupportedMethod { .. })
        ));
    }
}
