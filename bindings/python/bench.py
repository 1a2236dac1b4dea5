"""The Python binding's overhead, as a ratio against native Rust measured in the same run.

Two operations, each timed from Python (a loop over the `kya` API) and by a Rust loop inside
the same extension module over the same inputs (`_bench_native_*`: no Python in the loop):

- `admit`: a merchant admitting a signed POST carrying a 3-link chain inline (signature,
  chain, nonce, decision) — the whole per-request work; every request has its own nonce;
- `verify_chain`: verifying the same 3-link chain again (the verifier's cached path).

Prints `TIME <op>_{python,rust}_us <µs per operation>` and
`RATIO python_<op>_vs_rust_<op> <x>` (the median of the rounds). Run it on a release
wheel: `cargo xtask bench-python`.
"""

from __future__ import annotations

import statistics
import time

import kya
from kya import _kya

NOW = "2026-02-01T12:00:00Z"
N = 1000
ROUNDS = 5


def setup():
    keys = [kya.SecretKey.from_seed(bytes([n]) * 32) for n in range(1, 5)]
    principal, agent, sub, worker = keys
    grant = kya.Grant("payments/send", max_amount="100.00 USD")
    auth = kya.issue_authorization(
        principal, agent=agent.did, grants=[kya.Grant("payments", max_amount="100.00 USD")],
        valid_from="2026-01-01T00:00:00Z", valid_until="2027-01-01T00:00:00Z", created=NOW,
    )
    d1 = kya.delegate(agent, auth, agent=sub.did, grants=[grant], created=NOW)
    d2 = kya.delegate(sub, d1, agent=worker.did, grants=[grant], created=NOW)
    chain = kya.Chain([auth, d1, d2])
    policy = kya.Policy.from_json({"trustedRoots": [principal.did]})
    return worker, chain, policy


def gate(policy):
    verifier = kya.Verifier(policy, now=NOW)
    return kya.Gate(verifier, authority="shop.example",
                    routes=[("POST", "/pay", "payments/send")])


def signed_requests(signer, n):
    url = "https://shop.example/pay"
    body = b'{"order": 42}'
    out = []
    for _ in range(n):
        s = signer.sign("POST", url, body=body, amount="12.50 USD", created=NOW)
        out.append(("POST", url, [("Host", "shop.example")] + list(s.headers), body))
    return out


def python_admit(g, requests):
    start = time.perf_counter()
    admitted = 0
    for method, _url, headers, body in requests:
        if g.check(method, "/pay", headers, body).admitted:
            admitted += 1
    return time.perf_counter() - start, admitted


def python_verify(verifier, data, n):
    start = time.perf_counter()
    ok = 0
    for _ in range(n):
        verifier.verify_chain(data)
        ok += 1
    return time.perf_counter() - start, ok


def main() -> None:
    worker, chain, policy = setup()
    signer = kya.RequestSigner(worker, chain, transport="inline")
    data = chain.to_json().encode()
    ratios = {"admit": [], "verify_chain": []}
    times = {k: ([], []) for k in ratios}
    for _ in range(ROUNDS):
        reqs = signed_requests(signer, 2 * N)
        py_s, py_ok = python_admit(gate(policy), reqs[:N])
        rs_s, rs_ok = _kya._bench_native_admit(gate(policy), reqs[N:])
        assert py_ok == N and rs_ok == N, (py_ok, rs_ok)
        ratios["admit"].append(py_s / rs_s)
        times["admit"][0].append(py_s / N)
        times["admit"][1].append(rs_s / N)

        verifier = kya.Verifier(policy, now=NOW)
        verifier.verify_chain(data)  # fill the cache
        iterations = 20 * N
        py_s, _ = python_verify(verifier, data, iterations)
        rs_s, rs_ok = _kya._bench_native_verify_chain(verifier, data, iterations)
        assert rs_ok == iterations
        ratios["verify_chain"].append(py_s / rs_s)
        times["verify_chain"][0].append(py_s / iterations)
        times["verify_chain"][1].append(rs_s / iterations)
    for op in ratios:
        py_t, rs_t = times[op]
        print(f"TIME {op}_python_us {statistics.median(py_t) * 1e6:.2f}")
        print(f"TIME {op}_rust_us {statistics.median(rs_t) * 1e6:.2f}")
        print(f"RATIO python_{op}_vs_rust_{op} {statistics.median(ratios[op]):.3f}")


if __name__ == "__main__":
    main()
