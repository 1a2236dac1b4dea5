"""kya's exceptions: one class per stable code, mirroring ``kya_verify::Code``.

Every refusal, denial and outage in kya has one stable ``snake_case`` code shared by the Rust
library, the HTTP problem responses and the command line. Each code is a class here (named
like the Rust variant: ``bad_signature`` is :class:`BadSignature`), grouped by what failed:

- :class:`ChainRefused`: the chain, presentation or request as a whole (HTTP 401);
- :class:`Denied`: the agent verified but its grants do not allow the request (HTTP 403);
- :class:`RequestRefused`: the signed HTTP request itself (401, 400, 413, ...);
- :class:`Unavailable`: a store could not answer (HTTP 503): retry, never a verdict.

Catch a family, a code, or :class:`KyaError` for everything::

    try:
        verifier.verify_chain(chain)
    except kya.errors.Revoked:
        ...
    except kya.errors.VerificationError as e:
        print(e.code, e.link, e.status)

Errors that are not verdicts (a key file that cannot be read, a grant that cannot be
built) have no code of their own unless the verifier would give the same fault one (a
delegation that widens its parent raises a class that is both :class:`CredentialError` and
:class:`GrantWidened`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Type


class KyaError(Exception):
    """Every error kya raises."""

    #: kya's stable code (``snake_case``), when the error has one.
    code: Optional[str] = None

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        link: Optional[int] = None,
        status: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        #: The chain link (0 = root) the error concerns, when it concerns one.
        self.link = link
        #: The HTTP status a merchant answers with, for a request refusal.
        self.status = status
        #: Every reason of a gate refusal (``kya.Reason``), when raised by ``Gate.admit``.
        self.reasons: List[Any] = []
        #: The RFC 9457 problem JSON of a gate refusal, when raised by ``Gate.admit``.
        self.problem: Optional[Dict[str, Any]] = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, link={self.link!r})"


class KeyFormatError(KyaError, ValueError):
    """A key, key file or DID that cannot be read."""


class SignerError(KyaError):
    """An external signer failed (its own exception is raised as it was, when it raised)."""


class GrantError(KyaError, ValueError):
    """A grant, action, amount or asset that cannot be read."""


class CredentialError(KyaError):
    """A credential that cannot be built, signed, read or chained."""


class ConfigError(KyaError, ValueError):
    """A policy or snapshot that cannot be read."""


class InputError(KyaError, ValueError):
    """A value of the wrong form (a time, a header, JSON)."""


class VerificationError(KyaError):
    """A verdict with one of kya's stable codes."""


class ChainRefused(VerificationError):
    """The chain, presentation or request as a whole is not proof of an agent's authority."""


class Denied(VerificationError):
    """The agent verified, but may not do this."""


class RequestRefused(VerificationError):
    """The signed HTTP request is not acceptable."""


class Unavailable(VerificationError):
    """A nonce store or ledger could not answer: an outage, never a verdict on the agent."""


class InputTooLarge(ChainRefused):
    """`input_too_large`: The input exceeds the byte limit."""

    code = "input_too_large"


class Malformed(ChainRefused):
    """`malformed`: Not JSON, VC 2.0, a kya kind, or a well-formed proof."""

    code = "malformed"


class EmptyChain(ChainRefused):
    """`empty_chain`: No links."""

    code = "empty_chain"


class ChainTooDeep(ChainRefused):
    """`chain_too_deep`: More links than the policy allows."""

    code = "chain_too_deep"


class TooManyGrants(ChainRefused):
    """`too_many_grants`: More grants than the policy allows."""

    code = "too_many_grants"


class NotAChainRoot(ChainRefused):
    """`not_a_chain_root`: The first link is not an authorisation."""

    code = "not_a_chain_root"


class NotADelegation(ChainRefused):
    """`not_a_delegation`: A later link is not a delegation."""

    code = "not_a_delegation"


class DuplicateLink(ChainRefused):
    """`duplicate_link`: A link repeats."""

    code = "duplicate_link"


class IssuerNotParentSubject(ChainRefused):
    """`issuer_not_parent_subject`: A link's issuer is not its parent's subject."""

    code = "issuer_not_parent_subject"


class ParentDigestMismatch(ChainRefused):
    """`parent_digest_mismatch`: A link names another parent."""

    code = "parent_digest_mismatch"


