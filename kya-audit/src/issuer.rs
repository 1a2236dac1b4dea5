//! The merchant's side: a receipt for every decided request, signed and logged before the
//! answer goes out.

use std::path::Path;

use kya_core::grant::Request;
use kya_core::{DidKey, SecretKey, Timestamp};
use kya_verify::http::{Admitted, CheckedSignature, HttpRequest, Refusal};
use sha2::{Digest as _, Sha256};

use crate::jcs::SignerNames;
use crate::journal::{Journal, JournalError};
use crate::receipt::{
    Activity, AmountRecord, ChargeRecord, DecisionRecord, LogPosition, Outcome, ReasonRecord,
    Receipt, RequestRecord, SettlementRecord, SignedReceipt,
};

/// The response header that carries a receipt to the agent: base64url (no padding) of the
/// receipt's bytes.
pub const RECEIPT_HEADER: &str = "KYA-Receipt";

/// Signs and logs a receipt for each decision.
#[derive(Debug)]
pub struct ReceiptIssuer {
    key: SecretKey,
    names: SignerNames,
    origin: String,
    merchant: String,
    journal: Journal,
}

impl ReceiptIssuer {
    /// An issuer signing with `key`, logging under `origin` (the log's name, e.g.
    /// `shop.example/kya/receipts`) into the log at `dir`, for the merchant `merchant` (its
    /// audience DID).
    pub fn open(
        key: SecretKey,
        origin: impl Into<String>,
        merchant: impl Into<String>,
        dir: impl AsRef<Path>,
    ) -> Result<Self, JournalError> {
        Ok(Self {
            names: SignerNames::new(DidKey::from_public_key(key.public_key())),
            key,
            origin: origin.into(),
            merchant: merchant.into(),
            journal: Journal::open(dir)?,
        })
    }

    /// The log.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The receipt key (the issuer of every receipt, the signer of every checkpoint).
    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    /// Records the decision on `request`: builds the receipt at the log's next index, signs
    /// it and returns once it is durable. An error means no receipt: answer 503.
    pub fn record(
        &self,
        request: &HttpRequest,
        outcome: &Result<Admitted, Refusal>,
        now: Timestamp,
    ) -> Result<SignedReceipt, JournalError> {
        let (agent, activity) = self.activity(request, outcome);
        self.append(agent, activity, now)
    }

    /// Records an allowed request whose payment was settled: as [`record`](Self::record),
    /// with the settlement transaction in the activity's `settlement`.
    pub fn record_paid(
        &self,
        request: &HttpRequest,
        admitted: Admitted,
        settlement: SettlementRecord,
        now: Timestamp,
    ) -> Result<SignedReceipt, JournalError> {
        let (agent, mut activity) = self.activity(request, &Ok(admitted));
        activity.settlement = Some(settlement);
        self.append(agent, activity, now)
    }

    /// Records a refusal its caller made itself, outside kya-verify (a gateway's own check,
    /// such as an amount that is not the route's price): the status answered and the stable
    /// code. The agent is not named: nothing the request claims was relied on.
    pub fn record_refused(
        &self,
        request: &HttpRequest,
        status: u16,
        code: &str,
        now: Timestamp,
    ) -> Result<SignedReceipt, JournalError> {
        let activity = Activity {
            merchant: self.merchant.clone(),
            principal: None,
            chain: None,
            request: request_record(request, None, None),
            decision: DecisionRecord {
                outcome: Outcome::Refused,
                status,
                reasons: vec![ReasonRecord {
                    code: code.chars().take(64).collect(),
                    link: None,
                    grant: None,
                }],
            },
            charges: Vec::new(),
            settlement: None,
            log: LogPosition {
                origin: self.origin.clone(),
                index: 0,
            },
        };
        self.append(None, activity, now)
    }

    /// Signs the receipt at the log's next index and returns once it is durable.
    fn append(
        &self,
        agent: Option<DidKey>,
        activity: Activity,
        now: Timestamp,
    ) -> Result<SignedReceipt, JournalError> {
        let (_, receipt) = self.journal.append_with(|index| {
            let mut activity = activity;
            activity.log.index = index;
            let receipt = Receipt {
                issuer: self.names.did,
                decided_at: now,
                agent,
                activity,
            };
            receipt.sign_named(&self.key, &self.names)
        })?;
        Ok(receipt)
    }

