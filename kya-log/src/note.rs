//! Checkpoints (C2SP tlog-checkpoint) signed as notes (C2SP signed-note) with Ed25519.
//!
//! A checkpoint's text is three or more lines, each ending in a newline: the origin, the tree
//! size in decimal, the base64 root hash, then optional extension lines. The signed note is
//! that text, an empty line, and signature lines `— <key name> <base64(key ID || sig)>`
//! (the dash is the em dash U+2014). The Ed25519 signature is over the text bytes exactly,
//! final newline included. The key ID is the first four bytes of
//! `SHA-256(key name || 0x0A || 0x01 || 32-byte public key)`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signature;
use kya_core::{Ed25519Signer, PublicKey};
use sha2::{Digest, Sha256};

use crate::tree::{Root, TreeSize};

/// The largest signed note read, in bytes (16 signatures of post-quantum size fit).
pub const MAX_NOTE_BYTES: usize = 96 * 1024;
/// The most signature lines a note may carry (the spec asks verifiers to accept 16).
pub const MAX_SIGNATURES: usize = 32;
/// The signature type byte of Ed25519 in signed notes.
pub const ED25519_TYPE: u8 = 0x01;
const EM_DASH_SPACE: &str = "\u{2014} ";

/// Why a note or checkpoint was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoteError {
    /// Larger than [`MAX_NOTE_BYTES`].
    #[error("note is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Bytes given.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// More signature lines than [`MAX_SIGNATURES`].
    #[error("note has more than {max} signatures")]
    TooManySignatures {
        /// The bound.
        max: usize,
    },
    /// The note does not follow the signed-note syntax.
    #[error("malformed note: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The text does not follow the checkpoint syntax.
    #[error("malformed checkpoint: {reason}")]
    MalformedCheckpoint {
        /// What is wrong.
        reason: String,
    },
    /// A verifier key string is not `<name>+<8 hex>+<base64(0x01 || key)>`.
    #[error("malformed verifier key: {reason}")]
    MalformedKey {
        /// What is wrong.
        reason: String,
    },
    /// The same key signed twice.
    #[error("duplicate signature by key {name}+{key_id}")]
    DuplicateSignature {
        /// The key name.
        name: String,
        /// The key ID, hex.
        key_id: String,
    },
    /// No signature by the verifier's key.
    #[error("note has no signature by key {name}+{key_id}")]
    NotSigned {
        /// The key name.
        name: String,
        /// The key ID, hex.
        key_id: String,
    },
    /// The verifier's key signed, but the signature is wrong.
    #[error("invalid signature by key {name}+{key_id}")]
    BadSignature {
        /// The key name.
        name: String,
        /// The key ID, hex.
        key_id: String,
    },
    /// The checkpoint's origin is not the name of the key that must sign it.
    #[error("checkpoint origin `{origin}` is not the log key name `{name}`")]
    OriginMismatch {
        /// The origin line.
        origin: String,
        /// The key name.
        name: String,
    },
}

fn malformed(reason: impl Into<String>) -> NoteError {
    NoteError::Malformed {
        reason: reason.into(),
    }
}

fn bad_checkpoint(reason: impl Into<String>) -> NoteError {
    NoteError::MalformedCheckpoint {
        reason: reason.into(),
    }
}

