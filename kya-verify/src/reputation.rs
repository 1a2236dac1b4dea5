//! Reputation a merchant can require: on-chain feedback from the raters its policy trusts
//! (`trustedRaters`, through the registry view) combined with signed
//! `AgentReputationAttestation` credentials from the attesters it trusts, against a minimum
//! count and average (policy `minReputation`).
//!
//! The combination uses the registry's own arithmetic: every value scaled to 18 decimals,
//! summed, divided by the count. The on-chain part enters as the registry reports it
//! (count and truncated mean, as `getSummary` answers), each attestation as one rating; an
//! attester counts once per agent (its newest attestation), so issuing many attestations
//! adds nothing.

use kya_core::credential::{CredentialKind, UnverifiedCredential};
use kya_core::{CredentialDigest, Did, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agent::VerifiedAgent;
use crate::chain::{StatusHolder, check_status_of};
use crate::error::VerifyError;
use crate::policy::Policy;
use crate::registry::ReputationSummary;
use crate::status::StatusListView;

/// At most this many attestations are read per check.
pub const MAX_ATTESTATIONS: usize = 16;

/// A policy's reputation requirement (`minReputation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReputationRequirement {
    /// At least this many ratings (on-chain feedback and attestations together).
    pub min_count: u64,
    /// An average of at least this, a decimal (`"80"`, `"92.5"`).
    pub min_average: String,
    /// Issuers whose attestations count (did:key or did:pkh).
    #[serde(default)]
    pub trusted_attesters: Vec<Did>,
}

impl ReputationRequirement {
    /// `min_average` scaled to 18 decimals, if it is a decimal with at most 18 of them.
    pub fn min_average_scaled(&self) -> Option<i128> {
        scale_decimal(&self.min_average)
    }
}

/// What the combined reputation came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReputationReport {
    /// The on-chain summary among the trusted raters, if any.
    pub onchain: Option<ReputationSummary>,
    /// The attestations that counted (one per attester).
    pub attestations: Vec<CredentialDigest>,
    /// Ratings counted.
    pub count: u64,
    /// Their average, scaled to 18 decimals.
    pub average_scaled: i128,
}

/// `"92.5"` → 92.5 × 10^18.
fn scale_decimal(s: &str) -> Option<i128> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let well_formed = !whole.is_empty()
        && whole.len() <= 20
        && fraction.len() <= 18
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
        && (digits.contains('.') != fraction.is_empty());
    if !well_formed {
        return None;
    }
    let mut padded = fraction.to_owned();
    padded.extend(std::iter::repeat_n('0', 18 - fraction.len()));
    let value = whole.parse::<i128>().ok()?.checked_mul(10i128.pow(18))?;
    let value = value.checked_add(padded.parse::<i128>().ok()?)?;
    Some(if negative { -value } else { value })
}

/// One attestation checked: a reputation attestation about `agent`'s leaf, by a trusted
/// attester, valid now, its status clear. Returns (issuer, validFrom, digest, scaled value).
fn read_attestation(
    index: usize,
    document: &Value,
    agent: &VerifiedAgent,
    requirement: &ReputationRequirement,
    policy: &Policy,
    now: Timestamp,
    lists: Option<&dyn StatusListView>,
) -> Result<(Did, Timestamp, CredentialDigest, i128), VerifyError> {
    let refused = |reason: String| VerifyError::AttestationRefused { index, reason };
    let verified = UnverifiedCredential::from_value(document.clone())
        .and_then(UnverifiedCredential::verify_proof)
        .map_err(|e| refused(e.to_string()))?;
    let CredentialKind::Reputation(a) = verified.kind() else {
        return Err(refused("not an AgentReputationAttestation".into()));
    };
    if !requirement.trusted_attesters.contains(&a.issuer) {
        return Err(refused(format!("{} is not a trusted attester", a.issuer)));
    }
    if a.agent != *agent.agent() {
        return Err(refused(format!("it is about {}, not this agent", a.agent)));
    }
    let leaf_registration = agent.chain().last().and_then(|l| l.link().registration());
    if a.registration.is_some() && a.registration.as_ref() != leaf_registration {
        return Err(refused("it names another registration".into()));
    }
    let skew = policy.clock_skew_secs();
    if a.valid_from > now.add_seconds(skew)
        || a.valid_until.is_some_and(|u| now > u.add_seconds(skew))
    {
        return Err(refused(format!("it is not valid at {now}")));
    }
    let holder = StatusHolder {
        issuer: a.issuer,
        signer: verified.proof().signer.public_key(),
        entries: &a.status,
    };
    check_status_of([holder], policy, now, lists).map_err(|e| refused(e.to_string()))?;
    let scale = 10i128.checked_pow(u32::from(18 - a.value_decimals.min(18)));
    let value = scale
        .and_then(|s| a.value.checked_mul(s))
        .ok_or_else(|| refused("its value leaves the range".into()))?;
    Ok((a.issuer, a.valid_from, verified.digest(), value))
}

