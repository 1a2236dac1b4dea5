//! A receipt told in words, for people.

use std::fmt::Write as _;

use crate::receipt::{Outcome, Receipt};

/// The story of a receipt: who acted for whom, what they asked, what the merchant decided
/// and why, what was charged, and where the receipt sits in the log.
pub fn explain(receipt: &Receipt) -> String {
    let a = &receipt.activity;
    let r = &a.request;
    let mut out = String::new();
    let who = match (&receipt.agent, &a.principal) {
        (Some(agent), Some(principal)) => format!("agent {agent} acting for {principal}"),
        (Some(agent), None) => format!("agent {agent}"),
        _ => "an unidentified caller".to_owned(),
    };
    let what = match (&r.action, &r.amount) {
        (Some(action), Some(m)) => format!("{action} of {} {}", m.value, m.asset),
        (Some(action), None) => action.clone(),
        _ => "a request".to_owned(),
    };
    let _ = write!(
        out,
        "{who} asked for {what} ({} https://{}{}) at {}",
        r.method, r.authority, r.path, receipt.decided_at
    );
    if let Some(chain) = &a.chain {
        let _ = write!(out, " under chain {chain}");
    }
    let _ = writeln!(out, ".");
    let verdict = match a.decision.outcome {
        Outcome::Allowed => "allowed it",
        Outcome::Denied => "denied it",
        Outcome::Refused => "refused it before judging it",
    };
    let _ = write!(out, "Merchant {} {verdict}", a.merchant);
    if a.decision.reasons.is_empty() {
        let _ = write!(out, ": the chain verified and its grants cover the request");
    } else {
        let codes: Vec<String> = a
            .decision
            .reasons
            .iter()
            .map(|x| match x.link {
                Some(l) => format!("{} (link {l})", x.code),
                None => x.code.clone(),
            })
            .collect();
        let _ = write!(out, " because: {}", codes.join(", "));
    }
    let _ = writeln!(out, " (HTTP {}).", a.decision.status);
    for c in &a.charges {
        let _ = writeln!(
            out,
            "Charged {} to the {} of grant {} of link {} (credential {}).",
            c.obligation, c.kind, c.grant, c.link, c.credential
        );
    }
    let _ = writeln!(
        out,
        "Receipt {} of log {}, signed by {}.",
        a.log.index, a.log.origin, receipt.issuer
    );
    out
}
