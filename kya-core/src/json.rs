//! Strict JSON input and RFC 8785 canonical output.
//!
//! Everything kya signs or verifies passes through here. Parsing is stricter than
//! `serde_json::from_slice`: duplicate object keys, nesting beyond a limit, and numbers that
//! I-JSON (RFC 7493) does not allow are errors, because two parsers that disagree on such input
//! would disagree on what was signed.
//!
//! Two number rules, one reader: [`parse_strict`] (kya's own credentials) reads only numbers
//! that keep their exact value and whose canonical form reads back under the same rule;
//! [`parse_i_json`] (the generic Data Integrity layer) reads any I-JSON number, as RFC 8785
//! and ECMAScript do. Duplicate keys, depth and size are bounded the same way in both.
//!
//! [`read_strict`] and [`read_strict_elements`] are [`parse_strict`] that also keep the bytes
//! read when they are already the value's JCS form (as kya's writers send credentials and
//! chains), so that a credential is hashed from the bytes received instead of from bytes
//! written again. What they keep is exactly what [`canonicalize`] writes, or nothing.

use std::ops::Range;

use serde_json::{Map, Value};

/// Bounds applied while parsing untrusted JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLimits {
    /// Maximum input length in bytes.
    pub max_bytes: usize,
    /// Maximum nesting depth of arrays and objects.
    pub max_depth: usize,
}

impl Default for JsonLimits {
    /// 256 KiB and 32 levels: far above any credential chain kya produces, far below what
    /// costs a verifier noticeable time.
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024,
            max_depth: 32,
        }
    }
}

/// Which JSON numbers a reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberRule {
    /// Integers within ±(2^53 − 1), and no double whose JCS form is an integer beyond that:
    /// every number is read exactly as written, and canonical output reads back.
    Exact,
    /// Every finite double; integers beyond ±2^53 are read as the nearest double, as
    /// ECMAScript `JSON.parse` (and so RFC 8785) does.
    IJson,
}

/// Why a JSON input was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// The input is longer than the limit.
    #[error("input is {len} bytes, over the limit of {max} bytes")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Nesting is deeper than the limit.
    #[error("json nesting is deeper than the limit of {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The same key appears twice in one object.
    #[error("duplicate json key `{key}`")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A number outside the range I-JSON allows (integers beyond ±2^53, non-finite values).
    #[error("number {number} is outside the i-json range (integers up to ±2^53)")]
    NumberOutOfRange {
        /// The number as written.
        number: String,
    },
    /// Not JSON at all.
    #[error("invalid json: {0}")]
    Syntax(String),
    /// The value could not be written in canonical form.
    #[error("cannot canonicalize json: {0}")]
    Canonicalize(String),
}

/// Largest integer an IEEE 754 double holds exactly; I-JSON's bound for interoperable numbers.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Parses untrusted bytes into a JSON value, refusing duplicate keys, excessive depth,
/// oversize input and numbers outside the I-JSON range: integers beyond ±(2^53 − 1), and
/// doubles from 2^53 up to 1e21, which JCS would write as such integers (doubles of 1e21 and
/// more keep an exponent in JCS form and are accepted).
///
/// This is the reader for kya's own credential kinds; [`parse_i_json`] is the reader for
/// arbitrary documents.
pub fn parse_strict(bytes: &[u8], limits: JsonLimits) -> Result<Value, JsonError> {
    parse(bytes, limits, NumberRule::Exact)
}

/// Parses untrusted bytes into a JSON value with the same duplicate-key, depth and size
/// bounds as [`parse_strict`], accepting every number I-JSON (RFC 7493) allows: any finite
/// IEEE 754 double, with integers beyond ±2^53 (such as `123456789012345680000` or
/// `9007199254740993`) read as the nearest double, exactly as RFC 8785 / ECMAScript read them.
/// Numbers beyond the double range are refused.
///
/// This is the reader for documents the generic Data Integrity layer signs and verifies
/// ([`crate::proof`]); [`canonicalize`] output of what it reads reads back to the same bytes.
pub fn parse_i_json(bytes: &[u8], limits: JsonLimits) -> Result<Value, JsonError> {
    parse(bytes, limits, NumberRule::IJson)
}

fn parse(bytes: &[u8], limits: JsonLimits, numbers: NumberRule) -> Result<Value, JsonError> {
    if bytes.len() > limits.max_bytes {
        return Err(JsonError::TooLarge {
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = StrictSeed {
        depth_left: limits.max_depth,
        max_depth: limits.max_depth,
        numbers,
    };
    let value = serde::de::DeserializeSeed::deserialize(seed, &mut de).map_err(classify)?;
    de.end().map_err(classify)?;
    Ok(value)
}

/// The RFC 8785 (JCS) canonical bytes of a JSON value.
///
/// Written directly from the `Value` tree into one buffer: strings are escaped exactly as
/// JCS requires (which is serde_json's escaping: `"`, `\\` and control characters only,
/// lowercase `\u00xx`), object members are ordered by their UTF-16 code units, and integers
/// within ±2^53 are written as their digits (what ES6 `Number.prototype.toString` gives for
/// them). Every other number goes through `serde_json_canonicalizer`, so the output is
/// byte-identical to it (checked by a differential test).
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JsonError> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out)?;
    Ok(out)
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), JsonError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            write_object_noting(map, out, None, &mut |_, _| Ok(()))?;
        }
    }
    Ok(())
}

/// JCS (RFC 8785) output written straight from typed data, for documents whose shape is
/// fixed (a receipt): the same string and number rules as [`canonicalize`], without first
/// building a `Value`. The caller gives each object's members in JCS order (UTF-16 code
/// units; byte order for the ASCII names such documents use), checked in debug builds.
#[derive(Debug)]
pub struct JcsObject<'a> {
    out: &'a mut Vec<u8>,
    previous: Option<&'static str>,
}

