"""The README's complete example, run as written: the principal issues a chain, the merchant
(FastAPI) runs under a real uvicorn, the agent (httpx) is admitted and refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import free_port, uvicorn_args

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks() -> dict:
    text = README.read_text()
    found = {}
    for body in re.findall(r"```python\n(.*?)```", text, re.S):
        first = body.splitlines()[0]
        if first.startswith("# file: "):
            found[first[len("# file: "):]] = body
    return found


def test_readme_example_runs(tmp_path, start_server):
    files = blocks()
    assert set(files) == {"issue.py", "merchant.py", "agent.py"}
    for name, body in files.items():
        (tmp_path / name).write_text(body)

    issued = subprocess.run([sys.executable, "issue.py"], cwd=tmp_path, capture_output=True,
                            text=True, check=True)
    assert "refused: grant_widened" in issued.stdout

    port = free_port()
    env = dict(os.environ, KYA_AUTHORITY=f"127.0.0.1:{port}", KYA_SCHEME="http")
    merchant = start_server(uvicorn_args("merchant:app", port), port, cwd=tmp_path, env=env)

    agent = subprocess.run([sys.executable, "agent.py"], cwd=tmp_path, capture_output=True,
                           text=True, env=dict(os.environ, MERCHANT_URL=merchant.url))
    assert agent.returncode == 0, agent.stdout + agent.stderr
    assert "200 {'paid': '12.50 USD'" in agent.stdout
    assert "403 ['amount_exceeds_ceiling']" in agent.stdout
    assert "403 action_not_covered" in agent.stdout
