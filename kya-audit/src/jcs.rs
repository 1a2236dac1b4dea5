//! A receipt's signed JCS bytes, written straight from its typed content.
//!
//! The bytes are exactly `canonicalize(proof::sign(receipt.to_document()))` (a test compares
//! them for many receipts), written once: the proof config and the document without proof
//! are both slices of that one buffer, so each is hashed where it lies, and the proof's
//! value is put in place after signing.

use kya_core::credential::{KYA_V1_CONTEXT, VC_V2_CONTEXT};
use kya_core::json::{JcsObject, JsonError, write_jcs_string};
use kya_core::proof::{self, CRYPTOSUITE, PROOF_TYPE};
use kya_core::{DidKey, Ed25519Signer, ProofError};

use crate::receipt::{
    Activity, ChargeRecord, DecisionRecord, LogPosition, Outcome, RECEIPT_TYPE, Receipt,
    RequestRecord, SettlementRecord,
};

/// The strings a signer's receipts repeat: worked out once per key, not per receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignerNames {
    /// The did:key of the signer (every receipt's issuer).
    pub(crate) did: DidKey,
    /// `did:key:z6Mk…`.
    issuer: String,
    /// `did:key:z6Mk…#z6Mk…`.
    verification_method: String,
}

impl SignerNames {
    pub(crate) fn new(did: DidKey) -> Self {
        Self {
            did,
            issuer: did.to_string(),
            verification_method: did.verification_method_id(),
        }
    }
}

/// The receipt with an `eddsa-jcs-2022` proof by `signer`, in JCS form.
pub(crate) fn signed_bytes(
    receipt: &Receipt,
    names: &SignerNames,
    signer: &dyn Ed25519Signer,
) -> Result<Vec<u8>, ProofError> {
    let decided_at = receipt.decided_at.to_string();
    let mut out = Vec::with_capacity(2048);
    let mut doc = JcsObject::open(&mut out);
    write_context(doc.member("@context")?)?;
    write_subject(receipt, doc.member("credentialSubject")?)?;
    doc.string("issuer", &names.issuer)?;
    // The document without its proof is the bytes before `,"proof":…` and after it.
    let proof_comma = doc.position();
    let config = doc.member("proof")?;
    let config_start = config.len();
    let value_at = write_proof_config(names, &decided_at, config)?;
    let config_end = doc.position();
    let types = doc.member("type")?;
    types.push(b'[');
    write_jcs_string("VerifiableCredential", types)?;
    types.push(b',');
    write_jcs_string(RECEIPT_TYPE, types)?;
    types.push(b']');
    doc.string("validFrom", &decided_at)?;
    doc.close();

    let message = proof::hash_canonical_parts(
        &[&out[config_start..config_end]],
        &[&out[..proof_comma], &out[config_end..]],
    );
    let signature = signer
        .try_sign(&message)
        .map_err(|e| ProofError::Signer(e.to_string()))?;
    let mut member = Vec::with_capacity(112);
    write_jcs_string("proofValue", &mut member)?;
    member.push(b':');
    write_jcs_string(&proof::proof_value(&signature), &mut member)?;
    member.push(b',');
    out.splice(value_at..value_at, member);
    Ok(out)
}

/// `[credentials v2, kya v1]`.
fn write_context(out: &mut Vec<u8>) -> Result<(), JsonError> {
    out.push(b'[');
    write_jcs_string(VC_V2_CONTEXT, out)?;
    out.push(b',');
    write_jcs_string(KYA_V1_CONTEXT, out)?;
    out.push(b']');
    Ok(())
}

/// The proof without its value; returns where `"proofValue":…,` goes (before `"type"`).
fn write_proof_config(
    names: &SignerNames,
    created: &str,
    out: &mut Vec<u8>,
) -> Result<usize, JsonError> {
    let mut p = JcsObject::open(out);
    write_context(p.member("@context")?)?;
    p.string("created", created)?;
    p.string("cryptosuite", CRYPTOSUITE)?;
    p.string("proofPurpose", "assertionMethod")?;
    let value_at = p.position() + 1;
    p.string("type", PROOF_TYPE)?;
    p.string("verificationMethod", &names.verification_method)?;
    p.close();
    Ok(value_at)
}

fn write_subject(receipt: &Receipt, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let mut s = JcsObject::open(out);
    write_activity(&receipt.activity, s.member("activity")?)?;
    if let Some(agent) = &receipt.agent {
        s.string("id", &agent.to_string())?;
    }
    s.close();
    Ok(())
}

fn write_activity(a: &Activity, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let mut o = JcsObject::open(out);
    o.optional_string("chain", a.chain.as_deref())?;
    if !a.charges.is_empty() {
        write_charges(&a.charges, o.member("charges")?)?;
    }
    write_decision(&a.decision, o.member("decision")?)?;
    write_log(&a.log, o.member("log")?)?;
    o.string("merchant", &a.merchant)?;
    o.optional_string("principal", a.principal.as_deref())?;
    write_request(&a.request, o.member("request")?)?;
    if let Some(settlement) = &a.settlement {
        write_settlement(settlement, o.member("settlement")?)?;
    }
    o.close();
    Ok(())
}

