"""kya — Know Your Agent, for Python.

DID-bound W3C VC 2.0 credentials for AI agents, signed HTTP requests and an offline
verifier, over the same Rust core as the ``kya`` command line: a credential, a signed
request or a decision is byte for byte the same in every language.

The agent's side::

    key = kya.SecretKey.load("agent.key")
    chain = kya.Chain.from_json(open("chain.json").read())
    client = httpx.Client(auth=kya.HttpxAuth(key, chain))

The merchant's side::

    verifier = kya.Verifier(kya.Policy.load("policy.json"))
    gate = kya.Gate(verifier, routes=[("POST", "/pay", "payments/send")])
    app.add_middleware(kya.asgi.KyaMiddleware, gate=gate)

See the package README for complete examples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

from . import errors
from ._kya import (
    Chain,
    Credential,
    Decision,
    Did,
    Gate,
    GateOutcome,
    Grant,
    Policy,
    PublicKey,
    Reason,
    RequestSigner,
    SecretKey,
    SignedRequest,
    Snapshot,
    VerifiedAgent,
    Verifier,
    codes,
    delegate,
    grants_attenuate,
    issue_authorization,
)
from .errors import KyaError

if TYPE_CHECKING:
    from .httpx_auth import HttpxAuth
    from .requests_auth import RequestsAuth

__all__ = [
    "Chain",
    "Credential",
    "Decision",
    "Did",
    "Gate",
    "GateOutcome",
    "Grant",
    "HttpxAuth",
    "KyaError",
    "Policy",
    "PublicKey",
    "Reason",
    "RequestSigner",
    "RequestsAuth",
    "SecretKey",
    "SignedRequest",
    "Signer",
    "Snapshot",
    "VerifiedAgent",
    "Verifier",
    "codes",
    "delegate",
    "errors",
    "grants_attenuate",
    "issue_authorization",
]

__version__ = "0.1.0"


@runtime_checkable
class Signer(Protocol):
    """An Ed25519 key kya does not hold (a KMS, an HSM, an MPC wallet).

    Any object with these two members is accepted wherever kya takes a key
    (:func:`issue_authorization`, :func:`delegate`, :meth:`Chain.present`,
    :class:`RequestSigner`, :class:`HttpxAuth`, :class:`RequestsAuth`). ``public_key`` is 32
    raw bytes, a ``z6Mk…`` multibase string or a :class:`PublicKey` (or a method returning
    one); ``sign`` returns the 64-byte Ed25519 signature of ``message``. kya checks every
    signature against ``public_key`` before using it.
    """

    @property
    def public_key(self) -> Union[bytes, str, PublicKey]: ...

    def sign(self, message: bytes) -> bytes: ...


def __getattr__(name: str) -> Any:
    # The HTTP client adapters import their client library only when asked for.
    if name == "HttpxAuth":
        from .httpx_auth import HttpxAuth

        return HttpxAuth
    if name == "RequestsAuth":
        from .requests_auth import RequestsAuth

        return RequestsAuth
    raise AttributeError(f"module 'kya' has no attribute {name!r}")
