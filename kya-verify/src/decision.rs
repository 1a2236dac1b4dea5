//! Decisions: may this verified agent make this request?
//!
//! A request is allowed only if **every link** of the chain has a grant that allows it and
//! every link is valid at the request time (so a leaf can never exceed an ancestor, even if
//! the narrowing checks were somehow bypassed). Otherwise the decision denies with every
//! reason: each link that allows nothing contributes the violations of its grants whose
//! action covers the request (or, when none does, one `action_not_covered` per grant), each
//! with the link and grant it concerns.

use std::fmt::Write as _;

use kya_core::grant::{Request, Violation};
use kya_core::{Did, DidKey, Timestamp};
use serde::Serialize;

use crate::admission::{Admission, AdmissionStore};
use crate::agent::{ChainDigest, VerifiedAgent};
use crate::code::Code;
use crate::ledger::{Charge, ChargeError, Ledger, LedgerKey};
use crate::nonce::{NonceKey, NonceVerdict};
use crate::store::StoreUnavailable;

/// One reason a request is denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// A stable machine code: a grant violation, `credential_expired`,
    /// `credential_not_yet_valid`, `presentation_expired`, `ledger_required`, or a ledger
    /// code (`budget_exhausted`, `rate_limited`, `ledger_full`).
    pub code: Code,
    /// The chain link it concerns (`0` = root), if any.
    pub link: Option<usize>,
    /// The grant (position in that link's grants) it concerns, if any.
    pub grant: Option<usize>,
    /// A sentence for people.
    pub message: String,
}

impl Reason {
    fn violation(link: usize, grant: usize, v: &Violation) -> Self {
        Self {
            code: Code::of_violation(v),
            link: Some(link),
            grant: Some(grant),
            message: format!("credential [{link}] grant {grant}: {v}"),
        }
    }
}

/// How one link judged the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkOutcome {
    /// The link (0 = root).
    pub link: usize,
    /// The credential id.
    pub id: String,
    /// The credential type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The issuer.
    pub issuer: Did,
    /// The subject.
    pub subject: DidKey,
    /// Start of validity.
    pub valid_from: Timestamp,
    /// End of validity.
    pub valid_until: Timestamp,
    /// The first grant that allows the request, if any.
    pub allowed_by: Option<usize>,
}

/// Allow, or deny with every reason. Serialises to JSON; [`explain`](Decision::explain)
/// writes it for people.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    allow: bool,
    agent: DidKey,
    principal: Did,
    chain_digest: ChainDigest,
    request: Request,
    decided_at: Timestamp,
    reasons: Vec<Reason>,
    links: Vec<LinkOutcome>,
    obligations: Vec<Charge>,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.allow
    }

    /// Every reason it is denied (empty when allowed).
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// The distinct reason codes, sorted.
    pub fn codes(&self) -> Vec<Code> {
        let mut codes: Vec<Code> = self.reasons.iter().map(|r| r.code).collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// How each link judged the request.
    pub fn links(&self) -> &[LinkOutcome] {
        &self.links
    }

    /// The stateful obligations (budget charges, rate events) an allowed request incurs, one
    /// per link grant that carries them; [`VerifiedAgent::decide_with_ledger`] applies them.
    pub fn obligations(&self) -> &[Charge] {
        &self.obligations
    }

    /// The request decided on.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Gives back through `ledger` what deciding this (allowed) request charged: the
    /// obligations, for the chain's root principal, at the time it was decided.
    pub(crate) fn refund_through(&self, ledger: &dyn Ledger) -> Result<(), StoreUnavailable> {
        if !self.allow || self.obligations.is_empty() {
            return Ok(());
        }
        ledger.refund_all(&self.principal, &self.obligations, self.decided_at)
    }

    /// A readable, multi-line account for people and auditors.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        let verdict = if self.allow { "ALLOW" } else { "DENY" };
        let _ = writeln!(
            out,
            "{verdict}: agent {} acting for {}",
            self.agent, self.principal
        );
        let r = &self.request;
        let _ = write!(out, "request: {}", r.action);
        if let Some(a) = &r.amount {
            let _ = write!(out, " of {a}");
        }
        if let Some(a) = &r.audience {
            let _ = write!(out, " to {a}");
        }
        if let Some(res) = &r.resource {
            let _ = write!(out, " on {res}");
        }
        let _ = writeln!(out, " at {} (decided at {})", r.time, self.decided_at);
        let _ = writeln!(
            out,
            "chain {} ({} link{}):",
            self.chain_digest,
            self.links.len(),
            if self.links.len() == 1 { "" } else { "s" }
        );
        for l in &self.links {
            let outcome = match l.allowed_by {
                Some(g) => format!("allows via grant {g}"),
                None => "allows nothing".to_owned(),
            };
            let _ = writeln!(
                out,
                "  [{}] {} {}: {} -> {}, valid {} to {}; {}",
                l.link, l.kind, l.id, l.issuer, l.subject, l.valid_from, l.valid_until, outcome
            );
        }
        if !self.reasons.is_empty() {
            let _ = writeln!(out, "reasons ({}):", self.reasons.len());
            for reason in &self.reasons {
                let _ = writeln!(out, "  - {}: {}", reason.code, reason.message);
            }
        }
        if !self.obligations.is_empty() {
            let _ = writeln!(out, "obligations:");
            for c in &self.obligations {
                let _ = writeln!(
                    out,
                    "  - credential [{}] grant {}: {}",
                    c.link, c.key.grant, c.obligation
                );
            }
        }
        out
    }
}

