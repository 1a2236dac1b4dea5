"""Across languages, over real sockets: a Python agent (httpx and requests with kya's auth)
calls the Rust example merchant (kya-verify/examples/merchant.rs); requests signed by the
Rust CLI (`kya sign-request`) are judged by a FastAPI merchant under a real uvicorn."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import requests

import kya
from conftest import binary, free_port, uvicorn_args

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def world(tmp_path):
    """A principal, its agent with a chain valid now, and a policy trusting the principal."""
    principal = kya.SecretKey.generate()
    agent = kya.SecretKey.generate()
    now = datetime.now(timezone.utc)
    authorization = kya.issue_authorization(
        principal,
        agent=agent.did,
        valid_from=now - timedelta(minutes=5),
        valid_until=now + timedelta(days=1),
        grants=[
            kya.Grant("payments/send", max_amount="25.00 USD"),
            kya.Grant("catalog/read"),
        ],
    )
    chain = kya.Chain([authorization])
    (tmp_path / "policy.json").write_text(json.dumps({"trustedRoots": [principal.did]}))
    (tmp_path / "chain.json").write_text(chain.to_json())
    agent.save(tmp_path / "agent.key")
    return {"dir": tmp_path, "agent": agent, "chain": chain, "principal": principal}


def rust_merchant(world, start_server):
    port = free_port()
    return start_server(
        [str(binary("examples/merchant")), str(world["dir"] / "policy.json"), f"127.0.0.1:{port}"],
        port,
    )


def test_python_httpx_agent_is_admitted_by_the_rust_merchant_and_refused_over_its_grant(
    world, start_server
):
    merchant = rust_merchant(world, start_server)
    with httpx.Client(auth=kya.HttpxAuth(world["agent"], world["chain"])) as client:
        ok = client.post(f"{merchant.url}/pay", headers={"KYA-Amount": "12.50 USD"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["paid"] == "12.50 USD"
        assert ok.json()["agent"] == world["agent"].did
        assert ok.json()["principal"] == world["principal"].did

        over = client.post(f"{merchant.url}/pay", headers={"KYA-Amount": "30.00 USD"})
        assert over.status_code == 403
        assert over.headers["content-type"] == "application/problem+json"
        assert [r["code"] for r in over.json()["reasons"]] == ["amount_exceeds_ceiling"]

        catalog = client.get(f"{merchant.url}/catalog?page=2")
        assert catalog.status_code == 200, catalog.text

    # Without the auth: 401, the Web Bot Auth challenge.
    bare = httpx.post(f"{merchant.url}/pay", headers={"KYA-Amount": "1.00 USD"})
    assert bare.status_code == 401
    assert bare.json()["reasons"][0]["code"] == "signature_missing"


def test_python_requests_agent_is_admitted_by_the_rust_merchant(world, start_server):
    merchant = rust_merchant(world, start_server)
    session = requests.Session()
    session.auth = kya.RequestsAuth(world["agent"], world["chain"])
    ok = session.post(f"{merchant.url}/pay", headers={"KYA-Amount": "5.00 USD"}, data=b"{}")
    assert ok.status_code == 200, ok.text
    over = session.post(f"{merchant.url}/pay", headers={"KYA-Amount": "25.01 USD"})
    assert over.status_code == 403
    assert over.json()["reasons"][0]["code"] == "amount_exceeds_ceiling"


def test_an_agent_whose_key_is_not_the_chains_cannot_sign(world):
    with pytest.raises(kya.errors.SignatureKeyidMismatch):
        kya.HttpxAuth(kya.SecretKey.generate(), world["chain"])


def fastapi_merchant(world, start_server):
    port = free_port()
    env = dict(os.environ)
    env.update(
        KYA_POLICY=str(world["dir"] / "policy.json"),
        KYA_AUTHORITY=f"127.0.0.1:{port}",
        PYTHONPATH=str(TESTS),
    )
    return start_server(uvicorn_args("merchant_app:app", port), port, env=env)


def cli_sign(world, method, url, *extra):
    out = subprocess.run(
        [str(binary("kya")), "sign-request", "--key", str(world["dir"] / "agent.key"),
         "--chain", str(world["dir"] / "chain.json"), "--method", method, "--url", url, *extra],
        check=True, capture_output=True, text=True,
    ).stdout
    return dict(line.split(": ", 1) for line in out.splitlines() if line)


def test_rust_cli_signed_request_is_verified_by_fastapi_under_uvicorn(world, start_server):
    merchant = fastapi_merchant(world, start_server)
    url = f"{merchant.url}/pay"
    headers = cli_sign(world, "POST", url, "--action", "payments/send", "--amount", "12.50 USD")
    ok = httpx.post(url, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["paid"] == "12.50 USD"
    assert ok.json()["agent"] == world["agent"].did

    # The same signed request again: a replay, refused as the Rust middleware does.
    replay = httpx.post(url, headers=headers)
    assert replay.status_code == 401
    assert replay.headers["www-authenticate"] == 'Signature tag="web-bot-auth"'
    assert replay.headers["content-type"] == "application/problem+json"
    assert replay.json()["reasons"][0]["code"] == "nonce_replayed"

    over = httpx.post(url, headers=cli_sign(world, "POST", url, "--amount", "99.00 USD"))
    assert over.status_code == 403
    assert over.json()["reasons"][0]["code"] == "amount_exceeds_ceiling"
    assert over.json()["type"] == "https://w3id.org/kya/problems/agent-not-allowed"

    # A body the signature does not cover.
    tampered = httpx.post(url, headers=headers | {"Content-Length": "2"}, content=b"{}")
    assert tampered.status_code == 401


def test_rust_cli_signed_request_through_the_fastapi_dependency(world, start_server):
    merchant = fastapi_merchant(world, start_server)
    url = f"{merchant.url}/catalog?q=pens"
    ok = httpx.get(url, headers=cli_sign(world, "GET", url))
    assert ok.status_code == 200, ok.text
    assert ok.json()["agent"] == world["agent"].did
    unsigned = httpx.get(url)
    assert unsigned.status_code == 401
    assert unsigned.json()["reasons"][0]["code"] == "signature_missing"
    # Signed for another merchant, and sent here: its signature does not cover this host.
    elsewhere = cli_sign(world, "GET", "http://shop.example/catalog?q=pens")
    wrong = httpx.get(url, headers=elsewhere)
    assert wrong.status_code == 401
    assert wrong.json()["reasons"][0]["code"] == "signature_invalid"
    # ... and with its Host kept: not this merchant's authority.
    wrong = httpx.get(url, headers=elsewhere | {"Host": "shop.example"})
    assert wrong.status_code == 401
    assert wrong.json()["reasons"][0]["code"] == "authority_mismatch"


def test_python_agent_is_admitted_by_the_python_merchant(world, start_server):
    merchant = fastapi_merchant(world, start_server)
    with httpx.Client(auth=kya.HttpxAuth(world["agent"], world["chain"])) as client:
        ok = client.post(f"{merchant.url}/pay", json={"item": "pen"},
                         headers={"KYA-Amount": "3.00 USD"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["body"] == '{"item":"pen"}'


def test_key_files_are_shared_with_the_cli(world, tmp_path):
    subprocess.run([str(binary("kya")), "key", "generate", "--out", str(tmp_path / "cli.key")],
                   check=True, capture_output=True)
    key = kya.SecretKey.load(tmp_path / "cli.key")
    did = subprocess.run([str(binary("kya")), "key", "did", str(tmp_path / "cli.key")],
                         check=True, capture_output=True, text=True).stdout.strip()
    assert key.did == did
    did = subprocess.run([str(binary("kya")), "key", "did", str(world["dir"] / "agent.key")],
                         check=True, capture_output=True, text=True).stdout.strip()
    assert did == world["agent"].did
    assert (world["dir"] / "agent.key").stat().st_mode & 0o777 == 0o600
