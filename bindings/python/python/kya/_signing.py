"""What the two HTTP client adapters share: the URL as sent and the Rust signer."""

from __future__ import annotations

from typing import Any, Iterable, List, Optional, Tuple, Union

from ._kya import Chain, RequestSigner, SignedRequest

#: Request headers that, when the caller sets them, name what this one request asks for.
ACTION_HEADER = "kya-action"
AMOUNT_HEADER = "kya-amount"


class AgentSigner:
    """Signs each request with the agent's key and chain (see :class:`kya.RequestSigner`)."""

    def __init__(
        self,
        signer: Any,
        chain: Union[Chain, str, bytes, list],
        *,
        action: Optional[str] = None,
        transport: str = "auto",
        expires_in: int = 60,
        signature_agent: Optional[str] = None,
    ) -> None:
        self._signer = RequestSigner(
            signer,
            chain,
            transport=transport,
            signature_agent=signature_agent,
            action=action,
        )
        self._expires_in = expires_in

    def sign(
        self,
        method: str,
        url: str,
        body: bytes,
        headers: Iterable[Tuple[str, str]],
    ) -> SignedRequest:
        """Signs a request; ``KYA-Action`` / ``KYA-Amount`` already set on it are declared."""
        action = amount = None
        for name, value in headers:
            lowered = name.lower()
            if lowered == ACTION_HEADER:
                action = value
            elif lowered == AMOUNT_HEADER:
                amount = value
        return self._signer.sign(
            method,
            url,
            body=body,
            action=action,
            amount=amount,
            expires_in=self._expires_in,
        )


def header_pairs(signed: SignedRequest) -> List[Tuple[str, str]]:
    """The headers to set, in order."""
    return list(signed.headers)
