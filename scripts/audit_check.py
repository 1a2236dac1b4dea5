#!/usr/bin/env python3
"""Independent checks of kya's audit evidence, using only the Python standard library.

    audit_check.py inclusion (--entry FILE | --leaf-hash HEX) --index N
                   [--size N] [--proof HEX ...] (--root HEX | --checkpoint FILE)
                   [--verifier-key NAME+KEYID+BASE64]
        Recomputes an RFC 9162 inclusion proof (section 2.1.3.2) and compares the root.
        With --checkpoint, the root and size come from a C2SP checkpoint note (and must
        agree with --size if given); with --verifier-key its Ed25519 signature is checked.

    audit_check.py credential FILE [--expect-signer DID]
        Verifies the eddsa-jcs-2022 Data Integrity proof of a JSON credential secured by a
        did:key Ed25519 key: SHA-256(JCS(proof options)) || SHA-256(JCS(document without
        proof)), Ed25519-verified with the key the verification method names.

Exit status: 0 verified, 1 refused (the reason is printed), 2 bad usage or unreadable input.
Nothing here imports kya code: it is written from RFC 9162, RFC 8785, RFC 8032, C2SP
signed-note and tlog-checkpoint, and W3C vc-di-eddsa.
"""

import argparse
import base64
import hashlib
import json
import sys

MAX_FILE = 1 << 20


class Refused(Exception):
    """The evidence does not verify."""