impl<'a> JcsObject<'a> {
    /// Opens an object at the end of `out`.
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self {
            out,
            previous: None,
        }
    }

    /// Writes the member name `key` (and the comma before it); the caller writes the value
    /// into the returned buffer next.
    pub fn member(&mut self, key: &'static str) -> Result<&mut Vec<u8>, JsonError> {
        debug_assert!(
            self.previous
                .is_none_or(|p| p.encode_utf16().cmp(key.encode_utf16()).is_lt()),
            "jcs member `{key}` after `{:?}`",
            self.previous
        );
        if self.previous.is_some() {
            self.out.push(b',');
        }
        self.previous = Some(key);
        write_string(key, self.out)?;
        self.out.push(b':');
        Ok(self.out)
    }

    /// A string member.
    pub fn string(&mut self, key: &'static str, value: &str) -> Result<(), JsonError> {
        let out = self.member(key)?;
        write_string(value, out)
    }

    /// A string member when `value` is some (absent members are left out).
    pub fn optional_string(
        &mut self,
        key: &'static str,
        value: Option<&str>,
    ) -> Result<(), JsonError> {
        value.map_or(Ok(()), |v| self.string(key, v))
    }

    /// An unsigned integer member.
    pub fn unsigned(&mut self, key: &'static str, value: u64) -> Result<(), JsonError> {
        let out = self.member(key)?;
        write_jcs_unsigned(value, out)
    }

    /// How many bytes the buffer holds so far (where the next comma or `}` goes).
    pub fn position(&self) -> usize {
        self.out.len()
    }

    /// Closes the object.
    pub fn close(self) {
        self.out.push(b'}');
    }
}

/// Writes `s` as a JCS string (what [`canonicalize`] writes for it).
pub fn write_jcs_string(s: &str, out: &mut Vec<u8>) -> Result<(), JsonError> {
    write_string(s, out)
}

/// Writes `n` as a JCS number (what [`canonicalize`] writes for it: its digits up to 2^53,
/// the nearest double's ECMAScript form beyond).
pub fn write_jcs_unsigned(n: u64, out: &mut Vec<u8>) -> Result<(), JsonError> {
    write_number(&serde_json::Number::from(n), out)
}

/// Writes `value` in JCS form (what [`canonicalize`] returns for it).
pub fn write_jcs_value(value: &Value, out: &mut Vec<u8>) -> Result<(), JsonError> {
    write_canonical(value, out)
}

/// Writes one JSON value in JCS form.
type WriteValue<'a> = dyn FnMut(&Value, &mut Vec<u8>) -> Result<(), JsonError> + 'a;

/// Writes `map` in JCS form. The member named `note` (if any) has its value written by
/// `write_noted`; its span (`"name":value`) is returned.
fn write_object_noting(
    map: &Map<String, Value>,
    out: &mut Vec<u8>,
    note: Option<&str>,
    write_noted: &mut WriteValue<'_>,
) -> Result<Option<Range<usize>>, JsonError> {
    // A map iterates in UTF-8 byte order (or insertion order); JCS wants UTF-16 code
    // unit order. The two orders differ only for characters beyond U+FFFF (UTF-8 lead
    // byte 0xF0 or more), so names in byte order without any are in JCS order already,
    // and are written without collecting them.
    let in_jcs_order = map.keys().is_sorted() && !map.keys().any(|k| k.bytes().any(|b| b >= 0xf0));
    let sorted;
    let members: &mut dyn Iterator<Item = (&String, &Value)> = if in_jcs_order {
        &mut map.iter()
    } else {
        let mut collected: Vec<(&String, &Value)> = map.iter().collect();
        collected.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
        sorted = collected;
        &mut sorted.iter().copied()
    };
    let mut noted = None;
    out.push(b'{');
    for (i, (key, member)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let start = out.len();
        write_string(key, out)?;
        out.push(b':');
        if Some(key.as_str()) == note {
            write_noted(member, out)?;
            noted = Some(start..out.len());
        } else {
            write_canonical(member, out)?;
        }
    }
    out.push(b'}');
    Ok(noted)
}

/// The JCS form of a secured document (a Data Integrity `proof` member inside), written
/// once, with where its `proof` member and that proof's `proofValue` sit: the document
/// without its proof and the proof without its value — what `eddsa-jcs-2022` hashes — are
/// the same bytes with one member cut out, so they are hashed from these bytes rather than
/// written again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecuredCanonical {
    bytes: Vec<u8>,
    proof: Option<ProofSpans>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ProofSpans {
    /// `"proof":{…}` in the document.
    member: Range<usize>,
    /// `{…}`, the proof object.
    object: Range<usize>,
    /// `"proofValue":"…"` in the proof object.
    proof_value: Range<usize>,
}

impl SecuredCanonical {
    /// Writes `document` in JCS form, noting its proof (an object with a `proofValue`).
    pub(crate) fn new(document: &Value) -> Result<Self, JsonError> {
        let mut bytes = Vec::with_capacity(2048);
        let Value::Object(map) = document else {
            write_canonical(document, &mut bytes)?;
            return Ok(Self { bytes, proof: None });
        };
        let mut inner = None;
        let member = write_object_noting(map, &mut bytes, Some("proof"), &mut |proof, out| {
            let start = out.len();
            let Value::Object(p) = proof else {
                return write_canonical(proof, out);
            };
            let value = write_object_noting(p, out, Some("proofValue"), &mut |v, o| {
                write_canonical(v, o)
            })?;
            inner = value.map(|value| (start..out.len(), value));
            Ok(())
        })?;
        let proof = match (member, inner) {
            (Some(member), Some((object, proof_value))) => Some(ProofSpans {
                member,
                object,
                proof_value,
            }),
            _ => None,
        };
        Ok(Self { bytes, proof })
    }