/// Combines the agent's on-chain reputation with `attestations` and holds the result to the
/// policy's `minReputation` (no requirement: the report only).
pub(crate) fn check(
    agent: &VerifiedAgent,
    attestations: &[Value],
    policy: &Policy,
    now: Timestamp,
    lists: Option<&dyn StatusListView>,
) -> Result<ReputationReport, VerifyError> {
    let empty = ReputationRequirement {
        min_count: 0,
        min_average: "0".into(),
        trusted_attesters: Vec::new(),
    };
    let requirement = policy.min_reputation().unwrap_or(&empty);
    if attestations.len() > MAX_ATTESTATIONS {
        return Err(VerifyError::AttestationRefused {
            index: MAX_ATTESTATIONS,
            reason: format!("more than {MAX_ATTESTATIONS} attestations"),
        });
    }
    let mut newest: Vec<(Did, Timestamp, CredentialDigest, i128)> = Vec::new();
    for (i, doc) in attestations.iter().enumerate() {
        let a = read_attestation(i, doc, agent, requirement, policy, now, lists)?;
        match newest.iter_mut().find(|n| n.0 == a.0) {
            Some(n) if n.1 < a.1 => *n = a,
            Some(_) => {}
            None => newest.push(a),
        }
    }
    let onchain = agent.registration().and_then(|f| f.reputation.clone());
    let (mut sum, mut count) = (0i128, 0u64);
    if let Some(s) = &onchain {
        let scale = 10i128.checked_pow(u32::from(18 - s.value_decimals.min(18)));
        let total = scale
            .and_then(|sc| s.average.checked_mul(sc))
            .and_then(|avg| avg.checked_mul(i128::from(s.count)));
        sum = total.ok_or_else(|| insufficient(0, 0, requirement))?;
        count = s.count;
    }
    for n in &newest {
        sum = sum
            .checked_add(n.3)
            .ok_or_else(|| insufficient(count, 0, requirement))?;
        count += 1;
    }
    let average_scaled = if count == 0 {
        0
    } else {
        sum / i128::from(count)
    };
    let min_average = requirement
        .min_average_scaled()
        .ok_or_else(|| insufficient(count, average_scaled, requirement))?;
    if policy.min_reputation().is_some()
        && (count < requirement.min_count || average_scaled < min_average)
    {
        return Err(insufficient(count, average_scaled, requirement));
    }
    Ok(ReputationReport {
        onchain,
        attestations: newest.iter().map(|n| n.2).collect(),
        count,
        average_scaled,
    })
}

fn insufficient(count: u64, average_scaled: i128, r: &ReputationRequirement) -> VerifyError {
    VerifyError::ReputationInsufficient {
        count,
        average: unscale(average_scaled),
        min_count: r.min_count,
        min_average: r.min_average.chars().take(40).collect(),
    }
}

/// 92.5 × 10^18 → `"92.5"`.
fn unscale(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let v = v.unsigned_abs();
    let (whole, fraction) = (v / 10u128.pow(18), v % 10u128.pow(18));
    let fraction = format!("{fraction:018}");
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decimals_scale_and_unscale() {
        assert_eq!(scale_decimal("92.5"), Some(925 * 10i128.pow(17)));
        assert_eq!(scale_decimal("80"), Some(80 * 10i128.pow(18)));
        assert_eq!(scale_decimal("-1.25"), Some(-125 * 10i128.pow(16)));
        for bad in [
            "",
            ".5",
            "5.",
            "1e3",
            "0x10",
            "1.0000000000000000001",
            "--1",
        ] {
            assert_eq!(scale_decimal(bad), None, "{bad}");
        }
        assert_eq!(unscale(925 * 10i128.pow(17)), "92.5");
        assert_eq!(unscale(80 * 10i128.pow(18)), "80");
        assert_eq!(unscale(-125 * 10i128.pow(16)), "-1.25");
    }
}