# ---------------------------------------------------------------- RFC 9162 inclusion


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index, size, leaf, path):
    """RFC 9162 section 2.1.3.2, steps 1 to 5 (without the final root comparison)."""
    if len(path) > 64:
        raise Refused("inclusion path longer than 64 hashes")
    if index >= size:
        raise Refused(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise Refused("inclusion path too long for the tree size")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Refused("inclusion path too short for the tree size")
    return r


# ---------------------------------------------------------------- RFC 8032 Ed25519

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def point_add(a, b):
    """Extended homogeneous coordinates, a = -1 (RFC 8032 section 5.1.4)."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    pa = (y1 - x1) * (y2 - x2) % P
    pb = (y1 + x1) * (y2 + x2) % P
    pc = t1 * 2 * D * t2 % P
    pd = z1 * 2 * z2 % P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def scalar_mult(k, pt):
    q = (0, 1, 1, 0)
    while k > 0:
        if k & 1:
            q = point_add(q, pt)
        pt = point_add(pt, pt)
        k >>= 1
    return q


def point_equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def decompress(s):
    """RFC 8032 section 5.1.3; None if not a canonical encoding of a curve point."""
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == u:
        pass
    elif v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    else:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


BASE = decompress((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))
IDENTITY = (0, 1, 1, 0)


def small_order(pt):
    return point_equal(scalar_mult(8, pt), IDENTITY)


def ed25519_verify(public, message, signature):
    """Cofactored verification [8][S]B = [8]R + [8][k]A, refusing non-canonical S, R, A
    and small-order R or A (kya's rule; every honest signature passes)."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = decompress(public), decompress(signature[:32])
    if a is None or r is None or small_order(a) or small_order(r):
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % L
    left = scalar_mult(8, scalar_mult(s, BASE))
    right = scalar_mult(8, point_add(r, scalar_mult(k, a)))
    return point_equal(left, right)


# ---------------------------------------------------------------- signed-note checkpoints


def read_checkpoint(note, verifier_key):
    """Splits a signed note, checks the checkpoint text, and (with a key) the signature."""
    try:
        text_all = note.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("checkpoint note is not utf-8")
    if any(ord(c) < 0x20 and c != "\n" for c in text_all):
        raise Refused("control character in the checkpoint note")
    split = text_all.rfind("\n\n")
    if split < 0 or not text_all.endswith("\n"):
        raise Refused("checkpoint note has no signature block")
    text, sig_lines = text_all[: split + 1], text_all[split + 2 : -1].split("\n")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[0] or any(not x for x in lines[3:]):
        raise Refused("checkpoint text is not origin, size, root")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not size_s.isdigit() or not size_s.isascii() or (size_s != "0" and size_s[0] == "0"):
        raise Refused(f"checkpoint size {size_s!r} is not a decimal")
    try:
        root = base64.b64decode(root_s, validate=True)
    except ValueError:
        raise Refused("checkpoint root is not base64")
    if len(root) != 32 or base64.b64encode(root).decode() != root_s:
        raise Refused("checkpoint root is not 32 bytes of canonical base64")
    if verifier_key is not None:
        verify_note_signature(text, sig_lines, verifier_key, origin)
    return origin, int(size_s), root


def verify_note_signature(text, sig_lines, verifier_key, origin):
    parts = verifier_key.split("+", 2)
    if len(parts) != 3:
        raise Refused("verifier key is not name+keyid+key")
    name, key_id_hex, key_b64 = parts
    raw = base64.b64decode(key_b64, validate=True)
    if len(raw) != 33 or raw[0] != 0x01:
        raise Refused("verifier key is not an Ed25519 note key")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_id_hex:
        raise Refused("verifier key id does not match its name and key")
    if name != origin:
        raise Refused(f"checkpoint origin {origin!r} is not the key name {name!r}")
    for line in sig_lines:
        if not line.startswith("\u2014 "):
            raise Refused(f"not a signature line: {line[:60]!r}")
        sig_name, _, blob_b64 = line[2:].partition(" ")
        blob = base64.b64decode(blob_b64, validate=True)
        if sig_name == name and blob[:4] == key_id:
            if not ed25519_verify(raw[1:], text.encode(), blob[4:]):
                raise Refused(f"checkpoint signature by {name} is invalid")
            return
    raise Refused(f"checkpoint is not signed by {name}")


# ---------------------------------------------------------------- RFC 8785 JCS


def no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise Refused(f"duplicate member {k!r}")
        obj[k] = v
    return obj


def refuse_float(text):
    value = float(text)
    if not value.is_integer() or abs(value) >= 2**53:
        raise Refused(f"number {text} is not an integer JCS reproduces exactly")
    return int(value)


def jcs_string(s):
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[c])
        elif o < 0x20:
            out.append(f"\\u{o:04x}")
        elif 0xD800 <= o <= 0xDFFF:
            raise Refused("lone surrogate in a string")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def jcs(value):
    """RFC 8785 for strings, integers, booleans, null, objects and arrays."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise Refused(f"integer {value} is beyond the exact range of a double")
        return str(value)
    if isinstance(value, str):
        return jcs_string(value)
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs_string(k) + ":" + jcs(value[k]) for k in keys) + "}"
    raise Refused(f"unsupported JSON value {type(value).__name__}")


# ---------------------------------------------------------------- eddsa-jcs-2022 + did:key

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58btc(s):
    """Decodes a multibase base58btc string (`z…`)."""
    if not s.startswith("z") or len(s) > 200:
        raise Refused(f"{s[:60]!r} is not base58btc multibase")
    n = 0
    for c in s[1:]:
        i = B58.find(c)
        if i < 0:
            raise Refused(f"{c!r} is not a base58 character")
        n = n * 58 + i
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    zeros = len(s[1:]) - len(s[1:].lstrip("1"))
    return b"\x00" * zeros + body


def did_key_public(vm):
    did, _, fragment = vm.partition("#")
    if not did.startswith("did:key:") or fragment != did[len("did:key:") :]:
        raise Refused(f"verification method {vm[:80]!r} is not did:key:z…#z…")
    raw = base58btc(fragment)
    if raw[:2] != b"\xed\x01" or len(raw) != 34:
        raise Refused("did:key is not an Ed25519 public key")
    return did, raw[2:]


def verify_credential(doc, expect_signer):
    if not isinstance(doc, dict) or not isinstance(doc.get("proof"), dict):
        raise Refused("the credential has no single proof object")
    proof = doc["proof"]
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != "eddsa-jcs-2022":
        raise Refused("the proof is not a DataIntegrityProof with cryptosuite eddsa-jcs-2022")
    value = proof.get("proofValue")
    if not isinstance(value, str):
        raise Refused("the proof has no proofValue")
    signature = base58btc(value)
    if len(signature) != 64:
        raise Refused("proofValue is not a 64-byte signature")
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    unsecured = {k: v for k, v in doc.items() if k != "proof"}
    if "@context" in options and options["@context"] != unsecured.get("@context"):
        raise Refused("the proof's @context differs from the document's")
    did, public = did_key_public(str(options.get("verificationMethod", "")))
    if expect_signer is not None and did != expect_signer:
        raise Refused(f"signed by {did}, not by {expect_signer}")
    data = hashlib.sha256(jcs(options).encode()).digest()
    data += hashlib.sha256(jcs(unsecured).encode()).digest()
    if not ed25519_verify(public, data, signature):
        raise Refused("the Ed25519 signature does not verify")
    return did


# ---------------------------------------------------------------- command line


def read_file(path):
    with open(path, "rb") as f:
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise ValueError(f"{path} is larger than {MAX_FILE} bytes")
    return data


def hex32(s):
    b = bytes.fromhex(s)
    if len(b) != 32:
        raise ValueError(f"{s!r} is not 32 bytes of hex")
    return b


def cmd_inclusion(args):
    leaf = leaf_hash(read_file(args.entry)) if args.entry else hex32(args.leaf_hash)
    path = [hex32(h) for h in args.proof]
    size = args.size
    if args.checkpoint:
        origin, cp_size, root = read_checkpoint(read_file(args.checkpoint), args.verifier_key)
        if size is not None and size != cp_size:
            raise Refused(f"proof is for size {size}, the checkpoint has size {cp_size}")
        size = cp_size
    else:
        root = hex32(args.root)
    if size is None:
        raise ValueError("--size is needed without --checkpoint")
    computed = root_from_inclusion(args.index, size, leaf, path)
    if computed != root:
        raise Refused(f"proof leads to root {computed.hex()}, not {root.hex()}")
    unsigned = args.checkpoint and not args.verifier_key
    note = " (checkpoint signature not checked: no --verifier-key)" if unsigned else ""
    return f"ok: leaf {leaf.hex()} is entry {args.index} of the tree of size {size}{note}"


def cmd_credential(args):
    doc = json.loads(
        read_file(args.file).decode("utf-8"),
        object_pairs_hook=no_duplicates,
        parse_float=refuse_float,
        parse_constant=lambda c: refuse_float(c),
    )
    did = verify_credential(doc, args.expect_signer)
    return f"ok: eddsa-jcs-2022 proof verified, signed by {did}"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    inc = sub.add_parser("inclusion")
    which = inc.add_mutually_exclusive_group(required=True)
    which.add_argument("--entry")
    which.add_argument("--leaf-hash")
    inc.add_argument("--index", type=int, required=True)
    inc.add_argument("--size", type=int)
    inc.add_argument("--proof", nargs="*", default=[])
    head = inc.add_mutually_exclusive_group(required=True)
    head.add_argument("--root")
    head.add_argument("--checkpoint")
    inc.add_argument("--verifier-key")
    cred = sub.add_parser("credential")
    cred.add_argument("file")
    cred.add_argument("--expect-signer")
    args = parser.parse_args(argv)
    try:
        print(cmd_inclusion(args) if args.command == "inclusion" else cmd_credential(args))
        return 0
    except Refused as e:
        print(f"refused: {e}")
        return 1
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