    /// The JCS bytes of the whole document.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// SHA-256 of the whole document ([`bytes`](Self::bytes)) and of the document without
    /// its proof (the second half of what `eddsa-jcs-2022` signs; `None` without a proof
    /// object holding a `proofValue`), in one pass over the bytes before the proof, which
    /// the two share.
    pub(crate) fn hashes(&self) -> ([u8; 32], Option<[u8; 32]>) {
        use sha2::{Digest as _, Sha256};
        let Some((_, [before, after])) = self.signed_parts() else {
            return (Sha256::digest(&self.bytes).into(), None);
        };
        let mut whole = Sha256::new();
        whole.update(before);
        let mut unsecured = whole.clone();
        whole.update(self.bytes.get(before.len()..).unwrap_or_default());
        unsecured.update(after);
        (whole.finalize().into(), Some(unsecured.finalize().into()))
    }

    /// JCS(the proof without `proofValue`) and JCS(the document without `proof`), each as
    /// two slices to hash in turn; `None` without a proof object holding a `proofValue`.
    pub(crate) fn signed_parts(&self) -> Option<(CutBytes<'_>, CutBytes<'_>)> {
        let spans = self.proof.as_ref()?;
        let config = cut_member(&self.bytes, spans.object.clone(), spans.proof_value.clone())?;
        let unsecured = cut_member(&self.bytes, 0..self.bytes.len(), spans.member.clone())?;
        Some((config, unsecured))
    }
}

/// A value read by [`parse_strict`], with the bytes it was read from when those bytes are
/// its JCS form already (as kya's own writers send credentials and chains): a credential
/// read from them is then named and hashed from the bytes received rather than from bytes
/// written again. Only this module pairs the two (the fields are private), so the bytes
/// kept are always exactly those the value was read from.
#[derive(Debug, Clone)]
pub struct ReadValue {
    value: Value,
    jcs: Option<SecuredCanonical>,
}

impl ReadValue {
    /// The value read.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The value read, without the bytes.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// The bytes the value was read from, when they are its JCS form (`None` otherwise:
    /// then they must be written from the value).
    pub fn jcs_bytes(&self) -> Option<&[u8]> {
        self.jcs.as_ref().map(SecuredCanonical::bytes)
    }

    pub(crate) fn into_parts(self) -> (Value, Option<SecuredCanonical>) {
        (self.value, self.jcs)
    }
}

impl From<Value> for ReadValue {
    /// A value built rather than read: its JCS bytes will be written from it.
    fn from(value: Value) -> Self {
        Self { value, jcs: None }
    }
}

/// [`parse_strict`], keeping the bytes when they are the value's JCS form.
pub fn read_strict(bytes: &[u8], limits: JsonLimits) -> Result<ReadValue, JsonError> {
    let value = parse_strict(bytes, limits)?;
    let jcs = JcsText::document(bytes).map(|proof| SecuredCanonical {
        bytes: bytes.to_vec(),
        proof,
    });
    Ok(ReadValue { value, jcs })
}

/// [`parse_strict`] of a JSON array, each element with its bytes when the whole text is in
/// JCS form; `Ok(Err(value))` when the text is not an array.
pub fn read_strict_elements(
    bytes: &[u8],
    limits: JsonLimits,
) -> Result<Result<Vec<ReadValue>, Value>, JsonError> {
    let items = match parse_strict(bytes, limits)? {
        Value::Array(items) => items,
        other => return Ok(Err(other)),
    };
    let mut spans = JcsText::elements(bytes)
        .filter(|spans| spans.len() == items.len())
        .map(Vec::into_iter);
    Ok(Ok(items
        .into_iter()
        .map(|value| {
            let jcs = spans
                .as_mut()
                .and_then(Iterator::next)
                .and_then(|(range, proof)| {
                    Some(SecuredCanonical {
                        bytes: bytes.get(range)?.to_vec(),
                        proof,
                    })
                });
            ReadValue { value, jcs }
        })
        .collect()))
}

/// A reader that accepts a JSON text only if it is, byte for byte, what [`SecuredCanonical::new`]
/// writes for the value it parses to, noting the same proof spans. Run only on text that
/// [`parse_strict`] accepted (so it is valid JSON without duplicate keys), and deliberately
/// narrow: any whitespace, any escape in a string, any key beyond ASCII (whose UTF-16 order
/// could differ from its byte order), and any number other than an integer of at most 15
/// digits make it answer `None`, and the bytes are then written from the value. A wrong
/// `Some` would give a credential a second name, so every doubt is a `None`.
struct JcsText<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// Where a member sits: the member (`"name":value`) and its value.
type MemberSpan = (Range<usize>, Range<usize>);

