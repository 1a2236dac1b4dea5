//! ERC-8004 validation (`KyaValidationRegistry`): an agent's owner asks a validator to check
//! a piece of work named by a hash — in kya a receipt's digest — and the validator answers on
//! chain. Requests are keyed by (agent, validator, hash); answers are appended, never
//! overwritten.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use kya_core::CredentialDigest;
use serde::Serialize;

use crate::bindings::KyaValidationRegistry::{
    KyaValidationRegistryErrors, KyaValidationRegistryInstance,
};
use crate::client::{Registry, TxInfo, send};
use crate::error::{ContractRevert, RegistryError, Result};

/// Most answers [`Registry::validation_status`] reads back for one request.
pub const MAX_ANSWERS_READ: u32 = 256;

/// What a validation request is about: kya uses a receipt's digest (SHA-256 over its signed
/// bytes), so the merchant's receipt and the validators' verdicts are read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RequestHash(pub [u8; 32]);

impl From<CredentialDigest> for RequestHash {
    fn from(d: CredentialDigest) -> Self {
        Self(d.0)
    }
}

impl RequestHash {
    /// The `bytes32` the contract takes.
    pub fn to_b256(self) -> B256 {
        B256::from(self.0)
    }
}

/// One answer of a validator, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationAnswer {
    /// 0 (failed) … 100 (passed).
    pub response: u8,
    /// A hash of the validator's evidence (zero if none).
    pub response_hash: B256,
    /// The validator's tag (e.g. `soft_finality`).
    pub tag: String,
    /// Block time of the answer.
    pub responded_at: u64,
    /// Block of the answer.
    pub block_number: u64,
}

/// A validation request and every answer to it, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationStatus {
    /// The agent.
    pub agent_id: U256,
    /// The validator asked.
    pub validator: Address,
    /// What was to be validated.
    pub request_hash: RequestHash,
    /// Block time of the request.
    pub requested_at: u64,
    /// The answers, oldest first (the last is the current verdict).
    pub answers: Vec<ValidationAnswer>,
}

impl ValidationStatus {
    /// The current verdict: the latest answer, if any.
    pub fn latest(&self) -> Option<&ValidationAnswer> {
        self.answers.last()
    }
}

impl Registry {
    fn validation_contract(&self) -> Result<&KyaValidationRegistryInstance<DynProvider>> {
        self.validation.as_ref().ok_or(RegistryError::NotDeployed {
            contract: "validation registry",
        })
    }

    /// Asks `validator` to validate `request_hash` for `agent_id` (the signer must be the
    /// agent's owner or operator); details at `request_uri`.
    pub async fn validation_request(
        &self,
        validator: Address,
        agent_id: U256,
        request_uri: &str,
        request_hash: RequestHash,
    ) -> Result<TxInfo> {
        let call = self.validation_contract()?.validationRequest(
            validator,
            agent_id,
            request_uri.to_owned(),
            request_hash.to_b256(),
        );
        send(call.send().await?).await
    }

    /// Answers, as the signer (the validator), the request (`agent_id`, signer,
    /// `request_hash`) with `response` (0…100). Always names the agent, so an attacker's
    /// request with the same hash can never make it ambiguous.
    pub async fn validation_response(
        &self,
        agent_id: U256,
        request_hash: RequestHash,
        response: u8,
        response_uri: &str,
        response_hash: B256,
        tag: &str,
    ) -> Result<TxInfo> {
        let call = self.validation_contract()?.validationResponseFor(
            agent_id,
            request_hash.to_b256(),
            response,
            response_uri.to_owned(),
            response_hash,
            tag.to_owned(),
        );
        send(call.send().await?).await
    }

    /// The request (`agent_id`, `validator`, `request_hash`) with all its answers, `None` if
    /// it was never made. More than [`MAX_ANSWERS_READ`] answers is
    /// [`RegistryError::TooManyResults`].
    pub async fn validation_status(
        &self,
        agent_id: U256,
        validator: Address,
        request_hash: RequestHash,
    ) -> Result<Option<ValidationStatus>> {
        let contract = self.validation_contract()?;
        let hash = request_hash.to_b256();
        let request = match contract
            .getValidationRequest(agent_id, validator, hash)
            .call()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let e = RegistryError::from(e);
                return match e.as_revert() {
                    Some(ContractRevert::Validation(
                        KyaValidationRegistryErrors::KyaUnknownRequest(_),
                    )) => Ok(None),
                    _ => Err(e),
                };
            }
        };
        if request.responseCount > MAX_ANSWERS_READ {
            return Err(RegistryError::TooManyResults {
                what: format!("answers to request {hash} of agent {agent_id}"),
                max: MAX_ANSWERS_READ as usize,
            });
        }
        let mut answers = Vec::with_capacity(request.responseCount as usize);
        for index in 0..request.responseCount {
            let a = contract
                .getValidationResponse(agent_id, validator, hash, U256::from(index))
                .call()
                .await?;
            answers.push(ValidationAnswer {
                response: a.response,
                response_hash: a.responseHash,
                tag: a.tag,
                responded_at: a.respondedAt,
                block_number: a.blockNumber,
            });
        }
        Ok(Some(ValidationStatus {
            agent_id,
            validator,
            request_hash,
            requested_at: request.requestedAt,
            answers,
        }))
    }
}