    /// Who and what, from the outcome (the log position is filled in under the log's lock).
    fn activity(
        &self,
        request: &HttpRequest,
        outcome: &Result<Admitted, Refusal>,
    ) -> (Option<DidKey>, Activity) {
        let (agent, principal, chain, request, decision, charges) = match outcome {
            Ok(admitted) => (
                Some(*admitted.agent.agent()),
                Some(admitted.agent.principal().to_string()),
                Some(admitted.agent.chain_digest()),
                request_record(
                    request,
                    Some(&admitted.signature),
                    Some(admitted.decision.request()),
                ),
                DecisionRecord {
                    outcome: Outcome::Allowed,
                    status: 200,
                    reasons: Vec::new(),
                },
                admitted
                    .decision
                    .obligations()
                    .iter()
                    .map(|c| ChargeRecord {
                        link: c.link,
                        grant: c.key.grant,
                        credential: c.key.credential.to_hex(),
                        kind: c.obligation.code().to_owned(),
                        obligation: c.obligation.to_string(),
                    })
                    .collect(),
            ),
            Err(Refusal::Denied { agent, decision }) => (
                Some(*agent.agent()),
                Some(agent.principal().to_string()),
                Some(agent.chain_digest()),
                request_record(request, None, Some(decision.request())),
                DecisionRecord {
                    outcome: Outcome::Denied,
                    status: 403,
                    reasons: decision
                        .reasons()
                        .iter()
                        .map(|r| ReasonRecord {
                            code: r.code.to_string(),
                            link: r.link,
                            grant: r.grant,
                        })
                        .collect(),
                },
                Vec::new(),
            ),
            Err(Refusal::NotVerified(e)) => (
                None,
                None,
                None,
                request_record(request, None, None),
                DecisionRecord {
                    outcome: Outcome::Refused,
                    status: e.status(),
                    reasons: vec![ReasonRecord {
                        code: e.code().to_string(),
                        link: e.link(),
                        grant: None,
                    }],
                },
                Vec::new(),
            ),
        };
        let activity = Activity {
            merchant: self.merchant.clone(),
            principal,
            chain: chain.map(|c: kya_verify::ChainDigest| c.to_string()),
            request,
            decision,
            charges,
            settlement: None,
            log: LogPosition {
                origin: self.origin.clone(),
                index: 0,
            },
        };
        (agent, activity)
    }
}

/// The request as the merchant saw it; with the checked signature and the judged grant
/// request when there are.
fn request_record(
    request: &HttpRequest,
    checked: Option<&CheckedSignature>,
    judged: Option<&Request>,
) -> RequestRecord {
    // Bounded: the gate refuses longer values, but a refused request may carry anything.
    let cut = |s: &str, n: usize| match s.char_indices().nth(n) {
        Some((end, _)) => s[..end].to_owned(),
        None => s.to_owned(),
    };
    RequestRecord {
        method: cut(&request.method, 16),
        authority: cut(&request.authority, 256),
        path: cut(request.path_component(), 2048),
        query: request.query.as_deref().map(|q| cut(q, 2048)),
        content_digest: request
            .single_header("content-digest")
            .ok()
            .flatten()
            .map(|d| cut(d, 128)),
        action: judged.map(|r| r.action.to_string()),
        amount: judged
            .and_then(|r| r.amount.as_ref())
            .map(|m| AmountRecord {
                value: m.value.to_string(),
                asset: m.asset.to_string(),
            }),
        nonce: checked.map(|c| c.nonce.clone()),
        signature_base_digest: checked.map(|c| hex::encode(Sha256::digest(c.signature_base()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_own_refusal_is_signed_and_logged_in_order() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
        let key = SecretKey::from_seed(&[7; 32]);
        let issuer = ReceiptIssuer::open(key, "shop.example/r", "did:web:shop.example", dir.path())
            .unwrap_or_else(|e| unreachable!("{e}"));
        let request = HttpRequest::new("POST", "Shop.Example", "/coffee?size=l");
        let now = Timestamp::now();
        for index in 0..2 {
            let r = issuer
                .record_refused(&request, 403, "amount_not_price", now)
                .unwrap_or_else(|e| unreachable!("{e}"));
            let again =
                SignedReceipt::from_slice(r.as_bytes()).unwrap_or_else(|e| unreachable!("{e}"));
            let a = &again.receipt().activity;
            assert_eq!(a.decision.outcome, Outcome::Refused);
            assert_eq!(a.decision.status, 403);
            assert_eq!(a.decision.reasons[0].code, "amount_not_price");
            assert_eq!(a.log.index, index);
            assert_eq!(a.request.query.as_deref(), Some("size=l"));
            assert!(again.receipt().agent.is_none() && a.principal.is_none());
            let entry = issuer
                .journal()
                .with_log(|l| l.entry(index))
                .unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(entry, r.as_bytes());
        }
        assert_eq!(issuer.journal().size().0, 2);
    }
}
