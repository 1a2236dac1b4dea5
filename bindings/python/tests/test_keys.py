"""Keys, DIDs and signers."""

from __future__ import annotations

import pytest

import kya
from conftest import read_json, vector_key


def test_secret_never_in_repr_or_str(tmp_path):
    key = kya.SecretKey.generate()
    key.save(tmp_path / "k.json")
    secret = read_secret(tmp_path / "k.json")
    for text in (repr(key), str(key), repr(key.public_key)):
        assert secret not in text
    assert "<redacted>" in repr(key)


def read_secret(path) -> str:
    import json

    return json.loads(path.read_text())["secretKeyMultibase"]


def test_multikey_file_round_trip_and_refusals(tmp_path):
    key = kya.SecretKey.generate()
    key.save(tmp_path / "k.json")
    assert kya.SecretKey.load(tmp_path / "k.json").did == key.did
    with pytest.raises(kya.errors.KeyFormatError):
        key.save(tmp_path / "k.json")  # no silent overwrite
    key.save(tmp_path / "k.json", overwrite=True)
    other = kya.SecretKey.generate()
    text = (tmp_path / "k.json").read_text().replace(
        key.public_key.multibase, other.public_key.multibase
    )
    (tmp_path / "bad.json").write_text(text)
    with pytest.raises(kya.errors.KeyFormatError):
        kya.SecretKey.load(tmp_path / "bad.json")


def test_vector_keys_and_dids():
    keys = read_json("keys.json")
    for name, entry in keys.items():
        key = vector_key(name)
        assert key.did == entry["did"]
        assert key.public_key.multibase == entry["publicKeyMultibase"]
        assert kya.SecretKey.from_multibase(entry["secretKeyMultibase"]).did == entry["did"]
        did = kya.Did(entry["did"])
        assert did.method == "key" and did.public_key == key.public_key


def test_did_pkh():
    did = kya.Did("did:pkh:eip155:31337:0x70997970c51812dc3a010c7d01b50e0d17dc79c8")
    assert did.method == "pkh"
    assert did.chain_id == 31337
    assert did.address == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert did.public_key is None


def test_signatures_verify_strictly():
    key = kya.SecretKey.generate()
    sig = key.sign(b"hello")
    assert key.public_key.verify(b"hello", sig)
    assert not key.public_key.verify(b"hullo", sig)
    assert not key.public_key.verify(b"hello", sig[:10])


def test_an_external_signer_that_lies_is_refused():
    key = kya.SecretKey.generate()

    class Liar:
        public_key = key.public_key.to_bytes()

        def sign(self, message: bytes) -> bytes:
            return kya.SecretKey.generate().sign(message)

    with pytest.raises(kya.errors.KyaError):
        kya.issue_authorization(
            Liar(), agent=kya.SecretKey.generate().did, grants=[kya.Grant("payments")],
            valid_from="2026-01-01T00:00:00Z", valid_until="2027-01-01T00:00:00Z",
        )


def test_presentation_round_trip():
    principal, agent = kya.SecretKey.generate(), kya.SecretKey.generate()
    auth = kya.issue_authorization(
        principal, agent=agent, grants=[kya.Grant("payments")],
        valid_from="2026-01-01T00:00:00Z", valid_until="2027-01-01T00:00:00Z",
        created="2026-01-01T00:00:00Z",
    )
    chain = kya.Chain([auth])
    vp = chain.present(agent, audience="did:web:shop.example", nonce="n-1",
                       created="2026-02-01T12:00:00Z")
    policy = kya.Policy.from_json(
        {"trustedRoots": [principal.did], "audience": "did:web:shop.example"}
    )
    verifier = kya.Verifier(policy, now="2026-02-01T12:00:10Z")
    seen = verifier.verify_presentation(vp, challenge="n-1")
    assert seen.agent == agent.did
    with pytest.raises(kya.errors.NonceReplayed):
        verifier.verify_presentation(vp, challenge="n-1")
    with pytest.raises(kya.errors.VerificationError):
        kya.Verifier(policy, now="2026-02-01T12:00:10Z").verify_presentation(vp, challenge="n-2")
