/** One of kya's stable codes (kya_verify::Code's wire form); `codes()` lists them. */
export type KyaCode =
  | "input_too_large"
  | "malformed"
  | "empty_chain"
  | "chain_too_deep"
  | "too_many_grants"
  | "not_a_chain_root"
  | "not_a_delegation"
  | "duplicate_link"
  | "issuer_not_parent_subject"
  | "parent_digest_mismatch"
  | "bad_signature"
  | "validity_outside_parent"
  | "grant_widened"
  | "untrusted_root"
  | "credential_expired"
  | "credential_not_yet_valid"
  | "proof_expired"
  | "created_in_future"
  | "principal_key_not_bound"
  | "agent_not_registered"
  | "agent_inactive"
  | "key_not_bound"
  | "revoked"
  | "revoked_by_issuer"
  | "registry_record_over_bounds"
  | "registry_stale"
  | "status_revoked"
  | "status_suspended"
  | "status_list_missing"
  | "status_list_mismatch"
  | "status_list_stale"
  | "agent_card_missing"
  | "agent_card_mismatch"
  | "attestation_refused"
  | "reputation_insufficient"
  | "validation_insufficient"
  | "nonce_replayed"
  | "nonce_quota_exceeded"
  | "window_too_long"
  | "audience_mismatch"
  | "challenge_mismatch"
  | "presentation_expired"
  | "holder_mismatch"
  | "chain_not_cached"
  | "store_unavailable"
  | "action_not_covered"
  | "amount_missing"
  | "asset_mismatch"
  | "amount_exceeds_ceiling"
  | "amount_exceeds_budget"
  | "amount_too_precise"
  | "audience_missing"
  | "audience_not_allowed"
  | "resource_missing"
  | "resource_not_allowed"
  | "grant_not_yet_valid"
  | "grant_expired"
  | "unknown_constraint"
  | "budget_exhausted"
  | "rate_limited"
  | "ledger_full"
  | "unknown_obligation"
  | "ledger_required"
  | "signature_missing"
  | "signature_malformed"
  | "signature_component_not_covered"
  | "signature_component_missing"
  | "signature_algorithm_unsupported"
  | "signature_parameter_invalid"
  | "signature_window_too_long"
  | "signature_created_in_future"
  | "signature_expired"
  | "content_digest_malformed"
  | "content_digest_mismatch"
  | "chain_missing"
  | "chain_malformed"
  | "chain_too_large"
  | "chain_unknown_digest"
  | "chain_quota_exceeded"
  | "signature_keyid_mismatch"
  | "signature_invalid"
  | "authority_mismatch"
  | "path_not_normalized"
  | "route_not_mapped"
  | "header_duplicate"
  | "header_invalid"
  | "body_too_large"
  | "bad_request";

export type KyaFamily =
  | "KeyFormatError" | "SignerError" | "GrantError" | "CredentialError" | "ConfigError"
  | "InputError" | "VerificationError";
/** Every error kya throws. */
export declare class KyaError extends Error {
  constructor(message: string, options?: { code?: KyaCode | null; link?: number | null; status?: number | null; family?: KyaFamily | null });
  /** kya's stable code, when the error has one. */
  readonly code: KyaCode | null;
  /** The chain link (0 = root) it concerns, or null. */
  readonly link: number | null;
  /** The HTTP status a merchant answers with, for a request refusal, or null. */
  readonly status: number | null;
  /** What failed. */
  readonly family: KyaFamily;
  static readonly code: KyaCode | null;
}
export declare class KeyFormatError extends KyaError {}
export declare class SignerError extends KyaError {}
export declare class GrantError extends KyaError {}
export declare class CredentialError extends KyaError {}
export declare class ConfigError extends KyaError {}
export declare class InputError extends KyaError {}
export declare class VerificationError extends KyaError { readonly code: KyaCode; }
export declare class ChainRefused extends VerificationError {}
export declare class Denied extends VerificationError {}
export declare class RequestRefused extends VerificationError {}
export declare class Unavailable extends VerificationError {}