fn write_request(r: &RequestRecord, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let mut o = JcsObject::open(out);
    o.optional_string("action", r.action.as_deref())?;
    if let Some(amount) = &r.amount {
        let mut m = JcsObject::open(o.member("amount")?);
        m.string("asset", &amount.asset)?;
        m.string("value", &amount.value)?;
        m.close();
    }
    o.string("authority", &r.authority)?;
    o.optional_string("contentDigest", r.content_digest.as_deref())?;
    o.string("method", &r.method)?;
    o.optional_string("nonce", r.nonce.as_deref())?;
    o.string("path", &r.path)?;
    o.optional_string("query", r.query.as_deref())?;
    o.optional_string("signatureBaseDigest", r.signature_base_digest.as_deref())?;
    o.close();
    Ok(())
}

fn write_decision(d: &DecisionRecord, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let mut o = JcsObject::open(out);
    o.string(
        "outcome",
        match d.outcome {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Refused => "refused",
        },
    )?;
    let reasons = o.member("reasons")?;
    reasons.push(b'[');
    for (i, reason) in d.reasons.iter().enumerate() {
        if i > 0 {
            reasons.push(b',');
        }
        let mut r = JcsObject::open(reasons);
        r.string("code", &reason.code)?;
        if let Some(grant) = reason.grant {
            r.unsigned("grant", grant as u64)?;
        }
        if let Some(link) = reason.link {
            r.unsigned("link", link as u64)?;
        }
        r.close();
    }
    reasons.push(b']');
    o.unsigned("status", u64::from(d.status))?;
    o.close();
    Ok(())
}

fn write_charges(charges: &[ChargeRecord], out: &mut Vec<u8>) -> Result<(), JsonError> {
    out.push(b'[');
    for (i, c) in charges.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut o = JcsObject::open(out);
        o.string("credential", &c.credential)?;
        o.unsigned("grant", c.grant as u64)?;
        o.string("kind", &c.kind)?;
        o.unsigned("link", c.link as u64)?;
        o.string("obligation", &c.obligation)?;
        o.close();
    }
    out.push(b']');
    Ok(())
}

fn write_log(l: &LogPosition, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let mut o = JcsObject::open(out);
    o.unsigned("index", l.index)?;
    o.string("origin", &l.origin)?;
    o.close();
    Ok(())
}

fn write_settlement(s: &SettlementRecord, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let mut o = JcsObject::open(out);
    o.string("network", &s.network)?;
    o.string("payer", &s.payer)?;
    o.string("transaction", &s.transaction)?;
    o.close();
    Ok(())
}

#[cfg(test)]
mod tests {
    use kya_core::json::{JsonLimits, canonicalize};
    use kya_core::proof::ProofOptions;
    use kya_core::{SecretKey, Timestamp};

    use super::*;
    use crate::receipt::{AmountRecord, ReasonRecord, SignedReceipt};