class BadSignature(ChainRefused):
    """`bad_signature`: A signature does not verify."""

    code = "bad_signature"


class ValidityOutsideParent(ChainRefused):
    """`validity_outside_parent`: A link's window is not inside its parent's."""

    code = "validity_outside_parent"


class GrantWidened(ChainRefused):
    """`grant_widened`: A link widens its parent's grants."""

    code = "grant_widened"


class UntrustedRoot(ChainRefused):
    """`untrusted_root`: The root issuer is not trusted."""

    code = "untrusted_root"


class CredentialExpired(ChainRefused):
    """`credential_expired`: A link has expired."""

    code = "credential_expired"


class CredentialNotYetValid(ChainRefused):
    """`credential_not_yet_valid`: A link is not valid yet."""

    code = "credential_not_yet_valid"


class ProofExpired(ChainRefused):
    """`proof_expired`: A proof's own `expires` has passed."""

    code = "proof_expired"


class CreatedInFuture(ChainRefused):
    """`created_in_future`: A proof was created in the future."""

    code = "created_in_future"


class PrincipalKeyNotBound(ChainRefused):
    """`principal_key_not_bound`: A wallet principal's signing key is not bound to it now."""

    code = "principal_key_not_bound"


class AgentNotRegistered(ChainRefused):
    """`agent_not_registered`: A named agent is not registered."""

    code = "agent_not_registered"


class AgentInactive(ChainRefused):
    """`agent_inactive`: A named agent is not active."""

    code = "agent_inactive"


class KeyNotBound(ChainRefused):
    """`key_not_bound`: A subject key is not bound to its agent now."""

    code = "key_not_bound"


class Revoked(ChainRefused):
    """`revoked`: A link was revoked."""

    code = "revoked"


class RevokedByIssuer(ChainRefused):
    """`revoked_by_issuer`: The root was revoked by its issuer (a wallet principal)."""

    code = "revoked_by_issuer"


class RegistryRecordOverBounds(ChainRefused):
    """`registry_record_over_bounds`: A registry record the chain depends on exceeded the registry's bounds."""

    code = "registry_record_over_bounds"


class RegistryStale(ChainRefused):
    """`registry_stale`: The registry view is older than the policy allows."""

    code = "registry_stale"


class StatusRevoked(ChainRefused):
    """`status_revoked`: A status list holds the credential's bit: revoked by its issuer."""

    code = "status_revoked"


class StatusSuspended(ChainRefused):
    """`status_suspended`: A status list holds the credential's bit: suspended by its issuer."""

    code = "status_suspended"


class StatusListMissing(ChainRefused):
    """`status_list_missing`: The credential names a status list the verifier does not hold."""

    code = "status_list_missing"


class StatusListMismatch(ChainRefused):
    """`status_list_mismatch`: The status list cannot speak for the credential (another issuer or key, another purpose, an index outside it)."""

    code = "status_list_mismatch"


class StatusListStale(ChainRefused):
    """`status_list_stale`: The status list is past its `validUntil`, or older than the policy allows."""

    code = "status_list_stale"


class AgentCardMissing(ChainRefused):
    """`agent_card_missing`: The policy asks for agent cards and a registered agent has none the verifier holds."""

    code = "agent_card_missing"


class AgentCardMismatch(ChainRefused):
    """`agent_card_mismatch`: The agent's card does not name its registration, or is inactive."""

    code = "agent_card_mismatch"


class AttestationRefused(ChainRefused):
    """`attestation_refused`: A reputation attestation was refused (signature, subject, attester, validity, status)."""

    code = "attestation_refused"


class ReputationInsufficient(ChainRefused):
    """`reputation_insufficient`: The agent's combined reputation is below the policy's `minReputation`."""

    code = "reputation_insufficient"


class ValidationInsufficient(ChainRefused):
    """`validation_insufficient`: The leaf's registered agent has fewer passing validations by trusted validators than the policy's `minValidation` (or none can be read: fail closed)."""

    code = "validation_insufficient"


class NonceReplayed(ChainRefused):
    """`nonce_replayed`: The nonce was seen before."""

    code = "nonce_replayed"


class NonceQuotaExceeded(ChainRefused):
    """`nonce_quota_exceeded`: The agent's share of the nonce store is full."""

    code = "nonce_quota_exceeded"


