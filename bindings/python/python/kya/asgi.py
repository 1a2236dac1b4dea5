"""An ASGI middleware that admits only signed agent requests the verifier allows.

For each guarded request it buffers the body (up to ``max_body_bytes``, to check
``Content-Digest``), runs the :class:`kya.Gate` (signature, chain, key binding, nonce,
decision), and then either passes the request on, with the :class:`kya.GateOutcome` in
``scope["kya"]`` (and ``request.state.kya`` in Starlette/FastAPI) and the body replayed, or
answers itself exactly as kya's Rust middleware does: 401 / 403 / 400 / 413 / 429 / 503 with
an RFC 9457 ``application/problem+json`` body naming every reason (``reasons[].code``),
``WWW-Authenticate: Signature tag="web-bot-auth"`` on a 401 and ``Retry-After: 1`` on a 503.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict, Iterable, List, MutableMapping, Optional, Tuple

from ._kya import Gate, GateOutcome

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The body limit of the Rust middleware (``DEFAULT_MAX_BODY_BYTES``).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def request_target(scope: Scope) -> str:
    """The request target as sent: the raw path and the query."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope.get("path", "/")
    query = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def problem_headers(status: int) -> List[Tuple[bytes, bytes]]:
    """The headers kya's middleware sends with a refusal of ``status``."""
    headers = [(b"content-type", b"application/problem+json")]
    if status == 401:
        headers.append((b"www-authenticate", b'Signature tag="web-bot-auth"'))
    if status == 503:
        headers.append((b"retry-after", b"1"))
    return headers


def body_too_large(max_bytes: int) -> Tuple[int, Dict[str, Any]]:
    """The 413 problem for a body over ``max_bytes`` (the Rust middleware's words)."""
    message = f"the body exceeds {max_bytes} bytes"
    return 413, {
        "type": "https://w3id.org/kya/problems/body-too-large",
        "title": "The request body is too large",
        "status": 413,
        "detail": message,
        "reasons": [{"code": "body_too_large", "link": None, "message": message}],
    }


async def send_problem(send: Send, status: int, problem: Dict[str, Any]) -> None:
    """Answers with a problem-details body."""
    body = json.dumps(problem, separators=(",", ":")).encode()
    headers = problem_headers(status) + [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive, max_bytes: int) -> Optional[bytes]:
    """The whole body, or ``None`` when it exceeds ``max_bytes``."""
    chunks: List[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body once, then defers to the server."""
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped


class KyaMiddleware:
    """Guards an ASGI app (or the paths under ``paths``) with a :class:`kya.Gate`.

    ::

        app = FastAPI()
        app.add_middleware(KyaMiddleware, gate=gate, paths=["/pay"])
    """

    def __init__(
        self,
        app: ASGIApp,
        gate: Gate,
        *,
        paths: Optional[Iterable[str]] = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.gate = gate
        self.paths = None if paths is None else tuple(paths)
        self.max_body_bytes = max_body_bytes

    def guards(self, path: str) -> bool:
        """Whether ``path`` is guarded (whole segments of a prefix)."""
        if self.paths is None:
            return True
        return any(
            path == p or path.startswith(p.rstrip("/") + "/") for p in self.paths
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.guards(scope.get("path", "/")):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive, self.max_body_bytes)
        if body is None:
            await send_problem(send, *body_too_large(self.max_body_bytes))
            return
        outcome = self.gate.check(
            scope["method"], request_target(scope), list(scope.get("headers", [])), body
        )
        if not outcome.admitted:
            await send_problem(send, outcome.status, outcome.problem_dict() or {})
            return
        scope["kya"] = outcome
        scope.setdefault("state", {})["kya"] = outcome
        await self.app(scope, replay(body, receive), send)


def admitted(scope: Scope) -> Optional[GateOutcome]:
    """The outcome the middleware admitted this request with, if it did."""
    outcome = scope.get("kya")
    return outcome if isinstance(outcome, GateOutcome) else None