/// A key name must be non-empty, without Unicode spaces, `+`, or control characters.
fn check_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The note key ID: `SHA-256(name || 0x0A || 0x01 || public key)[..4]`.
pub fn key_id(name: &str, public: &PublicKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, ED25519_TYPE]);
    h.update(public.to_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A tree head in the C2SP tlog-checkpoint format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `example.com/kya/receipts`.
    pub origin: String,
    /// The number of entries.
    pub size: TreeSize,
    /// The RFC 9162 tree head at that size.
    pub root: Root,
    /// Optional opaque lines after the root (each non-empty).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n` then each extension line and `\n`.
    /// These are the bytes the log signs.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size.0,
            B64.encode(self.root.0)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Reads a checkpoint text strictly: at least three lines each ending in a newline, a
    /// non-empty origin, a decimal size without leading zeroes, a canonical base64 root of
    /// 32 bytes, non-empty extension lines, no control characters.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad_checkpoint("the text must end with a newline"))?;
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(bad_checkpoint("control character in the text"));
        }
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad_checkpoint("empty origin line"));
        }
        let size = parse_size(lines.next().ok_or_else(|| bad_checkpoint("no size line"))?)?;
        let root = parse_root(lines.next().ok_or_else(|| bad_checkpoint("no root line"))?)?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad_checkpoint("empty extension line"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint as a note under the key name `origin` (so the signature line
    /// names the log, as tlog-checkpoint recommends).
    pub fn sign(&self, signer: &impl Ed25519Signer) -> Result<SignedCheckpoint, NoteError> {
        let text = self.to_text();
        // Refuse to sign what a verifier would refuse to read.
        let checked = Self::parse(&text)?;
        if checked != *self {
            return Err(bad_checkpoint("origin or extension lines contain newlines"));
        }
        if !check_key_name(&self.origin) {
            return Err(malformed(format!(
                "origin `{}` cannot be a key name (spaces or `+`)",
                self.origin
            )));
        }
        let id = key_id(&self.origin, &signer.public_key());
        let sig = signer
            .try_sign(text.as_bytes())
            .map_err(|e| malformed(format!("signer failed: {e}")))?;
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&id);
        blob.extend_from_slice(&sig.to_bytes());
        let note = format!(
            "{text}\n{EM_DASH_SPACE}{} {}\n",
            self.origin,
            B64.encode(blob)
        );
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note,
        })
    }
}

fn parse_size(line: &str) -> Result<TreeSize, NoteError> {
    let digits_ok = !line.is_empty()
        && line.len() <= 20
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    if !digits_ok {
        return Err(bad_checkpoint(format!(
            "size line `{}` is not a decimal",
            shown(line)
        )));
    }
    line.parse::<u64>()
        .map(TreeSize)
        .map_err(|_| bad_checkpoint(format!("size {line} does not fit 64 bits")))
}

fn parse_root(line: &str) -> Result<Root, NoteError> {
    let bytes = B64
        .decode(line)
        .map_err(|_| bad_checkpoint(format!("root line `{}` is not base64", shown(line))))?;
    let root = Root::from_slice(&bytes)
        .ok_or_else(|| bad_checkpoint(format!("root is {} bytes, not 32", bytes.len())))?;
    // One spelling per root: refuse non-canonical padding bits.
    if B64.encode(root.0) != line {
        return Err(bad_checkpoint("root is not canonical base64"));
    }
    Ok(root)
}

/// At most 80 characters of untrusted text, for error messages.
fn shown(s: &str) -> String {
    s.chars().take(80).collect()
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID (first four bytes of the decoded blob).
    pub key_id: [u8; 4],
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

/// A signed note split into its text and signature lines, syntax checked, nothing verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The text, final newline included (the signed bytes).
    pub text: String,
    /// The signature lines in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note strictly and within bounds: valid UTF-8, no control characters
    /// but newlines, a text ending in a newline, an empty line, then one or more signature
    /// lines, at most [`MAX_SIGNATURES`], no key signing twice, nothing else.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge {
                len: bytes.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        let s = std::str::from_utf8(bytes).map_err(|_| malformed("not utf-8"))?;
        if s.chars().any(|c| c.is_control() && c != '\n') {
            return Err(malformed("control character in the note"));
        }
        // The text ends at the last blank line; the signatures follow it.
        let split = s
            .rfind("\n\n")
            .ok_or_else(|| malformed("no blank line before the signatures"))?;
        let (text, sigs) = (&s[..=split], &s[split + 2..]);
        let sigs = sigs
            .strip_suffix('\n')
            .ok_or_else(|| malformed("no signature line ending in a newline"))?;
        let mut signatures: Vec<NoteSignature> = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_SIGNATURES,
                });
            }
            let sig = parse_signature_line(line)?;
            if signatures
                .iter()
                .any(|o| o.name == sig.name && o.key_id == sig.key_id)
            {
                return Err(NoteError::DuplicateSignature {
                    name: sig.name,
                    key_id: hex4(&sig.key_id),
                });
            }
            signatures.push(sig);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let rest = line
        .strip_prefix(EM_DASH_SPACE)
        .ok_or_else(|| malformed(format!("`{}` is not a signature line", shown(line))))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or_else(|| malformed("signature line without a space after the key name"))?;
    if !check_key_name(name) {
        return Err(malformed(format!("invalid key name `{}`", shown(name))));
    }
    let blob = B64
        .decode(b64)
        .map_err(|_| malformed(format!("signature of {} is not base64", shown(name))))?;
    if blob.len() < 5 {
        return Err(malformed(format!(
            "signature of {} is too short",
            shown(name)
        )));
    }
    let (id, sig) = blob.split_at(4);
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: [id[0], id[1], id[2], id[3]],
        signature: sig.to_vec(),
    })
}