class WindowTooLong(ChainRefused):
    """`window_too_long`: A presentation window is too long."""

    code = "window_too_long"


class AudienceMismatch(ChainRefused):
    """`audience_mismatch`: A presentation is for another audience."""

    code = "audience_mismatch"


class ChallengeMismatch(ChainRefused):
    """`challenge_mismatch`: A presentation's challenge is not the expected one."""

    code = "challenge_mismatch"


class PresentationExpired(ChainRefused):
    """`presentation_expired`: A presentation has expired."""

    code = "presentation_expired"


class HolderMismatch(ChainRefused):
    """`holder_mismatch`: The signer is not the chain's agent."""

    code = "holder_mismatch"


class ChainNotCached(ChainRefused):
    """`chain_not_cached`: A chain named by digest is not cached."""

    code = "chain_not_cached"


class StoreUnavailable(Unavailable):
    """`store_unavailable`: A nonce store or ledger could not answer."""

    code = "store_unavailable"


class ActionNotCovered(Denied):
    """`action_not_covered`: No grant covers the action."""

    code = "action_not_covered"


class AmountMissing(Denied):
    """`amount_missing`: The grant needs an amount."""

    code = "amount_missing"


class AssetMismatch(Denied):
    """`asset_mismatch`: The asset differs."""

    code = "asset_mismatch"


class AmountExceedsCeiling(Denied):
    """`amount_exceeds_ceiling`: Over the per-request ceiling."""

    code = "amount_exceeds_ceiling"


class AmountExceedsBudget(Denied):
    """`amount_exceeds_budget`: Over the whole budget."""

    code = "amount_exceeds_budget"


class AmountTooPrecise(Denied):
    """`amount_too_precise`: More decimals than the budget counts."""

    code = "amount_too_precise"


class AudienceMissing(Denied):
    """`audience_missing`: The grant needs an audience."""

    code = "audience_missing"


class AudienceNotAllowed(Denied):
    """`audience_not_allowed`: The audience is not allowed."""

    code = "audience_not_allowed"


class ResourceMissing(Denied):
    """`resource_missing`: The grant needs a resource."""

    code = "resource_missing"


class ResourceNotAllowed(Denied):
    """`resource_not_allowed`: The resource is not allowed."""

    code = "resource_not_allowed"


class GrantNotYetValid(Denied):
    """`grant_not_yet_valid`: The grant is not valid yet."""

    code = "grant_not_yet_valid"


class GrantExpired(Denied):
    """`grant_expired`: The grant has expired."""

    code = "grant_expired"


class UnknownConstraint(Denied):
    """`unknown_constraint`: The grant has a constraint kya does not know (fail closed)."""

    code = "unknown_constraint"


class BudgetExhausted(Denied):
    """`budget_exhausted`: The budget of the period is spent."""

    code = "budget_exhausted"


class RateLimited(Denied):
    """`rate_limited`: The rate of the period is reached."""

    code = "rate_limited"


class LedgerFull(Denied):
    """`ledger_full`: The ledger cannot record another counter."""

    code = "ledger_full"


class UnknownObligation(Denied):
    """`unknown_obligation`: An obligation the ledger does not know."""

    code = "unknown_obligation"


class LedgerRequired(Denied):
    """`ledger_required`: The request carries budget or rate obligations and no ledger enforces them."""

    code = "ledger_required"


class SignatureMissing(RequestRefused):
    """`signature_missing`: The request is not signed."""

    code = "signature_missing"


class SignatureMalformed(RequestRefused):
    """`signature_malformed`: The signature headers are unreadable."""

    code = "signature_malformed"


class SignatureComponentNotCovered(RequestRefused):
    """`signature_component_not_covered`: A required component is not covered."""

    code = "signature_component_not_covered"


class SignatureComponentMissing(RequestRefused):
    """`signature_component_missing`: A covered component is absent."""

    code = "signature_component_missing"


class SignatureAlgorithmUnsupported(RequestRefused):
    """`signature_algorithm_unsupported`: Not ed25519."""

    code = "signature_algorithm_unsupported"


class SignatureParameterInvalid(RequestRefused):
    """`signature_parameter_invalid`: A signature parameter is missing or invalid."""

    code = "signature_parameter_invalid"


