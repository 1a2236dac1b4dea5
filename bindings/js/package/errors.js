// kya's errors: one class per stable code of kya_verify::Code (the snake_case wire form the
// Rust library, the HTTP problem responses and the command line share), grouped by what
// failed. The WebAssembly module throws them (it imports `fromNative`).
//
//   KyaError
//   ├── KeyFormatError, GrantError, CredentialError, ConfigError, InputError, SignerError
//   └── VerificationError
//       ├── ChainRefused    the chain, presentation or request as a whole (HTTP 401)
//       ├── Denied          the agent verified but its grants do not allow it (HTTP 403)
//       ├── RequestRefused  the signed HTTP request itself (401, 400, 413, ...)
//       └── Unavailable     a store could not answer (HTTP 503): retry, never a verdict
//
// An error that is not a verdict but that the verifier would give a code (a delegation that
// widens its parent) is the code's class, with `family` naming what failed
// ("CredentialError").

/** Every error kya throws. */
export class KyaError extends Error {
  constructor(message, { code = null, link = null, status = null, family = null } = {}) {
    super(message);
    this.name = new.target.name;
    /** kya's stable code, when the error has one. */
    this.code = code ?? new.target.code ?? null;
    /** The chain link (0 = root) it concerns, or null. */
    this.link = link;
    /** The HTTP status a merchant answers with, for a request refusal, or null. */
    this.status = status;
    /** What failed: "KeyFormatError", "GrantError", "CredentialError", "ConfigError",
     * "InputError", "SignerError" or "VerificationError". */
    this.family = family ?? familyOf(new.target);
  }
}
KyaError.code = null;

/** A key, key file or DID that cannot be read. */
export class KeyFormatError extends KyaError {}
/** A signer failed. */
export class SignerError extends KyaError {}
/** A grant, action, amount or asset that cannot be read. */
export class GrantError extends KyaError {}
/** A credential that cannot be built, signed, read or chained. */
export class CredentialError extends KyaError {}
/** A policy or snapshot that cannot be read. */
export class ConfigError extends KyaError {}
/** A value of the wrong form (a time, a header, an option). */
export class InputError extends KyaError {}
/** A verdict: every class below carries one stable code. */
export class VerificationError extends KyaError {}
/** The chain, presentation or request as a whole is refused (HTTP 401). */
export class ChainRefused extends VerificationError {}
/** The agent verified but its grants do not allow the request (HTTP 403). */
export class Denied extends VerificationError {}
/** The signed HTTP request itself is refused. */
export class RequestRefused extends VerificationError {}
/** A store could not answer (HTTP 503): retry, never a verdict on the agent. */
export class Unavailable extends VerificationError {}

const FAMILIES = {
  KeyFormatError, SignerError, GrantError, CredentialError, ConfigError, InputError,
  VerificationError,
};

function familyOf(cls) {
  for (let c = cls; c && c !== KyaError; c = Object.getPrototypeOf(c)) {
    if (FAMILIES[c.name] === c) return c.name;
  }
  return "VerificationError";
}

