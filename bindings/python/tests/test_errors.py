"""kya.errors mirrors kya_verify::Code: one class per code, none missing, none extra."""

import kya
from kya import errors


def test_every_rust_code_has_its_class_in_order():
    rust = kya.codes()
    assert len(rust) >= 80
    assert list(errors.BY_CODE) == rust


def test_classes_are_named_and_grouped_like_the_rust_enum():
    assert errors.BY_CODE["bad_signature"] is errors.BadSignature
    assert issubclass(errors.NonceReplayed, errors.ChainRefused)
    assert issubclass(errors.AmountExceedsCeiling, errors.Denied)
    assert issubclass(errors.SignatureExpired, errors.RequestRefused)
    assert issubclass(errors.StoreUnavailable, errors.Unavailable)
    for code, cls in errors.BY_CODE.items():
        assert cls.code == code
        assert issubclass(cls, errors.VerificationError)
        assert "".join(p.capitalize() for p in code.split("_")).lower() == cls.__name__.lower()


def test_native_stub_declares_every_public_name():
    from pathlib import Path

    from kya import _kya

    stub = (Path(errors.__file__).parent / "_kya.pyi").read_text()
    for name in dir(_kya):
        if not name.startswith("_"):
            assert f"class {name}" in stub or f"def {name}(" in stub, name


def test_errors_from_bad_input_are_typed_not_panics():
    import pytest

    with pytest.raises(errors.KeyFormatError):
        kya.PublicKey.from_multibase("not-a-key")
    with pytest.raises(errors.KeyFormatError):
        kya.Did("did:web:example.com")
    with pytest.raises(errors.GrantError):
        kya.Grant("payments", max_amount="lots of money")
    with pytest.raises(errors.ConfigError):
        kya.Policy.from_json('{"trustedRoots": 5}')
    with pytest.raises(errors.Malformed):
        kya.Verifier(kya.Policy.from_json("{}")).verify_chain(b"\xff\xfe")
    with pytest.raises(errors.InputError):
        kya.issue_authorization(
            kya.SecretKey.generate(), agent=kya.SecretKey.generate().did, grants=[],
            valid_from="yesterday", valid_until="2030-01-01T00:00:00Z",
        )
