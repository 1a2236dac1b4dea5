"""``httpx`` authentication: every request an agent sends is signed with its key and chain."""

from __future__ import annotations

from typing import Any, Generator, Optional, Union

import httpx

from ._kya import Chain
from ._signing import AgentSigner


class HttpxAuth(httpx.Auth):
    """Signs httpx requests (RFC 9421, Web Bot Auth profile) for a kya agent.

    ``signer`` is a :class:`kya.SecretKey` or any :class:`kya.Signer`; ``chain`` the
    agent's credential chain (a :class:`kya.Chain` or its JSON). Set ``KYA-Amount`` (e.g.
    ``"12.50 USD"``) or ``KYA-Action`` on a request to declare them; they are signed::

        client = httpx.Client(auth=kya.HttpxAuth(key, chain))
        client.post(url, json=order, headers={"KYA-Amount": "12.50 USD"})

    The signature base is built by kya's Rust signer from the request as httpx sends it
    (method, ``Host``, raw path and query, body).
    """

    requires_request_body = True

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

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        host = request.headers.get("host") or request.url.netloc.decode("ascii")
        url = f"{request.url.scheme}://{host}{request.url.raw_path.decode('ascii')}"
        signed = self._agent.sign(
            request.method, url, request.content, request.headers.multi_items()
        )
        if self._transport == "body":
            request.stream = httpx.ByteStream(signed.body)
            request._content = signed.body  # what request.content reads
            request.headers["Content-Length"] = str(len(signed.body))
        for name, value in signed.headers:
            request.headers[name] = value
        yield request