    /// Strings JCS escapes or orders with care: quotes, backslashes, every control
    /// character form, DEL, separators JavaScript treats specially, non-BMP characters, and
    /// long values.
    fn odd_strings() -> Vec<String> {
        let mut all: Vec<String> = [
            "",
            "plain",
            "\"",
            "\\",
            "/",
            "a\"b\\c/d",
            "\u{0}\u{1}\u{7}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1b}\u{1f}",
            "\u{7f}\u{80}\u{9f}",
            "\u{2028}\u{2029}",
            "é€😀\u{e000}\u{ffff}\u{10ffff}",
            "<script>&amp;</script>",
            "\r\n\t end",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        all.push("x".repeat(5000));
        all.push("é\u{1}😀\"".repeat(700));
        all
    }

    /// A small deterministic generator, so a failure names its case.
    struct Cases(u64);

    impl Cases {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn coin(&mut self) -> bool {
            self.next().is_multiple_of(2)
        }
        fn pick<'a>(&mut self, strings: &'a [String]) -> &'a str {
            &strings[(self.next() % strings.len() as u64) as usize]
        }
        fn maybe(&mut self, strings: &[String]) -> Option<String> {
            (!self.next().is_multiple_of(3)).then(|| self.pick(strings).to_owned())
        }
        fn number(&mut self) -> u64 {
            match self.next() % 5 {
                0 => 0,
                1 => self.next() % 10,
                2 => (1 << 53) - 1 + self.next() % 3,
                3 => u64::MAX - self.next() % 2,
                _ => self.next(),
            }
        }
    }

    fn receipt(cases: &mut Cases, strings: &[String], issuer: DidKey) -> Receipt {
        let s = |c: &mut Cases| c.pick(strings).to_owned();
        let reasons = (0..cases.next() % 4)
            .map(|_| ReasonRecord {
                code: s(cases),
                link: cases.coin().then(|| cases.number() as usize),
                grant: cases.coin().then(|| cases.number() as usize),
            })
            .collect();
        let charges = (0..cases.next() % 3)
            .map(|_| ChargeRecord {
                link: cases.number() as usize,
                grant: cases.number() as usize,
                credential: s(cases),
                kind: s(cases),
                obligation: s(cases),
            })
            .collect();
        let request = RequestRecord {
            method: s(cases),
            authority: s(cases),
            path: s(cases),
            query: cases.maybe(strings),
            content_digest: cases.maybe(strings),
            action: cases.maybe(strings),
            amount: cases.coin().then(|| AmountRecord {
                value: s(cases),
                asset: s(cases),
            }),
            nonce: cases.maybe(strings),
            signature_base_digest: cases.maybe(strings),
        };
        let outcome = [Outcome::Allowed, Outcome::Denied, Outcome::Refused];
        let activity = Activity {
            merchant: s(cases),
            principal: cases.maybe(strings),
            chain: cases.maybe(strings),
            request,
            decision: DecisionRecord {
                outcome: outcome[(cases.next() % 3) as usize],
                status: (cases.next() % 600) as u16,
                reasons,
            },
            charges,
            settlement: cases.coin().then(|| SettlementRecord {
                network: s(cases),
                transaction: s(cases),
                payer: s(cases),
            }),
            log: LogPosition {
                origin: s(cases),
                index: cases.number(),
            },
        };
        let agent = SecretKey::from_seed(&[(cases.next() % 256) as u8; 32]).public_key();
        Receipt {
            issuer,
            decided_at: Timestamp::from_unix((cases.next() % 4_000_000_000) as i64)
                .unwrap_or_else(Timestamp::now),
            agent: cases.coin().then(|| DidKey::from_public_key(agent)),
            activity,
        }
    }

    /// The direct writer's bytes are those of the generic path (the document as a JSON
    /// value, signed by `proof::sign`, canonicalized by kya-core), and they verify under the
    /// generic Data Integrity verifier.
    #[test]
    fn the_direct_writer_matches_the_generic_signer_byte_for_byte() {
        let key = SecretKey::from_seed(&[3; 32]);
        let names = SignerNames::new(DidKey::from_public_key(key.public_key()));
        let strings = odd_strings();
        let mut cases = Cases(0x9e37_79b9_7f4a_7c15);
        let limits = JsonLimits {
            max_bytes: 1 << 20,
            ..JsonLimits::default()
        };
        for case in 0..400 {
            let receipt = receipt(&mut cases, &strings, names.did);
            let fast = signed_bytes(&receipt, &names, &key)
                .unwrap_or_else(|e| unreachable!("case {case}: {e}"));
            let options = ProofOptions::assertion(key.public_key()).created(receipt.decided_at);
            let document = receipt
                .to_document()
                .unwrap_or_else(|e| unreachable!("case {case}: {e}"));
            let generic = proof::sign(&document, &options, &key)
                .and_then(|v| Ok(canonicalize(&v)?))
                .unwrap_or_else(|e| unreachable!("case {case}: {e}"));
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&generic),
                "case {case}"
            );
            let info = proof::verify_slice(&fast, limits)
                .unwrap_or_else(|e| unreachable!("case {case}: {e}"));
            assert_eq!(info.signer, names.did, "case {case}");
        }
    }

    /// A receipt the issuer path signs reads back through the strict reader unchanged.
    #[test]
    fn a_directly_written_receipt_reads_back() {
        let key = SecretKey::from_seed(&[4; 32]);
        let names = SignerNames::new(DidKey::from_public_key(key.public_key()));
        let strings = odd_strings()[..12].to_vec();
        let mut cases = Cases(7);
        let mut read = 0;
        for case in 0..200 {
            let mut receipt = receipt(&mut cases, &strings, names.did);
            // The strict reader takes integers up to 2^53 - 1 only.
            receipt.activity.log.index %= 1 << 53;
            receipt.activity.decision.reasons.iter_mut().for_each(|r| {
                r.link = r.link.map(|n| n % (1 << 53));
                r.grant = r.grant.map(|n| n % (1 << 53));
            });
            receipt.activity.charges.iter_mut().for_each(|c| {
                c.link %= 1 << 53;
                c.grant %= 1 << 53;
            });
            let signed = receipt
                .clone()
                .sign_named(&key, &names)
                .unwrap_or_else(|e| unreachable!("case {case}: {e}"));
            let again = SignedReceipt::from_slice(signed.as_bytes())
                .unwrap_or_else(|e| unreachable!("case {case}: {e}"));
            assert_eq!(again, signed, "case {case}");
            assert_eq!(again.receipt(), &receipt, "case {case}");
            read += 1;
        }
        assert_eq!(read, 200);
    }

    #[test]
    fn another_key_is_refused() {
        let key = SecretKey::from_seed(&[5; 32]);
        let other = SecretKey::from_seed(&[6; 32]);
        let names = SignerNames::new(DidKey::from_public_key(key.public_key()));
        let mut cases = Cases(11);
        let receipt = receipt(&mut cases, &odd_strings(), names.did);
        assert!(matches!(
            receipt.clone().sign_named(&other, &names),
            Err(crate::ReceiptError::SignerMismatch)
        ));
        assert!(matches!(
            receipt.sign(&other),
            Err(crate::ReceiptError::SignerMismatch)
        ));
    }
}