/// The reader of a noted member's value.
type ReadNoted<'r, 'a> = dyn FnMut(&mut JcsText<'a>) -> Option<()> + 'r;

impl<'a> JcsText<'a> {
    /// The proof spans of a whole text in JCS form (`Some(None)`: in JCS form, no proof
    /// object with a `proofValue`); `None` when not in JCS form.
    fn document(bytes: &'a [u8]) -> Option<Option<ProofSpans>> {
        let mut text = Self { bytes, at: 0 };
        let proof = text.secured()?;
        (text.at == bytes.len()).then_some(proof)
    }

    /// Each element of an array text in JCS form, with its range and proof spans (relative
    /// to the element); `None` when the text is not in JCS form.
    fn elements(bytes: &'a [u8]) -> Option<Vec<(Range<usize>, Option<ProofSpans>)>> {
        let mut text = Self { bytes, at: 0 };
        let mut elements = Vec::new();
        text.list(|t| {
            let start = t.at;
            let proof = t.secured()?;
            let shift = |r: Range<usize>| r.start - start..r.end - start;
            let proof = proof.map(|p| ProofSpans {
                member: shift(p.member),
                object: shift(p.object),
                proof_value: shift(p.proof_value),
            });
            elements.push((start..t.at, proof));
            Some(())
        })?;
        (text.at == bytes.len()).then_some(elements)
    }

    /// A document: an object whose `proof` member (and that proof's `proofValue`) is
    /// noted, or any other value.
    fn secured(&mut self) -> Option<Option<ProofSpans>> {
        if self.byte()? != b'{' {
            return self.value().map(|()| None);
        }
        let mut inner = None;
        let member = self.object(Some(("proof", &mut |t: &mut Self| {
            if t.byte()? != b'{' {
                return t.value();
            }
            let start = t.at;
            let value = t.object(Some(("proofValue", &mut Self::value)))?;
            inner = value.map(|(member, _)| (start..t.at, member));
            Some(())
        })))?;
        Some(match (member, inner) {
            (Some((member, _)), Some((object, proof_value))) => Some(ProofSpans {
                member,
                object,
                proof_value,
            }),
            _ => None,
        })
    }

    fn value(&mut self) -> Option<()> {
        match self.byte()? {
            b'{' => self.object(None).map(drop),
            b'[' => self.list(Self::value),
            b'"' => self.string().map(drop),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            _ => self.integer(),
        }
    }

    /// An object with its names in strictly increasing (byte = UTF-16, for ASCII) order;
    /// the member named `note`, if any, is read by its reader and its span returned.
    fn object(
        &mut self,
        mut note: Option<(&str, &mut ReadNoted<'_, 'a>)>,
    ) -> Option<Option<MemberSpan>> {
        self.eat(b'{')?;
        let mut noted = None;
        if self.eat(b'}').is_some() {
            return Some(None);
        }
        let bytes = self.bytes;
        let mut previous: Option<&[u8]> = None;
        loop {
            let start = self.at;
            let name = bytes.get(self.string()?)?;
            if !name.is_ascii() || previous.is_some_and(|p| p >= name) {
                return None;
            }
            previous = Some(name);
            self.eat(b':')?;
            let value_start = self.at;
            match note.as_mut() {
                Some((wanted, read)) if wanted.as_bytes() == name => {
                    read(self)?;
                    noted = Some((start..self.at, value_start..self.at));
                }
                _ => self.value()?,
            }
            if self.eat(b',').is_none() {
                break;
            }
        }
        self.eat(b'}')?;
        Some(noted)
    }

    /// `[` elements separated by `,` `]`.
    fn list(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            element(self)?;
            if self.eat(b',').is_none() {
                break;
            }
        }
        self.eat(b']')
    }

    /// A string without escapes (its content range). Valid JSON has no raw `"` or control
    /// character inside a string, so such a string is written exactly as it is.
    fn string(&mut self) -> Option<Range<usize>> {
        self.eat(b'"')?;
        let start = self.at;
        let len = self
            .bytes
            .get(start..)?
            .iter()
            .position(|&b| b == b'"' || b == b'\\')?;
        self.at = start + len;
        self.eat(b'"')?;
        Some(start..start + len)
    }

    /// `0`, or an integer of at most 15 digits (below 2^53) without a leading zero: written
    /// as its digits. A fraction or an exponent stops the value where the caller then finds
    /// no `,`, `}` or `]`.
    fn integer(&mut self) -> Option<()> {
        let negative = self.eat(b'-').is_some();
        let start = self.at;
        while matches!(self.byte(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        match self.bytes.get(start..self.at)? {
            [b'0'] if !negative => Some(()),
            digits @ [b'1'..=b'9', ..] if digits.len() <= 15 => Some(()),
            _ => None,
        }
    }

    fn word(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    fn byte(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, wanted: u8) -> Option<()> {
        (self.byte()? == wanted).then(|| self.at += 1)
    }
}

/// Bytes with one member cut out: the bytes before the cut and after it.
pub(crate) type CutBytes<'a> = [&'a [u8]; 2];

/// `object` (JCS bytes of an object) without `member` (one of its members) and the comma
/// that separated it, as the bytes before and after the cut.
fn cut_member(bytes: &[u8], object: Range<usize>, member: Range<usize>) -> Option<CutBytes<'_>> {
    let (mut cut_start, mut cut_end) = (member.start, member.end);
    if bytes.get(member.start.checked_sub(1)?) == Some(&b',') {
        cut_start -= 1;
    } else if member.end + 1 < object.end && bytes.get(member.end) == Some(&b',') {
        cut_end += 1;
    }
    Some([
        bytes.get(object.start..cut_start)?,
        bytes.get(cut_end..object.end)?,
    ])
}

/// The JCS bytes of `map` without its `skip` member and with `replace` (a member name and
/// value) put in place of that member's own value, without cloning the map: equal to
/// `canonicalize` of the edited copy.
pub(crate) fn canonicalize_edited(
    map: &Map<String, Value>,
    skip: &str,
    replace: Option<(&str, &Value)>,
) -> Result<Vec<u8>, JsonError> {
    let mut members: Vec<(&str, &Value)> = map
        .iter()
        .filter(|(k, _)| k.as_str() != skip)
        .map(|(k, v)| match replace {
            Some((name, value)) if k == name => (k.as_str(), value),
            _ => (k.as_str(), v),
        })
        .collect();
    if let Some((name, value)) = replace {
        if name != skip && !map.contains_key(name) {
            members.push((name, value));
        }
    }
    members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    for (i, (key, member)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(key, &mut out)?;
        out.push(b':');
        write_canonical(member, &mut out)?;
    }
    out.push(b'}');
    Ok(out)
}

fn write_string(s: &str, out: &mut Vec<u8>) -> Result<(), JsonError> {
    // Most strings (ids, DIDs, URLs, amounts) need no escape: `"`, `\\` and control
    // characters are the only bytes JCS (and serde_json) escapes, so such a string is
    // written as it is.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return Ok(());
    }
    serde_json::to_writer(&mut *out, s).map_err(|e| JsonError::Canonicalize(e.to_string()))
}

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) -> Result<(), JsonError> {
    use std::io::Write as _;
    const SAFE: u64 = 1 << 53;
    let written = if let Some(u) = n.as_u64().filter(|u| *u <= SAFE) {
        write!(out, "{u}")
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= SAFE) {
        write!(out, "{i}")
    } else {
        let bytes = serde_json_canonicalizer::to_vec(&Value::Number(n.clone()))
            .map_err(|e| JsonError::Canonicalize(e.to_string()))?;
        out.extend_from_slice(&bytes);
        Ok(())
    };
    written.map_err(|e| JsonError::Canonicalize(e.to_string()))
}