/** `input_too_large`: The input exceeds the byte limit. */
export declare class InputTooLarge extends ChainRefused { static readonly code: "input_too_large"; readonly code: "input_too_large"; }
/** `malformed`: Not JSON, VC 2.0, a kya kind, or a well-formed proof. */
export declare class Malformed extends ChainRefused { static readonly code: "malformed"; readonly code: "malformed"; }
/** `empty_chain`: No links. */
export declare class EmptyChain extends ChainRefused { static readonly code: "empty_chain"; readonly code: "empty_chain"; }
/** `chain_too_deep`: More links than the policy allows. */
export declare class ChainTooDeep extends ChainRefused { static readonly code: "chain_too_deep"; readonly code: "chain_too_deep"; }
/** `too_many_grants`: More grants than the policy allows. */
export declare class TooManyGrants extends ChainRefused { static readonly code: "too_many_grants"; readonly code: "too_many_grants"; }
/** `not_a_chain_root`: The first link is not an authorisation. */
export declare class NotAChainRoot extends ChainRefused { static readonly code: "not_a_chain_root"; readonly code: "not_a_chain_root"; }
/** `not_a_delegation`: A later link is not a delegation. */
export declare class NotADelegation extends ChainRefused { static readonly code: "not_a_delegation"; readonly code: "not_a_delegation"; }
/** `duplicate_link`: A link repeats. */
export declare class DuplicateLink extends ChainRefused { static readonly code: "duplicate_link"; readonly code: "duplicate_link"; }
/** `issuer_not_parent_subject`: A link's issuer is not its parent's subject. */
export declare class IssuerNotParentSubject extends ChainRefused { static readonly code: "issuer_not_parent_subject"; readonly code: "issuer_not_parent_subject"; }
/** `parent_digest_mismatch`: A link names another parent. */
export declare class ParentDigestMismatch extends ChainRefused { static readonly code: "parent_digest_mismatch"; readonly code: "parent_digest_mismatch"; }
/** `bad_signature`: A signature does not verify. */
export declare class BadSignature extends ChainRefused { static readonly code: "bad_signature"; readonly code: "bad_signature"; }
/** `validity_outside_parent`: A link's window is not inside its parent's. */
export declare class ValidityOutsideParent extends ChainRefused { static readonly code: "validity_outside_parent"; readonly code: "validity_outside_parent"; }
/** `grant_widened`: A link widens its parent's grants. */
export declare class GrantWidened extends ChainRefused { static readonly code: "grant_widened"; readonly code: "grant_widened"; }
/** `untrusted_root`: The root issuer is not trusted. */
export declare class UntrustedRoot extends ChainRefused { static readonly code: "untrusted_root"; readonly code: "untrusted_root"; }
/** `credential_expired`: A link has expired. */
export declare class CredentialExpired extends ChainRefused { static readonly code: "credential_expired"; readonly code: "credential_expired"; }
/** `credential_not_yet_valid`: A link is not valid yet. */
export declare class CredentialNotYetValid extends ChainRefused { static readonly code: "credential_not_yet_valid"; readonly code: "credential_not_yet_valid"; }
/** `proof_expired`: A proof's own `expires` has passed. */
export declare class ProofExpired extends ChainRefused { static readonly code: "proof_expired"; readonly code: "proof_expired"; }
/** `created_in_future`: A proof was created in the future. */
export declare class CreatedInFuture extends ChainRefused { static readonly code: "created_in_future"; readonly code: "created_in_future"; }
/** `principal_key_not_bound`: A wallet principal's signing key is not bound to it now. */
export declare class PrincipalKeyNotBound extends ChainRefused { static readonly code: "principal_key_not_bound"; readonly code: "principal_key_not_bound"; }
/** `agent_not_registered`: A named agent is not registered. */
export declare class AgentNotRegistered extends ChainRefused { static readonly code: "agent_not_registered"; readonly code: "agent_not_registered"; }
/** `agent_inactive`: A named agent is not active. */
export declare class AgentInactive extends ChainRefused { static readonly code: "agent_inactive"; readonly code: "agent_inactive"; }
/** `key_not_bound`: A subject key is not bound to its agent now. */
export declare class KeyNotBound extends ChainRefused { static readonly code: "key_not_bound"; readonly code: "key_not_bound"; }
/** `revoked`: A link was revoked. */
export declare class Revoked extends ChainRefused { static readonly code: "revoked"; readonly code: "revoked"; }
/** `revoked_by_issuer`: The root was revoked by its issuer (a wallet principal). */
export declare class RevokedByIssuer extends ChainRefused { static readonly code: "revoked_by_issuer"; readonly code: "revoked_by_issuer"; }
/** `registry_record_over_bounds`: A registry record the chain depends on exceeded the registry's bounds. */
export declare class RegistryRecordOverBounds extends ChainRefused { static readonly code: "registry_record_over_bounds"; readonly code: "registry_record_over_bounds"; }
/** `registry_stale`: The registry view is older than the policy allows. */
export declare class RegistryStale extends ChainRefused { static readonly code: "registry_stale"; readonly code: "registry_stale"; }
/** `status_revoked`: A status list holds the credential's bit: revoked by its issuer. */
export declare class StatusRevoked extends ChainRefused { static readonly code: "status_revoked"; readonly code: "status_revoked"; }
/** `status_suspended`: A status list holds the credential's bit: suspended by its issuer. */
export declare class StatusSuspended extends ChainRefused { static readonly code: "status_suspended"; readonly code: "status_suspended"; }
/** `status_list_missing`: The credential names a status list the verifier does not hold. */
export declare class StatusListMissing extends ChainRefused { static readonly code: "status_list_missing"; readonly code: "status_list_missing"; }
/** `status_list_mismatch`: The status list cannot speak for the credential (another issuer or key, another purpose, an index outside it). */
export declare class StatusListMismatch extends ChainRefused { static readonly code: "status_list_mismatch"; readonly code: "status_list_mismatch"; }
/** `status_list_stale`: The status list is past its `validUntil`, or older than the policy allows. */
export declare class StatusListStale extends ChainRefused { static readonly code: "status_list_stale"; readonly code: "status_list_stale"; }
/** `agent_card_missing`: The policy asks for agent cards and a registered agent has none the verifier holds. */
export declare class AgentCardMissing extends ChainRefused { static readonly code: "agent_card_missing"; readonly code: "agent_card_missing"; }
/** `agent_card_mismatch`: The agent's card does not name its registration, or is inactive. */
export declare class AgentCardMismatch extends ChainRefused { static readonly code: "agent_card_mismatch"; readonly code: "agent_card_mismatch"; }
/** `attestation_refused`: A reputation attestation was refused (signature, subject, attester, validity, status). */
export declare class AttestationRefused extends ChainRefused { static readonly code: "attestation_refused"; readonly code: "attestation_refused"; }
/** `reputation_insufficient`: The agent's combined reputation is below the policy's `minReputation`. */
export declare class ReputationInsufficient extends ChainRefused { static readonly code: "reputation_insufficient"; readonly code: "reputation_insufficient"; }
/** `validation_insufficient`: The leaf's registered agent has fewer passing validations by trusted validators than the policy's `minValidation` (or none can be read: fail closed). */
export declare class ValidationInsufficient extends ChainRefused { static readonly code: "validation_insufficient"; readonly code: "validation_insufficient"; }
/** `nonce_replayed`: The nonce was seen before. */
export declare class NonceReplayed extends ChainRefused { static readonly code: "nonce_replayed"; readonly code: "nonce_replayed"; }
/** `nonce_quota_exceeded`: The agent's share of the nonce store is full. */
export declare class NonceQuotaExceeded extends ChainRefused { static readonly code: "nonce_quota_exceeded"; readonly code: "nonce_quota_exceeded"; }
/** `window_too_long`: A presentation window is too long. */
export declare class WindowTooLong extends ChainRefused { static readonly code: "window_too_long"; readonly code: "window_too_long"; }
/** `audience_mismatch`: A presentation is for another audience. */
export declare class AudienceMismatch extends ChainRefused { static readonly code: "audience_mismatch"; readonly code: "audience_mismatch"; }
/** `challenge_mismatch`: A presentation's challenge is not the expected one. */
export declare class ChallengeMismatch extends ChainRefused { static readonly code: "challenge_mismatch"; readonly code: "challenge_mismatch"; }
/** `presentation_expired`: A presentation has expired. */
export declare class PresentationExpired extends ChainRefused { static readonly code: "presentation_expired"; readonly code: "presentation_expired"; }
/** `holder_mismatch`: The signer is not the chain's agent. */
export declare class HolderMismatch extends ChainRefused { static readonly code: "holder_mismatch"; readonly code: "holder_mismatch"; }
/** `chain_not_cached`: A chain named by digest is not cached. */
export declare class ChainNotCached extends ChainRefused { static readonly code: "chain_not_cached"; readonly code: "chain_not_cached"; }
/** `store_unavailable`: A nonce store or ledger could not answer. */
export declare class StoreUnavailable extends Unavailable { static readonly code: "store_unavailable"; readonly code: "store_unavailable"; }
/** `action_not_covered`: No grant covers the action. */
export declare class ActionNotCovered extends Denied { static readonly code: "action_not_covered"; readonly code: "action_not_covered"; }
/** `amount_missing`: The grant needs an amount. */
export declare class AmountMissing extends Denied { static readonly code: "amount_missing"; readonly code: "amount_missing"; }
/** `asset_mismatch`: The asset differs. */
export declare class AssetMismatch extends Denied { static readonly code: "asset_mismatch"; readonly code: "asset_mismatch"; }
/** `amount_exceeds_ceiling`: Over the per-request ceiling. */
export declare class AmountExceedsCeiling extends Denied { static readonly code: "amount_exceeds_ceiling"; readonly code: "amount_exceeds_ceiling"; }
/** `amount_exceeds_budget`: Over the whole budget. */
export declare class AmountExceedsBudget extends Denied { static readonly code: "amount_exceeds_budget"; readonly code: "amount_exceeds_budget"; }
/** `amount_too_precise`: More decimals than the budget counts. */
export declare class AmountTooPrecise extends Denied { static readonly code: "amount_too_precise"; readonly code: "amount_too_precise"; }
/** `audience_missing`: The grant needs an audience. */
export declare class AudienceMissing extends Denied { static readonly code: "audience_missing"; readonly code: "audience_missing"; }
/** `audience_not_allowed`: The audience is not allowed. */
export declare class AudienceNotAllowed extends Denied { static readonly code: "audience_not_allowed"; readonly code: "audience_not_allowed"; }
/** `resource_missing`: The grant needs a resource. */
export declare class ResourceMissing extends Denied { static readonly code: "resource_missing"; readonly code: "resource_missing"; }
/** `resource_not_allowed`: The resource is not allowed. */
export declare class ResourceNotAllowed extends Denied { static readonly code: "resource_not_allowed"; readonly code: "resource_not_allowed"; }
/** `grant_not_yet_valid`: The grant is not valid yet. */
export declare class GrantNotYetValid extends Denied { static readonly code: "grant_not_yet_valid"; readonly code: "grant_not_yet_valid"; }
/** `grant_expired`: The grant has expired. */
export declare class GrantExpired extends Denied { static readonly code: "grant_expired"; readonly code: "grant_expired"; }
/** `unknown_constraint`: The grant has a constraint kya does not know (fail closed). */
export declare class UnknownConstraint extends Denied { static readonly code: "unknown_constraint"; readonly code: "unknown_constraint"; }
/** `budget_exhausted`: The budget of the period is spent. */
export declare class BudgetExhausted extends Denied { static readonly code: "budget_exhausted"; readonly code: "budget_exhausted"; }
/** `rate_limited`: The rate of the period is reached. */
export declare class RateLimited extends Denied { static readonly code: "rate_limited"; readonly code: "rate_limited"; }
/** `ledger_full`: The ledger cannot record another counter. */
export declare class LedgerFull extends Denied { static readonly code: "ledger_full"; readonly code: "ledger_full"; }
/** `unknown_obligation`: An obligation the ledger does not know. */
export declare class UnknownObligation extends Denied { static readonly code: "unknown_obligation"; readonly code: "unknown_obligation"; }
/** `ledger_required`: The request carries budget or rate obligations and no ledger enforces them. */
export declare class LedgerRequired extends Denied { static readonly code: "ledger_required"; readonly code: "ledger_required"; }
/** `signature_missing`: The request is not signed. */
export declare class SignatureMissing extends RequestRefused { static readonly code: "signature_missing"; readonly code: "signature_missing"; }
/** `signature_malformed`: The signature headers are unreadable. */
export declare class SignatureMalformed extends RequestRefused { static readonly code: "signature_malformed"; readonly code: "signature_malformed"; }
/** `signature_component_not_covered`: A required component is not covered. */
export declare class SignatureComponentNotCovered extends RequestRefused { static readonly code: "signature_component_not_covered"; readonly code: "signature_component_not_covered"; }
/** `signature_component_missing`: A covered component is absent. */
export declare class SignatureComponentMissing extends RequestRefused { static readonly code: "signature_component_missing"; readonly code: "signature_component_missing"; }
/** `signature_algorithm_unsupported`: Not ed25519. */
export declare class SignatureAlgorithmUnsupported extends RequestRefused { static readonly code: "signature_algorithm_unsupported"; readonly code: "signature_algorithm_unsupported"; }
/** `signature_parameter_invalid`: A signature parameter is missing or invalid. */
export declare class SignatureParameterInvalid extends RequestRefused { static readonly code: "signature_parameter_invalid"; readonly code: "signature_parameter_invalid"; }
/** `signature_window_too_long`: The signature window is too long. */
export declare class SignatureWindowTooLong extends RequestRefused { static readonly code: "signature_window_too_long"; readonly code: "signature_window_too_long"; }
/** `signature_created_in_future`: The signature was created in the future. */
export declare class SignatureCreatedInFuture extends RequestRefused { static readonly code: "signature_created_in_future"; readonly code: "signature_created_in_future"; }
/** `signature_expired`: The signature has expired. */
export declare class SignatureExpired extends RequestRefused { static readonly code: "signature_expired"; readonly code: "signature_expired"; }
/** `content_digest_malformed`: `Content-Digest` is unreadable. */
export declare class ContentDigestMalformed extends RequestRefused { static readonly code: "content_digest_malformed"; readonly code: "content_digest_malformed"; }
/** `content_digest_mismatch`: The body does not match `Content-Digest`. */
export declare class ContentDigestMismatch extends RequestRefused { static readonly code: "content_digest_mismatch"; readonly code: "content_digest_mismatch"; }
/** `chain_missing`: No chain sent or named. */
export declare class ChainMissing extends RequestRefused { static readonly code: "chain_missing"; readonly code: "chain_missing"; }
/** `chain_malformed`: The chain header is unreadable. */
export declare class ChainMalformed extends RequestRefused { static readonly code: "chain_malformed"; readonly code: "chain_malformed"; }
/** `chain_too_large`: The chain is too large. */
export declare class ChainTooLarge extends RequestRefused { static readonly code: "chain_too_large"; readonly code: "chain_too_large"; }
/** `chain_unknown_digest`: The chain digest names no stored chain. */
export declare class ChainUnknownDigest extends RequestRefused { static readonly code: "chain_unknown_digest"; readonly code: "chain_unknown_digest"; }
/** `chain_quota_exceeded`: The agent's share of the chain store is full. */
export declare class ChainQuotaExceeded extends RequestRefused { static readonly code: "chain_quota_exceeded"; readonly code: "chain_quota_exceeded"; }
/** `signature_keyid_mismatch`: `keyid` is not the agent's key. */
export declare class SignatureKeyidMismatch extends RequestRefused { static readonly code: "signature_keyid_mismatch"; readonly code: "signature_keyid_mismatch"; }
/** `signature_invalid`: The request signature does not verify. */
export declare class SignatureInvalid extends RequestRefused { static readonly code: "signature_invalid"; readonly code: "signature_invalid"; }
/** `authority_mismatch`: The signed `@authority` is not this merchant. */
export declare class AuthorityMismatch extends RequestRefused { static readonly code: "authority_mismatch"; readonly code: "authority_mismatch"; }
/** `path_not_normalized`: The path has dot segments or encoded separators. */
export declare class PathNotNormalized extends RequestRefused { static readonly code: "path_not_normalized"; readonly code: "path_not_normalized"; }
/** `route_not_mapped`: No route maps the path to an action. */
export declare class RouteNotMapped extends RequestRefused { static readonly code: "route_not_mapped"; readonly code: "route_not_mapped"; }
/** `header_duplicate`: A header is repeated. */
export declare class HeaderDuplicate extends RequestRefused { static readonly code: "header_duplicate"; readonly code: "header_duplicate"; }
/** `header_invalid`: A `kya-*` header is unreadable. */
export declare class HeaderInvalid extends RequestRefused { static readonly code: "header_invalid"; readonly code: "header_invalid"; }
/** `body_too_large`: The body is too large. */
export declare class BodyTooLarge extends RequestRefused { static readonly code: "body_too_large"; readonly code: "body_too_large"; }
/** `bad_request`: Some other unusable request. */
export declare class BadRequest extends RequestRefused { static readonly code: "bad_request"; readonly code: "bad_request"; }
/** Every code's class, by its wire form. */
export declare const BY_CODE: Readonly<Record<KyaCode, typeof VerificationError>>;
/** Every stable code, in kya's order. */
export declare const CODES: readonly KyaCode[];

