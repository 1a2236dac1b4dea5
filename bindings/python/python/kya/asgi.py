"""An ASGI middleware that admits only signed agent requests the verifier allows.

For each guarded request it buffers the body (up to ``max_body_bytes``, to check
``Content-Digest``), runs the :class:`kya.Gate` (signature, chain, key binding, nonce,
decision), and then either passes the request on, with the :class:`kya.GateOutcome` in
``scope["kya"]`` (and ``request.state.kya`` in Starlette/FastAPI) and the body replayed, or
answers itself exactly as kya's Rust middleware does: 401 / 403 / 400 / 413 / 429 / 503 with
an RFC 9457 ``application/problem+json`` body naming every reason (``reasons[].code``),
``WWW-Authenticate: Signature tag="web-bot-auth"`` on a 401 and ``Retry-After: 1`` on a 503.

What is guarded:

* ``http`` and ``websocket`` scopes whose path lies under one of ``paths`` (all of them
  when ``paths`` is ``None``). A WebSocket handshake is judged as the Rust middleware
  judges the upgrade: a ``GET`` of its path with the handshake's headers and an empty body.
  Refused, it is closed before it is accepted: with the HTTP refusal (status, headers and
  problem JSON) where the server offers the ``websocket.http.response`` extension, else
  with close code 1008 (policy violation).
* The path matched against ``paths`` is the one the application routes on: the path below
  ``root_path`` (as Starlette computes it, so under ``uvicorn --root-path`` and inside a
  ``Mount`` the guard sees the route the handler serves); the full path is matched as well,
  so a request is guarded when either lies under a guarded prefix.
* The gate judges the request target as sent (``raw_path`` and query, ``root_path`` or
  mount prefix included): that is what the agent signed, and what the gate's ``routes``
  map to actions.
* ``lifespan`` scopes pass through untouched; any other scope type the middleware does not
  know is refused (never passed on) when its path is guarded or it has none.
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

#: The WebSocket close code of a refused handshake when no HTTP answer can be sent.
POLICY_VIOLATION = 1008


def request_target(scope: Scope) -> str:
    """The request target as sent: the raw path and the query."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope.get("path", "/")
    query = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def route_path(scope: Scope) -> str:
    """The path the application routes on: ``path`` below ``root_path`` (the path itself when
    it does not lie under ``root_path``), as Starlette's router reads it."""
    path: str = scope.get("path", "/")
    root_path: str = scope.get("root_path", "") or ""
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path):]
    return path


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


async def send_websocket_refusal(
    scope: Scope, send: Send, status: int, problem: Dict[str, Any]
) -> None:
    """Refuses a WebSocket handshake before it is accepted: with the HTTP refusal where the
    server supports the ``websocket.http.response`` extension, else with close code 1008."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = json.dumps(problem, separators=(",", ":")).encode()
        headers = problem_headers(status) + [(b"content-length", str(len(body)).encode())]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})


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
    """Guards an ASGI app (or the paths under ``paths``) with a :class:`kya.Gate`: its
    ``http`` and ``websocket`` requests, matched on the path the app routes on (below
    ``root_path``); see the module's documentation for what is guarded and how.

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

    def guards_scope(self, scope: Scope) -> bool:
        """Whether the request of ``scope`` is guarded: the path its application routes on
        (below ``root_path``, ``"/"`` for ``root_path`` itself) or its full path is under a
        guarded prefix. A scope without a path is guarded (fail closed)."""
        if self.paths is None or "path" not in scope:
            return True
        return self.guards(route_path(scope) or "/") or self.guards(scope["path"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan" or not self.guards_scope(scope):
            await self.app(scope, receive, send)
            return
        if kind == "http":
            await self.judge_http(scope, receive, send)
        elif kind == "websocket":
            await self.judge_websocket(scope, receive, send)
        # Any other scope type under a guarded path is refused: never passed on unjudged.

    async def judge_http(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        admit(scope, outcome)
        await self.app(scope, replay(body, receive), send)

    async def judge_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The handshake is judged as the Rust middleware judges an upgrade: a GET of the path
        # with the handshake's headers and an empty body.
        outcome = self.gate.check(
            "GET", request_target(scope), list(scope.get("headers", [])), b""
        )
        if not outcome.admitted:
            await send_websocket_refusal(
                scope, send, outcome.status, outcome.problem_dict() or {}
            )
            return
        admit(scope, outcome)
        await self.app(scope, receive, send)


def admit(scope: Scope, outcome: GateOutcome) -> None:
    """Records an admission in the scope (``scope["kya"]``, ``request.state.kya``)."""
    scope["kya"] = outcome
    scope.setdefault("state", {})["kya"] = outcome


def admitted(scope: Scope) -> Optional[GateOutcome]:
    """The outcome the middleware admitted this request with, if it did."""
    outcome = scope.get("kya")
    return outcome if isinstance(outcome, GateOutcome) else None