/// Reads one JSON value from any serde deserializer with the rules of [`parse_strict`]
/// (duplicate keys, the default depth, the exact number rule): the `Deserialize` impls of
/// kya's typed values use the same reader as the byte-level entry points.
pub(crate) fn deserialize_strict<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Value, D::Error> {
    let limits = JsonLimits::default();
    serde::de::DeserializeSeed::deserialize(
        StrictSeed {
            depth_left: limits.max_depth,
            max_depth: limits.max_depth,
            numbers: NumberRule::Exact,
        },
        d,
    )
}

// Our visitor reports limit violations through serde's custom error, with prefixes no
// serde_json error starts with, so that they become typed errors again here; they also read
// well where the visitor runs under another deserializer (`deserialize_strict`).
const TAG_DEPTH: &str = "json nesting is deeper than the limit of ";
const TAG_DUP: &str = "duplicate json key `";
const TAG_NUM: &str = "json number outside the range kya reads: ";

fn classify(e: serde_json::Error) -> JsonError {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix(TAG_DEPTH) {
        let max = rest
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        return JsonError::TooDeep { max };
    }
    if let Some(rest) = msg.strip_prefix(TAG_DUP) {
        let key = rest.rsplit_once("` at line ").map_or(rest, |(k, _)| k);
        return JsonError::DuplicateKey {
            key: key.to_owned(),
        };
    }
    if let Some(rest) = msg.strip_prefix(TAG_NUM) {
        let number = rest.rsplit_once(" at line ").map_or(rest, |(k, _)| k);
        return JsonError::NumberOutOfRange {
            number: number.to_owned(),
        };
    }
    if msg.starts_with("recursion limit exceeded") {
        return JsonError::TooDeep { max: 127 };
    }
    JsonError::Syntax(msg)
}

#[derive(Clone, Copy)]
struct StrictSeed {
    depth_left: usize,
    max_depth: usize,
    numbers: NumberRule,
}

impl<'de> serde::de::DeserializeSeed<'de> for StrictSeed {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor(self))
    }
}

struct StrictVisitor(StrictSeed);

