"""The files in test-vectors/kya verify identically from Python and Rust: the same lists of
expected verdicts (chains.json, requests.json, attenuation.json) that kya-verify's and
kya-core's Rust tests assert, and credentials issued from Python byte-identical to the
Rust-issued files for the same keys and inputs."""

from __future__ import annotations

import pytest

import kya
from conftest import VECTORS, read_json, vector_key

NOW = "2026-02-01T12:00:00Z"


def policy() -> kya.Policy:
    principal = read_json("keys.json")["principal"]["did"]
    return kya.Policy.from_json({"trustedRoots": [principal]})


@pytest.mark.parametrize("case", read_json("chains.json"), ids=lambda c: c["file"])
def test_chains_json_verdicts(case):
    verifier = kya.Verifier(policy(), now=NOW)
    data = (VECTORS / case["file"]).read_bytes()
    if case["valid"]:
        agent = verifier.verify_chain(data)
        assert agent.depth == len(read_json(case["file"]))
        assert agent.principal == read_json("keys.json")["principal"]["did"]
    else:
        with pytest.raises(kya.errors.VerificationError) as raised:
            verifier.verify_chain(data)
        assert raised.value.code == case["code"]
        assert raised.value.link == case.get("link")
        assert type(raised.value) is kya.errors.BY_CODE[case["code"]]


def test_requests_json_decisions():
    doc = read_json("requests.json")
    chain = (VECTORS / doc["chain"]).read_bytes()
    assert len(doc["cases"]) >= 5
    for case in doc["cases"]:
        # The verdict of a verifier that meters: an empty ledger per request.
        verifier = kya.Verifier(policy(), now=NOW, ledger=True)
        agent = verifier.verify_chain(chain)
        decision = verifier.decide_json(agent, case["request"])
        assert decision.allowed == case["allow"], (case["name"], decision.explain())
        assert sorted(decision.codes) == sorted(set(case.get("codes", []))), case["name"]
        assert all(r.link is not None for r in decision.reasons)
        assert decision.to_dict()["allow"] == case["allow"]


@pytest.mark.parametrize("case", read_json("attenuation.json"), ids=lambda c: c["name"])
def test_attenuation_json(case):
    parent = kya.Grant.from_json(case["parent"])
    child = kya.Grant.from_json(case["child"])
    assert child.attenuates(parent) == case["attenuates"]
    assert child.widening(parent) == case.get("code")


def grant(**kwargs) -> kya.Grant:
    return kya.Grant.from_json(kwargs)


def issue_vectors():
    """xtask/src/vectors.rs's credentials, issued through the Python API."""
    principal, agent, subagent, worker = (
        vector_key(n) for n in ("principal", "agent", "subagent", "worker")
    )
    created = "2026-01-01T00:00:00Z"
    authorization = kya.issue_authorization(
        principal,
        agent=agent.did,
        id="urn:uuid:00000000-0000-4000-8000-000000000001",
        valid_from="2026-01-01T00:00:00Z",
        valid_until="2027-01-01T00:00:00Z",
        registration=("eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3", "1"),
        grants=[
            kya.Grant(
                "payments",
                max_amount="100.00 USD",
                audience=["did:web:shop.example", "did:web:books.example"],
                budget=("500.00 USD", 86400),
            ),
            kya.Grant("catalog/read", resource=["https://shop.example/api/"]),
        ],
        created=created,
    )
    delegation = kya.delegate(
        agent,
        authorization,
        agent=subagent.did,
        id="urn:uuid:00000000-0000-4000-8000-000000000002",
        valid_until="2026-07-01T00:00:00Z",
        grants=[
            kya.Grant(
                "payments/send",
                max_amount="25.00 USD",
                audience=["did:web:shop.example"],
                budget=("100.00 USD", 86400),
            )
        ],
        created=created,
    )
    leaf = kya.delegate(
        subagent,
        delegation,
        agent=worker,
        id="urn:uuid:00000000-0000-4000-8000-000000000003",
        valid_until="2026-03-01T00:00:00Z",
        grants=[
            kya.Grant(
                "payments/send",
                max_amount="10.00 USD",
                audience=["did:web:shop.example"],
                budget=("20.00 USD", 86400),
                rate=(5, 60),
            )
        ],
        created=created,
    )
    return authorization, delegation, leaf


def test_python_issued_credentials_are_byte_identical_to_rust_issued():
    files = ["authorization.json", "delegation.json", "delegation-2.json"]
    for credential, name in zip(issue_vectors(), files):
        expected = (VECTORS / "credentials" / name).read_text()
        assert credential.to_json(pretty=True) + "\n" == expected, name
        assert credential.digest == kya.Credential.from_json(expected).digest


def test_python_chain_is_the_rust_chain():
    chain = kya.Chain(list(issue_vectors()))
    rust = kya.Chain.from_json((VECTORS / "chains" / "valid-3.json").read_bytes())
    assert chain.to_json(canonical=True) == rust.to_json(canonical=True)
    assert chain.digest == rust.digest
    agent = kya.Verifier(policy(), now=NOW).verify_chain(chain.to_json())
    assert agent.chain_digest == chain.digest
    assert chain.agent == vector_key("worker").did


def test_an_external_signer_issues_the_same_bytes():
    principal = vector_key("principal")

    class Hsm:
        """A key kya does not hold: only its public half and a signing call."""

        public_key = principal.public_key.multibase

        def sign(self, message: bytes) -> bytes:
            return principal.sign(message)

    assert isinstance(Hsm(), kya.Signer)
    via_hsm = kya.issue_authorization(
        Hsm(),
        agent=vector_key("agent").did,
        id="urn:uuid:00000000-0000-4000-8000-000000000001",
        valid_from="2026-01-01T00:00:00Z",
        valid_until="2027-01-01T00:00:00Z",
        registration=("eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3", "1"),
        grants=issue_vectors()[0].grants,
        created="2026-01-01T00:00:00Z",
    )
    assert via_hsm.to_json(pretty=True) + "\n" == (
        VECTORS / "credentials" / "authorization.json"
    ).read_text()


def test_widening_and_wrong_delegator_are_refused_with_codes():
    authorization, _, _ = issue_vectors()
    with pytest.raises(kya.errors.GrantWidened) as raised:
        kya.delegate(
            vector_key("agent"),
            authorization,
            agent=vector_key("subagent").did,
            grants=[kya.Grant("payments", max_amount="500.00 USD")],
        )
    assert isinstance(raised.value, kya.errors.CredentialError)
    assert raised.value.code == "grant_widened"
    with pytest.raises(kya.errors.IssuerNotParentSubject) as raised:
        kya.delegate(
            vector_key("outsider"),
            authorization,
            agent=vector_key("subagent").did,
            grants=[kya.Grant("payments/send", max_amount="5.00 USD")],
        )
    assert isinstance(raised.value, kya.errors.CredentialError)
    assert raised.value.code == "issuer_not_parent_subject"


def test_tampered_credential_is_refused():
    doc = read_json("credentials/authorization.json")
    doc["credentialSubject"]["grants"][0]["maxAmount"]["value"] = "999.00"
    with pytest.raises(kya.errors.BadSignature):
        kya.Credential.from_json(doc)