/** `input_too_large`: The input exceeds the byte limit. */
export class InputTooLarge extends ChainRefused {}
InputTooLarge.code = "input_too_large";
/** `malformed`: Not JSON, VC 2.0, a kya kind, or a well-formed proof. */
export class Malformed extends ChainRefused {}
Malformed.code = "malformed";
/** `empty_chain`: No links. */
export class EmptyChain extends ChainRefused {}
EmptyChain.code = "empty_chain";
/** `chain_too_deep`: More links than the policy allows. */
export class ChainTooDeep extends ChainRefused {}
ChainTooDeep.code = "chain_too_deep";
/** `too_many_grants`: More grants than the policy allows. */
export class TooManyGrants extends ChainRefused {}
TooManyGrants.code = "too_many_grants";
/** `not_a_chain_root`: The first link is not an authorisation. */
export class NotAChainRoot extends ChainRefused {}
NotAChainRoot.code = "not_a_chain_root";
/** `not_a_delegation`: A later link is not a delegation. */
export class NotADelegation extends ChainRefused {}
NotADelegation.code = "not_a_delegation";
/** `duplicate_link`: A link repeats. */
export class DuplicateLink extends ChainRefused {}
DuplicateLink.code = "duplicate_link";
/** `issuer_not_parent_subject`: A link's issuer is not its parent's subject. */
export class IssuerNotParentSubject extends ChainRefused {}
IssuerNotParentSubject.code = "issuer_not_parent_subject";
/** `parent_digest_mismatch`: A link names another parent. */
export class ParentDigestMismatch extends ChainRefused {}
ParentDigestMismatch.code = "parent_digest_mismatch";
/** `bad_signature`: A signature does not verify. */
export class BadSignature extends ChainRefused {}
BadSignature.code = "bad_signature";
/** `validity_outside_parent`: A link's window is not inside its parent's. */
export class ValidityOutsideParent extends ChainRefused {}
ValidityOutsideParent.code = "validity_outside_parent";
/** `grant_widened`: A link widens its parent's grants. */
export class GrantWidened extends ChainRefused {}
GrantWidened.code = "grant_widened";
/** `untrusted_root`: The root issuer is not trusted. */
export class UntrustedRoot extends ChainRefused {}
UntrustedRoot.code = "untrusted_root";
/** `credential_expired`: A link has expired. */
export class CredentialExpired extends ChainRefused {}
CredentialExpired.code = "credential_expired";
/** `credential_not_yet_valid`: A link is not valid yet. */
export class CredentialNotYetValid extends ChainRefused {}
CredentialNotYetValid.code = "credential_not_yet_valid";
/** `proof_expired`: A proof's own `expires` has passed. */
export class ProofExpired extends ChainRefused {}
ProofExpired.code = "proof_expired";
/** `created_in_future`: A proof was created in the future. */
export class CreatedInFuture extends ChainRefused {}
CreatedInFuture.code = "created_in_future";
/** `principal_key_not_bound`: A wallet principal's signing key is not bound to it now. */
export class PrincipalKeyNotBound extends ChainRefused {}
PrincipalKeyNotBound.code = "principal_key_not_bound";
/** `agent_not_registered`: A named agent is not registered. */
export class AgentNotRegistered extends ChainRefused {}
AgentNotRegistered.code = "agent_not_registered";
/** `agent_inactive`: A named agent is not active. */
export class AgentInactive extends ChainRefused {}
AgentInactive.code = "agent_inactive";
/** `key_not_bound`: A subject key is not bound to its agent now. */
export class KeyNotBound extends ChainRefused {}
KeyNotBound.code = "key_not_bound";
/** `revoked`: A link was revoked. */
export class Revoked extends ChainRefused {}
Revoked.code = "revoked";
/** `revoked_by_issuer`: The root was revoked by its issuer (a wallet principal). */
export class RevokedByIssuer extends ChainRefused {}
RevokedByIssuer.code = "revoked_by_issuer";
/** `registry_record_over_bounds`: A registry record the chain depends on exceeded the registry's bounds. */
export class RegistryRecordOverBounds extends ChainRefused {}
RegistryRecordOverBounds.code = "registry_record_over_bounds";
/** `registry_stale`: The registry view is older than the policy allows. */
export class RegistryStale extends ChainRefused {}
RegistryStale.code = "registry_stale";
/** `status_revoked`: A status list holds the credential's bit: revoked by its issuer. */
export class StatusRevoked extends ChainRefused {}
StatusRevoked.code = "status_revoked";
/** `status_suspended`: A status list holds the credential's bit: suspended by its issuer. */
export class StatusSuspended extends ChainRefused {}
StatusSuspended.code = "status_suspended";
/** `status_list_missing`: The credential names a status list the verifier does not hold. */
export class StatusListMissing extends ChainRefused {}
StatusListMissing.code = "status_list_missing";
/** `status_list_mismatch`: The status list cannot speak for the credential (another issuer or key, another purpose, an index outside it). */
export class StatusListMismatch extends ChainRefused {}
StatusListMismatch.code = "status_list_mismatch";
/** `status_list_stale`: The status list is past its `validUntil`, or older than the policy allows. */
export class StatusListStale extends ChainRefused {}
StatusListStale.code = "status_list_stale";
/** `agent_card_missing`: The policy asks for agent cards and a registered agent has none the verifier holds. */
export class AgentCardMissing extends ChainRefused {}
AgentCardMissing.code = "agent_card_missing";
/** `agent_card_mismatch`: The agent's card does not name its registration, or is inactive. */
export class AgentCardMismatch extends ChainRefused {}
AgentCardMismatch.code = "agent_card_mismatch";
/** `attestation_refused`: A reputation attestation was refused (signature, subject, attester, validity, status). */
export class AttestationRefused extends ChainRefused {}
AttestationRefused.code = "attestation_refused";
/** `reputation_insufficient`: The agent's combined reputation is below the policy's `minReputation`. */
export class ReputationInsufficient extends ChainRefused {}
ReputationInsufficient.code = "reputation_insufficient";
/** `validation_insufficient`: The leaf's registered agent has fewer passing validations by trusted validators than the policy's `minValidation` (or none can be read: fail closed). */
export class ValidationInsufficient extends ChainRefused {}
ValidationInsufficient.code = "validation_insufficient";
/** `nonce_replayed`: The nonce was seen before. */
export class NonceReplayed extends ChainRefused {}
NonceReplayed.code = "nonce_replayed";
/** `nonce_quota_exceeded`: The agent's share of the nonce store is full. */
export class NonceQuotaExceeded extends ChainRefused {}
NonceQuotaExceeded.code = "nonce_quota_exceeded";
/** `window_too_long`: A presentation window is too long. */
export class WindowTooLong extends ChainRefused {}
WindowTooLong.code = "window_too_long";
/** `audience_mismatch`: A presentation is for another audience. */
export class AudienceMismatch extends ChainRefused {}
AudienceMismatch.code = "audience_mismatch";
/** `challenge_mismatch`: A presentation's challenge is not the expected one. */
export class ChallengeMismatch extends ChainRefused {}
ChallengeMismatch.code = "challenge_mismatch";
/** `presentation_expired`: A presentation has expired. */
export class PresentationExpired extends ChainRefused {}
PresentationExpired.code = "presentation_expired";
/** `holder_mismatch`: The signer is not the chain's agent. */
export class HolderMismatch extends ChainRefused {}
HolderMismatch.code = "holder_mismatch";
/** `chain_not_cached`: A chain named by digest is not cached. */
export class ChainNotCached extends ChainRefused {}
ChainNotCached.code = "chain_not_cached";
/** `store_unavailable`: A nonce store or ledger could not answer. */
export class StoreUnavailable extends Unavailable {}
StoreUnavailable.code = "store_unavailable";
/** `action_not_covered`: No grant covers the action. */
export class ActionNotCovered extends Denied {}
ActionNotCovered.code = "action_not_covered";
/** `amount_missing`: The grant needs an amount. */
export class AmountMissing extends Denied {}
AmountMissing.code = "amount_missing";
/** `asset_mismatch`: The asset differs. */
export class AssetMismatch extends Denied {}
AssetMismatch.code = "asset_mismatch";
/** `amount_exceeds_ceiling`: Over the per-request ceiling. */
export class AmountExceedsCeiling extends Denied {}
AmountExceedsCeiling.code = "amount_exceeds_ceiling";
/** `amount_exceeds_budget`: Over the whole budget. */
export class AmountExceedsBudget extends Denied {}
AmountExceedsBudget.code = "amount_exceeds_budget";
/** `amount_too_precise`: More decimals than the budget counts. */
export class AmountTooPrecise extends Denied {}
AmountTooPrecise.code = "amount_too_precise";
/** `audience_missing`: The grant needs an audience. */
export class AudienceMissing extends Denied {}
AudienceMissing.code = "audience_missing";
/** `audience_not_allowed`: The audience is not allowed. */
export class AudienceNotAllowed extends Denied {}
AudienceNotAllowed.code = "audience_not_allowed";
/** `resource_missing`: The grant needs a resource. */
export class ResourceMissing extends Denied {}
ResourceMissing.code = "resource_missing";
/** `resource_not_allowed`: The resource is not allowed. */
export class ResourceNotAllowed extends Denied {}
ResourceNotAllowed.code = "resource_not_allowed";
/** `grant_not_yet_valid`: The grant is not valid yet. */
export class GrantNotYetValid extends Denied {}
GrantNotYetValid.code = "grant_not_yet_valid";
/** `grant_expired`: The grant has expired. */
export class GrantExpired extends Denied {}
GrantExpired.code = "grant_expired";
/** `unknown_constraint`: The grant has a constraint kya does not know (fail closed). */
export class UnknownConstraint extends Denied {}
UnknownConstraint.code = "unknown_constraint";
/** `budget_exhausted`: The budget of the period is spent. */
export class BudgetExhausted extends Denied {}
BudgetExhausted.code = "budget_exhausted";
/** `rate_limited`: The rate of the period is reached. */
export class RateLimited extends Denied {}
RateLimited.code = "rate_limited";
/** `ledger_full`: The ledger cannot record another counter. */
export class LedgerFull extends Denied {}
LedgerFull.code = "ledger_full";
/** `unknown_obligation`: An obligation the ledger does not know. */
export class UnknownObligation extends Denied {}
UnknownObligation.code = "unknown_obligation";
/** `ledger_required`: The request carries budget or rate obligations and no ledger enforces them. */
export class LedgerRequired extends Denied {}
LedgerRequired.code = "ledger_required";
/** `signature_missing`: The request is not signed. */
export class SignatureMissing extends RequestRefused {}
SignatureMissing.code = "signature_missing";
/** `signature_malformed`: The signature headers are unreadable. */
export class SignatureMalformed extends RequestRefused {}
SignatureMalformed.code = "signature_malformed";
/** `signature_component_not_covered`: A required component is not covered. */
export class SignatureComponentNotCovered extends RequestRefused {}
SignatureComponentNotCovered.code = "signature_component_not_covered";
/** `signature_component_missing`: A covered component is absent. */
export class SignatureComponentMissing extends RequestRefused {}
SignatureComponentMissing.code = "signature_component_missing";
/** `signature_algorithm_unsupported`: Not ed25519. */
export class SignatureAlgorithmUnsupported extends RequestRefused {}
SignatureAlgorithmUnsupported.code = "signature_algorithm_unsupported";
/** `signature_parameter_invalid`: A signature parameter is missing or invalid. */
export class SignatureParameterInvalid extends RequestRefused {}
SignatureParameterInvalid.code = "signature_parameter_invalid";
/** `signature_window_too_long`: The signature window is too long. */
export class SignatureWindowTooLong extends RequestRefused {}
SignatureWindowTooLong.code = "signature_window_too_long";
/** `signature_created_in_future`: The signature was created in the future. */
export class SignatureCreatedInFuture extends RequestRefused {}
SignatureCreatedInFuture.code = "signature_created_in_future";
/** `signature_expired`: The signature has expired. */
export class SignatureExpired extends RequestRefused {}
SignatureExpired.code = "signature_expired";
/** `content_digest_malformed`: `Content-Digest` is unreadable. */
export class ContentDigestMalformed extends RequestRefused {}
ContentDigestMalformed.code = "content_digest_malformed";
/** `content_digest_mismatch`: The body does not match `Content-Digest`. */
export class ContentDigestMismatch extends RequestRefused {}
ContentDigestMismatch.code = "content_digest_mismatch";
/** `chain_missing`: No chain sent or named. */
export class ChainMissing extends RequestRefused {}
ChainMissing.code = "chain_missing";
/** `chain_malformed`: The chain header is unreadable. */
export class ChainMalformed extends RequestRefused {}
ChainMalformed.code = "chain_malformed";
/** `chain_too_large`: The chain is too large. */
export class ChainTooLarge extends RequestRefused {}
ChainTooLarge.code = "chain_too_large";
/** `chain_unknown_digest`: The chain digest names no stored chain. */
export class ChainUnknownDigest extends RequestRefused {}
ChainUnknownDigest.code = "chain_unknown_digest";
/** `chain_quota_exceeded`: The agent's share of the chain store is full. */
export class ChainQuotaExceeded extends RequestRefused {}
ChainQuotaExceeded.code = "chain_quota_exceeded";
/** `signature_keyid_mismatch`: `keyid` is not the agent's key. */
export class SignatureKeyidMismatch extends RequestRefused {}
SignatureKeyidMismatch.code = "signature_keyid_mismatch";
/** `signature_invalid`: The request signature does not verify. */
export class SignatureInvalid extends RequestRefused {}
SignatureInvalid.code = "signature_invalid";
/** `authority_mismatch`: The signed `@authority` is not this merchant. */
export class AuthorityMismatch extends RequestRefused {}
AuthorityMismatch.code = "authority_mismatch";
/** `path_not_normalized`: The path has dot segments or encoded separators. */
export class PathNotNormalized extends RequestRefused {}
PathNotNormalized.code = "path_not_normalized";
/** `route_not_mapped`: No route maps the path to an action. */
export class RouteNotMapped extends RequestRefused {}
RouteNotMapped.code = "route_not_mapped";
/** `header_duplicate`: A header is repeated. */
export class HeaderDuplicate extends RequestRefused {}
HeaderDuplicate.code = "header_duplicate";
/** `header_invalid`: A `kya-*` header is unreadable. */
export class HeaderInvalid extends RequestRefused {}
HeaderInvalid.code = "header_invalid";
/** `body_too_large`: The body is too large. */
export class BodyTooLarge extends RequestRefused {}
BodyTooLarge.code = "body_too_large";
/** `bad_request`: Some other unusable request. */
export class BadRequest extends RequestRefused {}
BadRequest.code = "bad_request";