impl StrictVisitor {
    /// The seed for the children of a container, or an error when the container is one
    /// level too deep.
    fn child<E: serde::de::Error>(&self) -> Result<StrictSeed, E> {
        match self.0.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(StrictSeed {
                depth_left,
                ..self.0
            }),
            None => Err(E::custom(format_args!(
                "{TAG_DEPTH}{} levels",
                self.0.max_depth
            ))),
        }
    }
}

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a json value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return match self.0.numbers {
                // `as` rounds to the nearest double, ties to even: ECMAScript's reading.
                NumberRule::IJson => self.visit_f64(v as f64),
                NumberRule::Exact => Err(E::custom(format_args!("{TAG_NUM}{v}"))),
            };
        }
        Ok(Value::from(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER {
            return match self.0.numbers {
                // As above: the nearest double, so the value is what JCS will write.
                NumberRule::IJson => self.visit_f64(v as f64),
                NumberRule::Exact => Err(E::custom(format_args!("{TAG_NUM}{v}"))),
            };
        }
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        // A double of 2^53 or more but below 1e21 is an integer that JCS writes in integer
        // form (`1e20` → `100000000000000000000`), which the exact rule then refuses: refuse
        // it here too, so canonical output always parses back (fuzz: `jcs`). Integer tokens
        // past u64 reach this visitor as doubles and are refused the same way. Under the
        // I-JSON rule such integers read back as the same double, so it keeps them.
        if self.0.numbers == NumberRule::Exact
            && v.is_finite()
            && v.abs() >= MAX_SAFE_INTEGER as f64 + 1.0
            && v.abs() < 1e21
        {
            return Err(E::custom(format_args!("{TAG_NUM}{v}")));
        }
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format_args!("{TAG_NUM}{v}")))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let child = self.child()?;
            match seq.next_element_seed(child)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        // Checked before the first key so that `{}` nested too deep is refused as well.
        self.child::<A::Error>()?;
        while let Some(key) = map.next_key::<String>()? {
            // One search per member: the vacant slot found by the duplicate check takes
            // the value.
            match out.entry(key) {
                serde_json::map::Entry::Occupied(taken) => {
                    let key = taken.key();
                    return Err(serde::de::Error::custom(format_args!("{TAG_DUP}{key}`")));
                }
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(map.next_value_seed(self.child()?)?);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(s: &str) -> Result<Value, JsonError> {
        parse_strict(s.as_bytes(), JsonLimits::default())
    }

    /// The cut-out forms equal the forms written from edited copies, wherever the proof and
    /// its value sort (first, middle, last, alone) and whatever the keys escape to.
    #[test]
    fn secured_canonical_cuts_equal_the_edited_documents() {
        let proofs = [
            r#"{"proofValue":"z1"}"#,
            r#"{"a":1,"proofValue":"z1"}"#,
            r#"{"proofValue":"z1","z":[1,{"b":2}]}"#,
            r#"{"a":"x","proofValue":"z1","\u00e9":"\n"}"#,
        ];
        let documents = [
            r#"{"proof":P}"#,
            r#"{"@context":["u"],"proof":P}"#,
            r#"{"proof":P,"type":["T"]}"#,
            r#"{"a":{"proof":1},"proof":P,"zz\"":null,"\ud83d\ude00":true}"#,
        ];
        for proof in proofs {
            for document in documents {
                let text = document.replace('P', proof);
                let value: Value = serde_json::from_str(&text).unwrap();
                let secured = SecuredCanonical::new(&value).unwrap();
                assert_eq!(secured.bytes(), canonicalize(&value).unwrap(), "{text}");
                let (config, unsecured) = secured.signed_parts().unwrap();
                let object = value.as_object().unwrap();
                let proof_object = object["proof"].as_object().unwrap();
                assert_eq!(
                    config.concat(),
                    canonicalize_edited(proof_object, "proofValue", None).unwrap(),
                    "{text}"
                );
                assert_eq!(
                    unsecured.concat(),
                    canonicalize_edited(object, "proof", None).unwrap(),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn a_document_without_a_proof_object_has_no_signed_parts() {
        for text in [
            r#"{"a":1}"#,
            r#"{"proof":"x"}"#,
            r#"{"proof":{"a":1}}"#,
            "[1]",
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            let secured = SecuredCanonical::new(&value).unwrap();
            assert_eq!(secured.bytes(), canonicalize(&value).unwrap());
            assert!(secured.signed_parts().is_none(), "{text}");
        }
    }

    #[test]
    fn canonical_form_matches_serde_json_canonicalizer() {
        let cases = [
            r#"{"b":false,"c":12e1,"a":"Hello!","\u20ac":1,"\ud83d\ude00":2,"\ue000":3,"":4}"#,
            r#"[1,-1,0,-0,0.5,1e21,1e-7,9007199254740991,-9007199254740991,123.456,1.0,-0.0,5e-324]"#,
            r#"{"s":"a\"b\\c\/d\u0000\u001f\u007f\b\f\n\r\t\u2028 \u00e9 \ud83d\ude00"}"#,
            r#"{"nested":{"z":[{"y":null,"x":true}],"a":{}},"arr":[[],{}]}"#,
        ];
        for case in cases {
            let v: Value = serde_json::from_str(case).unwrap();
            assert_eq!(
                canonicalize(&v).unwrap(),
                serde_json_canonicalizer::to_vec(&v).unwrap(),
                "{case}"
            );
        }
        for n in [1u64 << 53, (1 << 53) + 1, u64::MAX] {
            let v = Value::from(n);
            assert_eq!(
                canonicalize(&v).unwrap(),
                serde_json_canonicalizer::to_vec(&v).unwrap()
            );
        }
        for n in [i64::MIN, -(1i64 << 53) - 1] {
            let v = Value::from(n);
            assert_eq!(
                canonicalize(&v).unwrap(),
                serde_json_canonicalizer::to_vec(&v).unwrap()
            );
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors");
        let mut stack = vec![dir];
        let mut seen = 0;
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .extension()
                    .is_some_and(|e| e == "json" || e == "jsonld")
                {
                    let Ok(v) = serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap())
                    else {
                        continue;
                    };
                    assert_eq!(
                        canonicalize(&v).unwrap(),
                        serde_json_canonicalizer::to_vec(&v).unwrap(),
                        "{}",
                        path.display()
                    );
                    seen += 1;
                }
            }
        }
        assert!(seen > 10, "{seen} vector files");
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        assert_eq!(
            parse(r#"{"a":1,"a":2}"#),
            Err(JsonError::DuplicateKey { key: "a".into() })
        );
        assert_eq!(
            parse(r#"{"x":[{"b":1,"c":{"d":1,"d":1}}]}"#),
            Err(JsonError::DuplicateKey { key: "d".into() })
        );
    }

    #[test]
    fn bounds_depth_exactly() {
        let limits = JsonLimits {
            max_bytes: 1 << 20,
            max_depth: 3,
        };
        assert!(parse_strict(b"[[[1]]]", limits).is_ok());
        assert!(parse_strict(br#"[[{"a":1}]]"#, limits).is_ok());
        assert_eq!(
            parse_strict(b"[[[[1]]]]", limits),
            Err(JsonError::TooDeep { max: 3 })
        );
        assert_eq!(
            parse_strict(b"[[[{}]]]", limits),
            Err(JsonError::TooDeep { max: 3 })
        );
        assert_eq!(
            parse_strict(b"[[[[]]]]", limits),
            Err(JsonError::TooDeep { max: 3 })
        );
        let deep = "[".repeat(100_000);
        assert!(matches!(parse(&deep), Err(JsonError::TooDeep { .. })));
    }

    #[test]
    fn refuses_numbers_outside_i_json() {
        assert!(parse("9007199254740991").is_ok());
        assert!(parse("-9007199254740991").is_ok());
        assert!(matches!(
            parse("9007199254740992"),
            Err(JsonError::NumberOutOfRange { .. })
        ));
        assert!(matches!(
            parse("-9007199254740992"),
            Err(JsonError::NumberOutOfRange { .. })
        ));
        assert!(matches!(
            parse("1e400"),
            Err(JsonError::Syntax(_) | JsonError::NumberOutOfRange { .. })
        ));
    }

    /// The numbers the issue names, with what ECMAScript `JSON.stringify(JSON.parse(text))`
    /// gives for them (RFC 8785 §3.2.2.3).
    const I_JSON_NUMBERS: [(&str, &str); 12] = [
        ("123456789012345680000", "123456789012345680000"),
        ("9007199254740992", "9007199254740992"),
        ("9007199254740993", "9007199254740992"),
        ("-9007199254740993", "-9007199254740992"),
        ("1e20", "100000000000000000000"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("18446744073709551616", "18446744073709552000"),
        ("123456789012345678901234567890", "1.2345678901234568e+29"),
        // Misread by a parser that is not correctly rounded (serde_json without
        // `float_roundtrip` gives 2.8746478257194446e+194).
        (
            "2874647825719444262123456789e167",
            "2.8746478257194443e+194",
        ),
    ];

    #[test]
    fn i_json_reads_every_finite_double_as_ecmascript_does() {
        for (text, expected) in I_JSON_NUMBERS {
            let v = parse_i_json(text.as_bytes(), JsonLimits::default()).unwrap();
            let c = canonicalize(&v).unwrap();
            assert_eq!(String::from_utf8_lossy(&c), expected, "{text}");
            assert_eq!(c, serde_json_canonicalizer::to_vec(&v).unwrap(), "{text}");
            // Canonical output reads back to itself.
            let again = parse_i_json(&c, JsonLimits::default()).unwrap();
            assert_eq!(canonicalize(&again).unwrap(), c, "{text}");
            // Inside a document too (the writer's object and array paths).
            let doc = format!(r#"{{"b":[{text}],"a":{text}}}"#);
            let v = parse_i_json(doc.as_bytes(), JsonLimits::default()).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&canonicalize(&v).unwrap()),
                format!(r#"{{"a":{expected},"b":[{expected}]}}"#)
            );
        }
        // Beyond the double range nothing is I-JSON.
        for text in ["1e400", "-1e400", &"9".repeat(400)] {
            assert!(
                parse_i_json(text.as_bytes(), JsonLimits::default()).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn the_exact_rule_still_refuses_what_i_json_accepts() {
        for text in [
            "123456789012345680000",
            "9007199254740992",
            "9007199254740993",
            "1e20",
        ] {
            assert!(
                matches!(parse(text), Err(JsonError::NumberOutOfRange { .. })),
                "{text}"
            );
            assert!(parse_i_json(text.as_bytes(), JsonLimits::default()).is_ok());
        }
    }

    #[test]
    fn i_json_keeps_every_structural_bound() {
        let p = |s: &str, limits| parse_i_json(s.as_bytes(), limits);
        assert_eq!(
            p(r#"{"x":[{"d":1e20,"d":1}]}"#, JsonLimits::default()),
            Err(JsonError::DuplicateKey { key: "d".into() })
        );
        let limits = JsonLimits {
            max_bytes: 1 << 20,
            max_depth: 3,
        };
        assert!(p("[[[1e20]]]", limits).is_ok());
        assert_eq!(
            p("[[[[1e20]]]]", limits),
            Err(JsonError::TooDeep { max: 3 })
        );
        let deep = "[".repeat(100_000);
        assert!(matches!(
            p(&deep, JsonLimits::default()),
            Err(JsonError::TooDeep { .. })
        ));
        let small = JsonLimits {
            max_bytes: 4,
            max_depth: 8,
        };
        assert_eq!(
            p("1e200", small),
            Err(JsonError::TooLarge { len: 5, max: 4 })
        );
        assert!(matches!(
            p("1e20 1", JsonLimits::default()),
            Err(JsonError::Syntax(_))
        ));
    }

    #[test]
    fn refuses_oversize_and_trailing_input() {
        let limits = JsonLimits {
            max_bytes: 4,
            max_depth: 8,
        };
        assert_eq!(
            parse_strict(b"[1,2]", limits),
            Err(JsonError::TooLarge { len: 5, max: 4 })
        );
        assert!(matches!(parse("{} {}"), Err(JsonError::Syntax(_))));
        assert!(matches!(parse(r#""\ud800""#), Err(JsonError::Syntax(_))));
    }

    /// The signed-message hashes taken in one pass equal the hashes of the bytes cut out.
    #[test]
    fn shared_prefix_hashes_equal_the_hashes_of_the_cut_bytes() {
        use sha2::{Digest as _, Sha256};
        for text in [
            r#"{"a":1,"proof":{"proofValue":"z1"},"z":2}"#,
            r#"{"proof":{"proofValue":"z1"}}"#,
            r#"{"a":1,"proof":{"proofValue":"z1"}}"#,
            r#"{"proof":{"proofValue":"z1"},"z":[1]}"#,
            r#"{"proof":"x"}"#,
            "[1]",
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            let secured = SecuredCanonical::new(&value).unwrap();
            let (whole, unsecured) = secured.hashes();
            assert_eq!(whole, <[u8; 32]>::from(Sha256::digest(secured.bytes())));
            let cut = secured
                .signed_parts()
                .map(|(_, unsecured)| <[u8; 32]>::from(Sha256::digest(unsecured.concat())));
            assert_eq!(unsecured, cut, "{text}");
        }
    }

    /// The bytes a read keeps, if any: they must be what `SecuredCanonical::new` writes for
    /// the value read (bytes and proof spans alike).
    fn kept(text: &[u8]) -> Option<ReadValue> {
        let read = read_strict(text, JsonLimits::default()).ok()?;
        let written = SecuredCanonical::new(&read.value).unwrap();
        if let Some(jcs) = &read.jcs {
            assert_eq!(jcs, &written, "{}", String::from_utf8_lossy(text));
        }
        Some(read)
    }

    #[test]
    fn a_read_keeps_its_bytes_only_when_they_are_the_written_form() {
        let proof = r#"{"a":1,"proofValue":"z1"}"#;
        for text in [
            r#"{"@context":["u"],"n":[0,-7,123456789012345],"proof":P,"type":["T"]}"#,
            r#"{"proof":P}"#,
            r#"{"":1,"proof":P}"#,
            r#"{"proof":{"proofValue":"z1","x":{"proof":{"proofValue":1}}}}"#,
            r#"{"a":"é\u007f","proof":"x"}"#,
            "[]",
            "{}",
            "true",
            r#""s""#,
        ] {
            let text = text.replace('P', proof).replace("\\u007f", "\u{7f}");
            assert!(kept(text.as_bytes()).unwrap().jcs.is_some(), "kept: {text}");
        }
        for text in [
            r#"{"proof":P }"#,
            r#" {"proof":P}"#,
            r#"{"proof":P}
"#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":"\u0041"}"#,
            r#"{"a":"\/"}"#,
            r#"{"a":"\n"}"#,
            r#"{"é":1}"#,
            r#"{"a":1.5}"#,
            r#"{"a":10.0}"#,
            r#"{"a":1e2}"#,
            r#"{"a":-0}"#,
            r#"{"a":1234567890123456}"#,
            r#"[1, 2]"#,
        ] {
            let text = text.replace('P', proof);
            assert!(
                kept(text.as_bytes()).unwrap().jcs.is_none(),
                "not kept: {text}"
            );
        }
    }

    /// Generated documents, written in JCS form and spelt otherwise: whatever a read keeps
    /// is the written form; JCS text of a value the reader's narrow rule covers is kept.
    mod kept_bytes {
        use super::*;
        use proptest::prelude::*;

        fn key() -> impl Strategy<Value = String> {
            prop::sample::select(vec![
                "proof",
                "proofValue",
                "@context",
                "a",
                "b",
                "type",
                "",
                "é",
                "\u{1F600}",
                "\u{e000}",
                "q\"",
                "t\\",
                "\n",
            ])
            .prop_map(str::to_owned)
        }

        fn leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                prop::sample::select(vec![
                    0i64,
                    7,
                    -15,
                    123_456_789_012_345,
                    -999_999_999_999_999,
                    1_234_567_890_123_456,
                    9_007_199_254_740_991,
                ])
                .prop_map(Value::from),
                prop::sample::select(vec![1.5f64, -0.25, 1e21, 1e-7, 100.0]).prop_map(Value::from),
                prop::sample::select(vec![
                    "",
                    "z1",
                    "did:key:z6Mk",
                    "é",
                    "\u{7f}",
                    "\u{1F600}",
                    "a\"b",
                    "a\\b",
                    "\n",
                    "\u{1f}",
                    "/",
                ])
                .prop_map(Value::from),
            ]
        }

        fn document() -> impl Strategy<Value = Value> {
            leaf().prop_recursive(4, 40, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map(key(), inner, 0..5)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Whether the reader's rule covers every member of `value`: names of ASCII without
        /// escapes, strings without escapes, integers of at most 15 digits.
        fn covered(value: &Value) -> bool {
            let plain = |s: &str| !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
            match value {
                Value::Null | Value::Bool(_) => true,
                Value::Number(n) => n
                    .as_i64()
                    .is_some_and(|i| i.unsigned_abs() < 1_000_000_000_000_000),
                Value::String(s) => plain(s),
                Value::Array(items) => items.iter().all(covered),
                Value::Object(map) => map
                    .iter()
                    .all(|(k, v)| k.is_ascii() && plain(k) && covered(v)),
            }
        }

        proptest! {
            #[test]
            fn kept_bytes_are_the_written_form(value in document(), cut in any::<prop::sample::Index>()) {
                let jcs = canonicalize(&value).unwrap();
                // (What is read back, not `value`: 100.0 is written, and read, as 100.)
                if let Some(read) = kept(&jcs) {
                    prop_assert_eq!(read.jcs.is_some(), covered(&read.value));
                }
                let pretty = serde_json::to_vec_pretty(&value).unwrap();
                kept(&pretty);
                // One byte dropped, or a space put in, anywhere.
                let mut dropped = jcs.clone();
                dropped.remove(cut.index(jcs.len()));
                kept(&dropped);
                let mut spaced = jcs.clone();
                spaced.insert(cut.index(jcs.len() + 1), b' ');
                kept(&spaced);
            }

            #[test]
            fn kept_elements_are_the_written_form(items in prop::collection::vec(document(), 0..4)) {
                let text = canonicalize(&Value::Array(items.clone())).unwrap();
                let Ok(Ok(read)) = read_strict_elements(&text, JsonLimits::default()) else {
                    return Ok(());
                };
                prop_assert_eq!(read.len(), items.len());
                for element in &read {
                    if let Some(jcs) = &element.jcs {
                        prop_assert_eq!(jcs, &SecuredCanonical::new(&element.value).unwrap());
                    }
                    prop_assert_eq!(
                        element.jcs.is_some(),
                        read.iter().all(|e| covered(&e.value))
                    );
                }
            }
        }
    }
}