class SignatureWindowTooLong(RequestRefused):
    """`signature_window_too_long`: The signature window is too long."""

    code = "signature_window_too_long"


class SignatureCreatedInFuture(RequestRefused):
    """`signature_created_in_future`: The signature was created in the future."""

    code = "signature_created_in_future"


class SignatureExpired(RequestRefused):
    """`signature_expired`: The signature has expired."""

    code = "signature_expired"


class ContentDigestMalformed(RequestRefused):
    """`content_digest_malformed`: `Content-Digest` is unreadable."""

    code = "content_digest_malformed"


class ContentDigestMismatch(RequestRefused):
    """`content_digest_mismatch`: The body does not match `Content-Digest`."""

    code = "content_digest_mismatch"


class ChainMissing(RequestRefused):
    """`chain_missing`: No chain sent or named."""

    code = "chain_missing"


class ChainMalformed(RequestRefused):
    """`chain_malformed`: The chain header is unreadable."""

    code = "chain_malformed"


class ChainTooLarge(RequestRefused):
    """`chain_too_large`: The chain is too large."""

    code = "chain_too_large"


class ChainUnknownDigest(RequestRefused):
    """`chain_unknown_digest`: The chain digest names no stored chain."""

    code = "chain_unknown_digest"


class ChainQuotaExceeded(RequestRefused):
    """`chain_quota_exceeded`: The agent's share of the chain store is full."""

    code = "chain_quota_exceeded"


class SignatureKeyidMismatch(RequestRefused):
    """`signature_keyid_mismatch`: `keyid` is not the agent's key."""

    code = "signature_keyid_mismatch"


class SignatureInvalid(RequestRefused):
    """`signature_invalid`: The request signature does not verify."""

    code = "signature_invalid"


class AuthorityMismatch(RequestRefused):
    """`authority_mismatch`: The signed `@authority` is not this merchant."""

    code = "authority_mismatch"


class PathNotNormalized(RequestRefused):
    """`path_not_normalized`: The path has dot segments or encoded separators."""

    code = "path_not_normalized"


class RouteNotMapped(RequestRefused):
    """`route_not_mapped`: No route maps the path to an action."""

    code = "route_not_mapped"


class HeaderDuplicate(RequestRefused):
    """`header_duplicate`: A header is repeated."""

    code = "header_duplicate"


class HeaderInvalid(RequestRefused):
    """`header_invalid`: A `kya-*` header is unreadable."""

    code = "header_invalid"


class BodyTooLarge(RequestRefused):
    """`body_too_large`: The body is too large."""

    code = "body_too_large"


class BadRequest(RequestRefused):
    """`bad_request`: Some other unusable request."""

    code = "bad_request"


def _by_code() -> Dict[str, Type[VerificationError]]:
    table: Dict[str, Type[VerificationError]] = {}
    for value in list(globals().values()):
        if (
            isinstance(value, type)
            and issubclass(value, VerificationError)
            and "code" in value.__dict__
        ):
            table[value.code] = value  # type: ignore[assignment]
    return table


#: Every code's class, by its wire form.
BY_CODE: Dict[str, Type[VerificationError]] = _by_code()

_FAMILIES: Dict[str, Type[KyaError]] = {
    "KeyFormatError": KeyFormatError,
    "SignerError": SignerError,
    "GrantError": GrantError,
    "CredentialError": CredentialError,
    "ConfigError": ConfigError,
    "InputError": InputError,
    "VerificationError": VerificationError,
}

_COMBINED: Dict[Tuple[str, str], Type[KyaError]] = {}


def error_class(code: Optional[str], family: str = "VerificationError") -> Type[KyaError]:
    """The class raised for ``code`` in ``family`` (a class that is both when they differ)."""
    base = _FAMILIES.get(family, KyaError)
    coded = BY_CODE.get(code) if code else None
    if coded is None:
        return base
    if issubclass(coded, base):
        return coded
    key = (family, code or "")
    if key not in _COMBINED:
        _COMBINED[key] = type(coded.__name__ + family, (coded, base), {})
    return _COMBINED[key]


def _from_native(
    message: str,
    *,
    family: str,
    code: Optional[str],
    link: Optional[int],
    status: Optional[int],
) -> KyaError:
    """Builds the exception the native module raises (called from Rust)."""
    return error_class(code, family)(message, code=code, link=link, status=status)