/** Every code's class, by its wire form. */
export const BY_CODE = Object.freeze(Object.fromEntries([
  InputTooLarge,
  Malformed,
  EmptyChain,
  ChainTooDeep,
  TooManyGrants,
  NotAChainRoot,
  NotADelegation,
  DuplicateLink,
  IssuerNotParentSubject,
  ParentDigestMismatch,
  BadSignature,
  ValidityOutsideParent,
  GrantWidened,
  UntrustedRoot,
  CredentialExpired,
  CredentialNotYetValid,
  ProofExpired,
  CreatedInFuture,
  PrincipalKeyNotBound,
  AgentNotRegistered,
  AgentInactive,
  KeyNotBound,
  Revoked,
  RevokedByIssuer,
  RegistryRecordOverBounds,
  RegistryStale,
  StatusRevoked,
  StatusSuspended,
  StatusListMissing,
  StatusListMismatch,
  StatusListStale,
  AgentCardMissing,
  AgentCardMismatch,
  AttestationRefused,
  ReputationInsufficient,
  ValidationInsufficient,
  NonceReplayed,
  NonceQuotaExceeded,
  WindowTooLong,
  AudienceMismatch,
  ChallengeMismatch,
  PresentationExpired,
  HolderMismatch,
  ChainNotCached,
  StoreUnavailable,
  ActionNotCovered,
  AmountMissing,
  AssetMismatch,
  AmountExceedsCeiling,
  AmountExceedsBudget,
  AmountTooPrecise,
  AudienceMissing,
  AudienceNotAllowed,
  ResourceMissing,
  ResourceNotAllowed,
  GrantNotYetValid,
  GrantExpired,
  UnknownConstraint,
  BudgetExhausted,
  RateLimited,
  LedgerFull,
  UnknownObligation,
  LedgerRequired,
  SignatureMissing,
  SignatureMalformed,
  SignatureComponentNotCovered,
  SignatureComponentMissing,
  SignatureAlgorithmUnsupported,
  SignatureParameterInvalid,
  SignatureWindowTooLong,
  SignatureCreatedInFuture,
  SignatureExpired,
  ContentDigestMalformed,
  ContentDigestMismatch,
  ChainMissing,
  ChainMalformed,
  ChainTooLarge,
  ChainUnknownDigest,
  ChainQuotaExceeded,
  SignatureKeyidMismatch,
  SignatureInvalid,
  AuthorityMismatch,
  PathNotNormalized,
  RouteNotMapped,
  HeaderDuplicate,
  HeaderInvalid,
  BodyTooLarge,
  BadRequest,
].map((c) => [c.code, c])));

/** Every stable code, in kya's order. */
export const CODES = Object.freeze(Object.keys(BY_CODE));

/** The error the WebAssembly module throws (it calls this; not for users). */
export function fromNative(family, code, message, link, status) {
  const coded = code ? BY_CODE[code] : undefined;
  const cls = coded ?? FAMILIES[family] ?? KyaError;
  return new cls(message, { code: code ?? null, link: link ?? null, status: status ?? null, family });
}
