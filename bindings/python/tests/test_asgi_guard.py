"""What kya.asgi.KyaMiddleware guards, from the attacker's side: a request the application
routes to a guarded handler is judged whatever its scope type (WebSocket handshakes too),
whatever the app's ``root_path`` (``uvicorn --root-path``) and wherever the app is mounted.
Each unsigned request is refused with the handler never running; a signed one is admitted."""

from __future__ import annotations

import asyncio
import json
import os
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List

import httpx
import pytest
from fastapi import FastAPI, Request, WebSocket
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette's test client warns that it runs on httpx (the client pinned here).
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient, WebSocketDenialResponse

import kya
import kya.asgi
from conftest import free_port, uvicorn_args


@pytest.fixture
def world(tmp_path):
    """A principal, its agent with a chain valid now, and a policy trusting the principal."""
    principal = kya.SecretKey.generate()
    agent = kya.SecretKey.generate()
    now = datetime.now(timezone.utc)
    chain = kya.Chain([
        kya.issue_authorization(
            principal,
            agent=agent.did,
            valid_from=now - timedelta(minutes=5),
            valid_until=now + timedelta(days=1),
            grants=[kya.Grant("payments/send", max_amount="25.00 USD"),
                    kya.Grant("payments/stream")],
        )
    ])
    policy = {"trustedRoots": [principal.did]}
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    return {"dir": tmp_path, "agent": agent, "chain": chain, "policy": policy}


def gate(world, authority: str, prefix: str = "") -> kya.Gate:
    """The gate maps the paths agents sign: the full request path, ``prefix`` included."""
    verifier = kya.Verifier(kya.Policy.from_json(world["policy"]))
    return kya.Gate(
        verifier,
        authority=authority,
        scheme="http",
        routes=[("POST", f"{prefix}/pay", "payments/send"),
                ("GET", f"{prefix}/pay/stream", "payments/stream")],
    )


def guarded_app(world, served: List[str], authority: str = "testserver",
                prefix: str = "") -> FastAPI:
    """`POST /pay` and the WebSocket `/pay/stream` behind the middleware (paths=["/pay"]),
    `/open` (a WebSocket) outside it; every handler that runs is recorded in `served`."""
    app = FastAPI()
    app.add_middleware(kya.asgi.KyaMiddleware, gate=gate(world, authority, prefix),
                       paths=["/pay"])

    @app.post("/pay")
    async def pay(request: Request) -> dict:
        served.append("POST /pay")
        return {"paid": request.state.kya.amount}

    @app.websocket("/pay/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        served.append("WS /pay/stream")
        await ws.send_text(f"stream for {ws.scope['kya'].agent.agent}")
        await ws.close()

    @app.websocket("/open")
    async def open_socket(ws: WebSocket) -> None:
        await ws.accept()
        served.append("WS /open")
        await ws.send_text("open")
        await ws.close()

    return app


def signed_headers(world, method: str, url: str, **sign) -> dict:
    signed = kya.RequestSigner(world["agent"], world["chain"]).sign(method, url, **sign)
    return dict(signed.headers)


def assert_unsigned_refusal(status: int, headers, body: bytes) -> None:
    assert status == 401
    assert headers["www-authenticate"] == 'Signature tag="web-bot-auth"'
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["reasons"][0]["code"] == "signature_missing"


def test_a_websocket_under_a_guarded_prefix_is_judged_as_its_upgrade(world):
    served: List[str] = []
    client = TestClient(guarded_app(world, served))

    # Unsigned: the handshake is refused with the HTTP 401, never accepted.
    with pytest.raises(WebSocketDenialResponse) as refused:
        with client.websocket_connect("/pay/stream") as ws:
            ws.receive_text()
    assert_unsigned_refusal(refused.value.status_code, refused.value.headers,
                            refused.value.content)
    assert served == []

    # Signed (a GET of the path, as the Rust middleware judges an upgrade): admitted.
    headers = signed_headers(world, "GET", "http://testserver/pay/stream")
    with client.websocket_connect("/pay/stream", headers=headers) as ws:
        assert ws.receive_text() == f"stream for {world['agent'].did}"
    assert served == ["WS /pay/stream"]

    # The same handshake again: a replay, refused.
    with pytest.raises(WebSocketDenialResponse) as replayed:
        with client.websocket_connect("/pay/stream", headers=headers):
            pass
    assert replayed.value.status_code == 401
    assert replayed.value.json()["reasons"][0]["code"] == "nonce_replayed"
    assert served == ["WS /pay/stream"]

    # A WebSocket outside the guarded prefix passes untouched.
    with client.websocket_connect("/open") as ws:
        assert ws.receive_text() == "open"
    assert served == ["WS /pay/stream", "WS /open"]


def test_a_websocket_refused_without_the_denial_extension_is_closed_before_accept(world):
    """A server without `websocket.http.response`: the handshake is closed with 1008."""
    served: List[str] = []
    app = guarded_app(world, served)
    sent: List[dict] = []
    scope = {
        "type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws",
        "path": "/pay/stream", "raw_path": b"/pay/stream", "root_path": "",
        "query_string": b"", "headers": [(b"host", b"testserver")], "subprotocols": [],
        "server": ("testserver", 80), "client": ("127.0.0.1", 1234),
    }
    inbox = [{"type": "websocket.connect"}]

    async def receive() -> dict:
        return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert served == []


def test_an_unknown_scope_type_under_a_guarded_prefix_is_refused(world):
    reached: List[str] = []

    async def inner(scope, receive, send) -> None:
        reached.append(scope["type"])

    middleware = kya.asgi.KyaMiddleware(inner, gate=gate(world, "testserver"), paths=["/pay"])

    async def receive() -> dict:
        return {"type": "unknown.event"}

    async def send(message: dict) -> None:
        raise AssertionError(f"nothing is sent for an unknown scope: {message}")

    base = {"asgi": {"version": "3.0"}, "root_path": "", "headers": [], "query_string": b""}
    asyncio.run(middleware({**base, "type": "webtransport", "path": "/pay/x"}, receive, send))
    asyncio.run(middleware({**base, "type": "webtransport"}, receive, send))  # no path
    assert reached == []
    # Lifespan, and an unknown type outside the guarded prefix, pass on.
    asyncio.run(middleware({**base, "type": "lifespan"}, receive, send))
    asyncio.run(middleware({**base, "type": "webtransport", "path": "/open"}, receive, send))
    assert reached == ["lifespan", "webtransport"]


def test_a_root_path_does_not_move_the_guard_off_the_route(world):
    """A server's root_path (`uvicorn --root-path`): the router serves the path below
    root_path; that path is guarded, whether or not the request names the prefix."""
    served: List[str] = []
    client = TestClient(guarded_app(world, served, prefix="/api"), root_path="/api")
    for path in ("/api/pay", "/pay"):
        r = client.post(path, content=b"{}")
        assert_unsigned_refusal(r.status_code, r.headers, r.content)
    with pytest.raises(WebSocketDenialResponse) as refused:
        with client.websocket_connect("/api/pay/stream"):
            pass
    assert refused.value.status_code == 401
    assert served == []

    # Signed for the full path (what the agent sent): admitted.
    url = "http://testserver/api/pay"
    ok = client.post("/api/pay", content=b"{}",
                     headers=signed_headers(world, "POST", url, body=b"{}", amount="3.00 USD"))
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"paid": "3.00 USD"}
    assert served == ["POST /pay"]


