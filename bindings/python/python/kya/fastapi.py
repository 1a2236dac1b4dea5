"""FastAPI integration: a dependency that admits the request (or reads what
:class:`kya.asgi.KyaMiddleware` admitted) and an exception handler that answers refusals
with kya's problem JSON and status codes::

    app = FastAPI()
    kya.fastapi.install(app)
    Agent = Annotated[kya.GateOutcome, Depends(kya.fastapi.agent(gate))]

    @app.post("/pay")
    def pay(agent: Agent): ...
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ._kya import Gate, GateOutcome
from .asgi import DEFAULT_MAX_BODY_BYTES, body_too_large, problem_headers, request_target
from .errors import BodyTooLarge, VerificationError


def agent(
    gate: Gate, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> Callable[[Request], Awaitable[GateOutcome]]:
    """A dependency giving the admitted :class:`kya.GateOutcome`; a refused request raises
    the :mod:`kya.errors` class of its code, answered by the handler :func:`install` adds.

    It judges the HTTP route it is declared on, on the request target as sent (``raw_path``
    and query, any ``root_path`` or mount prefix included: what the agent signed). To guard
    WebSocket routes, use :class:`kya.asgi.KyaMiddleware`."""

    async def dependency(request: Request) -> GateOutcome:
        existing = request.scope.get("kya")
        if isinstance(existing, GateOutcome):
            return existing
        body = await request.body()
        if len(body) > max_body_bytes:
            status, problem = body_too_large(max_bytes=max_body_bytes)
            error = BodyTooLarge(problem["detail"], status=status)
            error.problem = problem
            raise error
        outcome = gate.admit(
            request.method,
            request_target(request.scope),
            list(request.scope.get("headers", [])),
            body,
        )
        request.scope["kya"] = outcome
        return outcome

    return dependency


async def problem_response(request: Request, exc: Exception) -> JSONResponse:
    """Answers a kya refusal as the Rust middleware does."""
    status = getattr(exc, "status", None) or 401
    problem: Any = getattr(exc, "problem", None) or {
        "type": "https://w3id.org/kya/problems/agent-not-verified",
        "title": "The request is not verifiable proof of an agent's authority",
        "status": status,
        "detail": str(exc),
        "reasons": [{"code": getattr(exc, "code", None), "link": getattr(exc, "link", None),
                     "message": str(exc)}],
    }
    headers = {k.decode(): v.decode() for k, v in problem_headers(status) if k != b"content-type"}
    return JSONResponse(problem, status_code=status, headers=headers,
                        media_type="application/problem+json")


def install(app: FastAPI) -> None:
    """Answers every :class:`kya.errors.VerificationError` a route raises with kya's problem
    JSON, status and headers."""
    app.add_exception_handler(VerificationError, problem_response)
