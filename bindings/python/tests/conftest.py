"""Shared fixtures: the repository's test vectors, the cargo-built `kya` binary and example
merchant, free loopback ports and servers started as subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

import kya

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "test-vectors" / "kya"
BIN_DIR = Path(os.environ.get("KYA_BIN_DIR", ROOT / "target" / "debug"))


def binary(name: str) -> Path:
    """A cargo-built binary (`cargo xtask test` builds them before pytest runs)."""
    path = BIN_DIR / name
    if not path.exists():
        pytest.fail(
            f"{path} is missing: build it first (cargo build -p kya-cli; "
            "cargo build -p kya-verify --features axum --example merchant)"
        )
    return path


def read_json(name: str):
    return json.loads((VECTORS / name).read_text())


def vector_key(name: str) -> kya.SecretKey:
    keys = read_json("keys.json")
    return kya.SecretKey.from_seed(bytes.fromhex(keys[name]["seedHex"]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"server exited ({proc.returncode}): {out}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Server:
    """A server subprocess on a loopback port, stopped (by its own pid) at teardown."""

    def __init__(self, args: List[str], port: int, cwd: Optional[Path] = None, env=None):
        self.port = port
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for_port(port, self.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def start_server() -> Iterator:
    servers: List[Server] = []

    def start(args: List[str], port: int, cwd: Optional[Path] = None, env=None) -> Server:
        server = Server(args, port, cwd, env)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def uvicorn_args(app: str, port: int) -> List[str]:
    return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning"]