impl VerifiedAgent {
    /// Decides `request` (made at `request.time`) against every link of the chain; `now` is
    /// when the decision is taken (a result that has expired by then denies too). Without a
    /// ledger, a request that carries budget or rate obligations is denied
    /// (`ledger_required`): they would be promises nobody keeps. The obligations stay
    /// listed, so the reason says what a ledger would have charged.
    pub fn decide(&self, request: &Request, now: Timestamp) -> Decision {
        let mut decision = self.evaluate(request, now);
        if decision.allow && !decision.obligations.is_empty() {
            let first = &decision.obligations[0];
            decision.reasons.push(Reason {
                code: Code::LedgerRequired,
                link: Some(first.link),
                grant: Some(first.key.grant),
                message: format!(
                    "the request carries {} budget/rate obligation(s) and no ledger enforces them (fail closed)",
                    decision.obligations.len()
                ),
            });
            decision.allow = false;
        }
        decision
    }

    /// Every link's grants and windows against `request`: allow (with the obligations it
    /// incurs) or deny with every reason. Obligations are not yet applied.
    fn evaluate(&self, request: &Request, now: Timestamp) -> Decision {
        let at = request.time;
        let skew = self.skew();
        let mut reasons = Vec::new();
        let mut links = Vec::with_capacity(self.chain().len());
        let mut obligations = Vec::new();
        for (i, link) in self.chain().iter().enumerate() {
            // Validity at the request time, and at decision time (with the verification skew).
            if at > link.valid_until() || now.add_seconds(-skew) > link.valid_until() {
                let t = at.max(now);
                reasons.push(Reason {
                    code: Code::CredentialExpired,
                    link: Some(i),
                    grant: None,
                    message: format!(
                        "credential [{i}] expired at {}, {} s before {}",
                        link.valid_until(),
                        t.unix() - link.valid_until().unix(),
                        if at >= now { "the request" } else { "now" }
                    ),
                });
            } else if at < link.valid_from() {
                reasons.push(Reason {
                    code: Code::CredentialNotYetValid,
                    link: Some(i),
                    grant: None,
                    message: format!(
                        "credential [{i}] is not valid before {}, {} s after the request",
                        link.valid_from(),
                        link.valid_from().unix() - at.unix()
                    ),
                });
            }
            let mut allowed_by = None;
            let mut denials = Vec::new();
            for (g, grant) in link.grants().iter().enumerate() {
                let evaluation = grant.evaluate_at(request, now, skew);
                if evaluation.is_allowed() {
                    allowed_by = Some(g);
                    for obligation in evaluation.obligations {
                        obligations.push(Charge {
                            key: LedgerKey {
                                credential: link.digest(),
                                grant: g,
                                kind: obligation.code(),
                            },
                            link: i,
                            obligation,
                        });
                    }
                    break;
                }
                denials.push((
                    g,
                    grant.action().covers(&request.action),
                    evaluation.violations,
                ));
            }
            if allowed_by.is_none() {
                if link.grants().is_empty() {
                    reasons.push(Reason {
                        code: Code::ActionNotCovered,
                        link: Some(i),
                        grant: None,
                        message: format!("credential [{i}] has no grants"),
                    });
                }
                let any_covering = denials.iter().any(|(_, covers, _)| *covers);
                for (g, covers, violations) in &denials {
                    if any_covering && !covers {
                        continue;
                    }
                    for v in violations {
                        if !any_covering && !matches!(v, Violation::ActionNotCovered { .. }) {
                            continue;
                        }
                        reasons.push(Reason::violation(i, *g, v));
                    }
                }
            }
            links.push(crate::decision::LinkOutcome {
                link: i,
                id: link.id().to_owned(),
                kind: link.kind(),
                issuer: link.issuer(),
                subject: *link.subject(),
                valid_from: link.valid_from(),
                valid_until: link.valid_until(),
                allowed_by,
            });
        }
        if let Some(p) = self.presentation() {
            if now.add_seconds(-skew) > p.expires {
                reasons.push(Reason {
                    code: Code::PresentationExpired,
                    link: None,
                    grant: None,
                    message: format!(
                        "the presentation expired at {}, {} s before now",
                        p.expires,
                        now.unix() - p.expires.unix()
                    ),
                });
            }
        }
        let allow = reasons.is_empty();
        if !allow {
            obligations.clear();
        }
        Decision {
            allow,
            agent: *self.agent(),
            principal: *self.principal(),
            chain_digest: self.chain_digest(),
            request: request.clone(),
            decided_at: now,
            reasons,
            links,
            obligations,
        }
    }

