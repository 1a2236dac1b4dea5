"""``requests`` authentication: every request an agent sends is signed with its key and chain."""

from __future__ import annotations

from typing import Any, Optional, Union

import requests

from ._kya import Chain
from ._signing import AgentSigner
from .errors import InputError


class RequestsAuth(requests.auth.AuthBase):
    """Signs ``requests`` requests (RFC 9421, Web Bot Auth profile) for a kya agent.

    Same arguments as :class:`kya.HttpxAuth`::

        session.auth = kya.RequestsAuth(key, chain)
        session.post(url, json=order, headers={"KYA-Amount": "12.50 USD"})

    A streamed body (a file or generator) cannot be signed: pass bytes.
    """

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
        self._agent = AgentSigner(
            signer,
            chain,
            action=action,
            transport=transport,
            expires_in=expires_in,
            signature_agent=signature_agent,
        )
        self._transport = transport

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body
        if body is None:
            data = b""
        elif isinstance(body, str):
            data = body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        else:
            raise InputError("a streamed request body cannot be signed: pass bytes")
        if r.url is None or r.method is None:
            raise InputError("the request has no url or method")
        signed = self._agent.sign(r.method, r.url, data, r.headers.items())
        if self._transport == "body":
            r.body = signed.body
            r.headers["Content-Length"] = str(len(signed.body))
        for name, value in signed.headers:
            r.headers[name] = value
        return r