fn hex4(id: &[u8; 4]) -> String {
    format!("{:02x}{:02x}{:02x}{:02x}", id[0], id[1], id[2], id[3])
}

/// An Ed25519 note verifier key: a name and a public key. Written
/// `<name>+<8 hex key ID>+<base64(0x01 || 32-byte key)>` (the Go `sumdb/note` form).
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    public: PublicKey,
}

impl NoteVerifier {
    /// The verifier for a key under a name (spaces, `+` and control characters refused).
    pub fn new(name: &str, public: PublicKey) -> Result<Self, NoteError> {
        if !check_key_name(name) {
            return Err(NoteError::MalformedKey {
                reason: format!("invalid key name `{}`", shown(name)),
            });
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &public),
            public,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Reads `<name>+<8 hex>+<base64(0x01 || key)>`, checking the key ID against the key.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let bad = |reason: &str| NoteError::MalformedKey {
            reason: reason.to_owned(),
        };
        if s.len() > 1024 {
            return Err(bad("longer than 1024 bytes"));
        }
        // The base64 part may itself contain `+`: split at the first two only.
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not name+keyid+key"));
        };
        let valid_hex = id_hex.len() == 8
            && id_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid_hex {
            return Err(bad("the key id is not 8 lowercase hex digits"));
        }
        let raw = B64.decode(b64).map_err(|_| bad("the key is not base64"))?;
        if B64.encode(&raw) != b64 {
            return Err(bad("the key is not canonical base64"));
        }
        let key: [u8; 32] = match raw.split_first() {
            Some((&ED25519_TYPE, key)) => key.try_into().map_err(|_| bad("not 32 key bytes"))?,
            _ => return Err(bad("not an ed25519 (type 0x01) key")),
        };
        let public = PublicKey::from_bytes(&key).map_err(|e| NoteError::MalformedKey {
            reason: e.to_string(),
        })?;
        let verifier = Self::new(name, public)?;
        if hex4(&verifier.key_id) != id_hex {
            return Err(bad("the key id does not match the name and key"));
        }
        Ok(verifier)
    }

    /// Verifies a signed note: the signature by this key (same name and key ID) must be
    /// present and valid; signatures by other keys (witnesses, rotated keys) are ignored,
    /// as the signed-note spec requires. Returns the parsed note.
    pub fn verify(&self, bytes: &[u8]) -> Result<Note, NoteError> {
        let note = Note::parse(bytes)?;
        let key_id = hex4(&self.key_id);
        let sig = note
            .signatures
            .iter()
            .find(|s| s.name == self.name && s.key_id == self.key_id)
            .ok_or_else(|| NoteError::NotSigned {
                name: self.name.clone(),
                key_id: key_id.clone(),
            })?;
        let bad = || NoteError::BadSignature {
            name: self.name.clone(),
            key_id: key_id.clone(),
        };
        let sig: [u8; 64] = sig.signature.as_slice().try_into().map_err(|_| bad())?;
        self.public
            .verify(note.text.as_bytes(), &Signature::from_bytes(&sig))
            .map_err(|_| bad())?;
        Ok(note)
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(ED25519_TYPE);
        raw.extend_from_slice(&self.public.to_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex4(&self.key_id),
            B64.encode(raw)
        )
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({self})")
    }
}

/// A checkpoint with its signed note bytes (what is served as `checkpoint`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: String,
}

impl SignedCheckpoint {
    /// Verifies a signed checkpoint note with the log's key and reads the checkpoint. The
    /// origin must be the key's name.
    pub fn open(bytes: &[u8], verifier: &NoteVerifier) -> Result<Self, NoteError> {
        let note = verifier.verify(bytes)?;
        let checkpoint = Checkpoint::parse(&note.text)?;
        if checkpoint.origin != verifier.name() {
            return Err(NoteError::OriginMismatch {
                origin: checkpoint.origin,
                name: verifier.name().to_owned(),
            });
        }
        Ok(Self {
            checkpoint,
            note: String::from_utf8_lossy(bytes).into_owned(),
        })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The whole signed note, as served.
    pub fn as_note(&self) -> &str {
        &self.note
    }
}