    /// Decides as [`decide`](Self::decide) does, but if every grant allows, applies every link's
    /// obligations to `ledger` atomically (all or none); a charge that does not fit denies
    /// with its reason. `Err` when the ledger cannot answer: nothing was charged and nothing
    /// may be allowed.
    pub fn decide_with_ledger(
        &self,
        request: &Request,
        now: Timestamp,
        ledger: &dyn Ledger,
    ) -> Result<Decision, StoreUnavailable> {
        let mut decision = self.evaluate(request, now);
        if !decision.allow || decision.obligations.is_empty() {
            return Ok(decision);
        }
        match ledger.try_charge_all(&decision.principal, &decision.obligations, now) {
            Ok(()) => {}
            Err(ChargeError::Refused(reasons)) => {
                decision.allow = false;
                decision.reasons = reasons;
                decision.obligations.clear();
            }
            Err(ChargeError::Unavailable(e)) => return Err(e),
        }
        Ok(decision)
    }

    /// Decides as [`decide_with_ledger`](Self::decide_with_ledger) does, with the request's
    /// nonce (`key`) recorded by `stores` in the same step as the charges. `Err(verdict)`:
    /// the nonce was not recorded, nothing was charged.
    pub fn decide_admitting(
        &self,
        request: &Request,
        now: Timestamp,
        stores: &dyn AdmissionStore,
        key: NonceKey<'_>,
        remember_until: Timestamp,
    ) -> Result<Result<Decision, NonceVerdict>, StoreUnavailable> {
        let mut decision = self.evaluate(request, now);
        let charges = if decision.allow {
            &decision.obligations[..]
        } else {
            &[]
        };
        match stores.admit(key, remember_until, charges, now)? {
            Admission::Admitted => {}
            Admission::Nonce(verdict) => return Ok(Err(verdict)),
            Admission::Refused(reasons) => {
                decision.allow = false;
                decision.reasons = reasons;
                decision.obligations.clear();
            }
        }
        Ok(Ok(decision))
    }
}