def test_a_mounted_app_is_guarded_on_the_path_below_its_mount(world):
    served: List[str] = []
    outer = FastAPI()
    outer.mount("/v1", guarded_app(world, served, prefix="/v1"))
    client = TestClient(outer)

    r = client.post("/v1/pay", content=b"{}")
    assert_unsigned_refusal(r.status_code, r.headers, r.content)
    with pytest.raises(WebSocketDenialResponse) as refused:
        with client.websocket_connect("/v1/pay/stream"):
            pass
    assert refused.value.status_code == 401
    assert served == []

    # Signed for the full path (what the agent sent): admitted.
    ok = client.post("/v1/pay", content=b"{}",
                     headers=signed_headers(world, "POST", "http://testserver/v1/pay",
                                            body=b"{}", amount="4.00 USD"))
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"paid": "4.00 USD"}
    headers = signed_headers(world, "GET", "http://testserver/v1/pay/stream")
    with client.websocket_connect("/v1/pay/stream", headers=headers) as ws:
        assert ws.receive_text() == f"stream for {world['agent'].did}"
    assert served == ["POST /pay", "WS /pay/stream"]


APP = """
import json, os, sys
sys.path.insert(0, {tests!r})
import kya, kya.asgi
from fastapi import FastAPI, Request

gate = kya.Gate(kya.Verifier(kya.Policy.load(os.environ["KYA_POLICY"])),
                authority=os.environ["KYA_AUTHORITY"], scheme="http",
                routes=[("POST", "/api/pay", "payments/send")])
app = FastAPI()
app.add_middleware(kya.asgi.KyaMiddleware, gate=gate, paths=["/pay"])


@app.post("/pay")
async def pay(request: Request) -> dict:
    with open(os.environ["SERVED"], "a") as f:
        f.write("POST /pay\\n")
    return {{"paid": request.state.kya.amount}}
"""


def test_uvicorn_root_path_keeps_the_guard(world, start_server, tmp_path):
    """Behind a proxy that strips /api (`uvicorn --root-path /api`): a request sent straight
    to the server, with no signature, is refused; one the agent signed for /api/pay and the
    proxy forwarded as /pay is admitted."""
    (tmp_path / "rootapp.py").write_text(APP.format(tests=str(Path(__file__).parent)))
    served = tmp_path / "served"
    port = free_port()
    env = dict(os.environ, KYA_POLICY=str(world["dir"] / "policy.json"),
               KYA_AUTHORITY=f"127.0.0.1:{port}", SERVED=str(served))
    server = start_server(uvicorn_args("rootapp:app", port) + ["--root-path", "/api"], port,
                          cwd=tmp_path, env=env)

    r = httpx.post(f"{server.url}/pay", content=b"{}")
    assert_unsigned_refusal(r.status_code, r.headers, r.content)
    assert not served.exists()

    headers = signed_headers(world, "POST", f"{server.url}/api/pay", body=b"{}",
                             amount="5.00 USD")
    ok = httpx.post(f"{server.url}/pay", content=b"{}", headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"paid": "5.00 USD"}
    assert served.read_text() == "POST /pay\n"
