//! The credential chain a receipt names, judged as of the receipt's time.

use std::sync::Arc;

use kya_core::credential::AgentRegistration;
use kya_core::{CredentialDigest, DidPkh, PublicKey, Timestamp};
use kya_verify::clock::FixedClock;
use kya_verify::registry::{
    AgentRecord, IssuerRevocation, RegistryView, ReputationSummary, Revocation,
};
use kya_verify::{Policy, VerifiedAgent, Verifier};

use crate::audit::AuditError;
use crate::receipt::Receipt;

/// A registry view as it stood at `at`: revocations mined later are not yet in force. Key
/// bindings are judged at the verifier's time, which an audit sets to the receipt's.
struct AsOf {
    inner: Arc<dyn RegistryView>,
    at: Timestamp,
}

impl RegistryView for AsOf {
    fn agent(&self, reg: &AgentRegistration) -> Option<AgentRecord> {
        self.inner.agent(reg)
    }
    fn agent_key_bound(&self, reg: &AgentRegistration, key: &PublicKey, at: Timestamp) -> bool {
        self.inner.agent_key_bound(reg, key, at)
    }
    fn principal_key_bound(&self, principal: &DidPkh, key: &PublicKey, at: Timestamp) -> bool {
        self.inner.principal_key_bound(principal, key, at)
    }
    fn revoked(&self, reg: &AgentRegistration, digest: &CredentialDigest) -> Option<Revocation> {
        self.inner
            .revoked(reg, digest)
            .filter(|r| r.time <= self.at)
    }
    fn revoked_by_issuer(
        &self,
        issuer: &DidPkh,
        digest: &CredentialDigest,
    ) -> Option<IssuerRevocation> {
        self.inner
            .revoked_by_issuer(issuer, digest)
            .filter(|r| r.time <= self.at)
    }
    fn reputation(
        &self,
        reg: &AgentRegistration,
        raters: &[[u8; 20]],
    ) -> Option<ReputationSummary> {
        self.inner.reputation(reg, raters)
    }
    /// Requests made by then; an answer given later is not known as of then (the view keeps
    /// only the latest), so such a request counts as unanswered: never a pass it did not have.
    fn validations(
        &self,
        reg: &AgentRegistration,
        validators: &[[u8; 20]],
    ) -> Option<Vec<kya_verify::Validation>> {
        let all = self.inner.validations(reg, validators)?;
        Some(
            all.into_iter()
                .filter(|v| v.requested_at.time <= self.at)
                .map(|mut v| {
                    if v.latest.as_ref().is_some_and(|a| a.at.time > self.at) {
                        v.latest = None;
                    }
                    v
                })
                .collect(),
        )
    }
    fn agent_over_bounds(&self, reg: &AgentRegistration) -> Option<String> {
        self.inner.agent_over_bounds(reg)
    }
    fn principal_over_bounds(&self, principal: &DidPkh) -> Option<String> {
        self.inner.principal_over_bounds(principal)
    }
}

/// Verifies `chain` (JSON bytes) as the merchant's `policy` would have at the receipt's
/// time, with the registry view (revocations mined after that time do not count), and
/// checks that it is the chain and the agent the receipt names.
pub fn chain_at(
    receipt: &Receipt,
    chain: &[u8],
    policy: Policy,
    registry: Option<Arc<dyn RegistryView>>,
) -> Result<VerifiedAgent, AuditError> {
    let at = receipt.decided_at;
    let mut verifier = Verifier::new(policy).with_clock(Arc::new(FixedClock::new(at)));
    if let Some(inner) = registry {
        verifier = verifier.with_registry(Arc::new(AsOf { inner, at }));
    }
    let agent = verifier
        .verify_chain(chain)
        .map_err(|e| AuditError::ChainInvalidAt {
            at,
            reason: e.to_string(),
        })?;
    let digest = agent.chain_digest().to_string();
    if receipt.activity.chain.as_deref() != Some(digest.as_str())
        || receipt.agent.as_ref() != Some(agent.agent())
    {
        return Err(AuditError::ChainMismatch {
            named: receipt.activity.chain.clone().unwrap_or_default(),
            given: digest,
        });
    }
    Ok(agent)
}
