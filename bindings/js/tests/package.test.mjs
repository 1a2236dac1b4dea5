// The package itself: its TypeScript types, the edge-style entry without Node APIs, and
// typed errors (never a WebAssembly trap) for malformed input from JavaScript.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as kya from "kya";
import { readVector, readJson } from "./support.mjs";

const PACKAGE = join(process.cwd(), "node_modules", "kya");

test("the .d.ts files type-check the API under tsc --strict", () => {
  const tsc = process.env.KYA_TSC;
  assert.ok(tsc, "KYA_TSC names the pinned typescript compiler (bindings/js/tests)");
  execFileSync(process.execPath, [
    tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext",
    "--moduleResolution", "nodenext", "--lib", "es2022,esnext.disposable,dom", "types-check.ts",
  ], { encoding: "utf8", stdio: "pipe" });
});

test("the edge entry points use no Node API", () => {
  const pkg = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8"));
  assert.equal(pkg.exports["."].workerd, "./edge.js");
  for (const file of ["edge.js", "web.js", "manual.js", "api.js", "errors.js", "wasm/kya_js.js"]) {
    const source = readFileSync(join(PACKAGE, file), "utf8");
    for (const nodeOnly of [/from\s+["']node:/, /require\(/, /\bprocess\./, /\bBuffer\b/, /__dirname/]) {
      assert.doesNotMatch(source, nodeOnly, `${file} uses ${nodeOnly}`);
    }
  }
});

test("kya/manual runs from a compiled WebAssembly.Module, as an edge runtime supplies it", () => {
  // A fresh process: the module graph has not been initialised by the node entry.
  const script = `
    import { readFileSync } from "node:fs";
    import { createRequire } from "node:module";
    import * as kya from "kya/manual";
    const wasm = new WebAssembly.Module(readFileSync(${JSON.stringify(join(PACKAGE, "wasm", "kya_js_bg.wasm"))}));
    kya.initKyaSync(wasm);
    const verifier = new kya.Verifier(kya.Policy.fromJson({ trustedRoots: [${JSON.stringify(readJson("keys.json").principal.did)}] }), { now: "2026-02-01T12:00:00Z" });
    const agent = verifier.verifyChain(${JSON.stringify(readVector("chains/valid-3.json"))});
    console.log(agent.depth, kya.SecretKey.generate().did.slice(0, 8));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(out.trim(), "3 did:key:");
});

test("malformed input is a typed KyaError, never a trap, and the module keeps working", () => {
  const key = kya.SecretKey.generate();
  const verifier = new kya.Verifier(kya.Policy.fromJson({ trustedRoots: [key.did] }));
  const gate = new kya.Gate(verifier, { authority: "shop.example", routes: [{ path: "/", action: "catalog/read" }] });
  const deep = "[".repeat(100_000) + "]".repeat(100_000);
  const cases = [
    [() => kya.SecretKey.fromSeed(new Uint8Array(31)), kya.KeyFormatError],
    [() => kya.SecretKey.fromMultibase("z3u2notakey"), kya.KeyFormatError],
    [() => kya.SecretKey.fromMultikeyJson("{"), kya.KeyFormatError],
    [() => kya.PublicKey.fromBytes(new Uint8Array(32).fill(0)), kya.KeyFormatError],
    [() => kya.Did.parse("did:web:nope"), kya.KeyFormatError],
    [() => new kya.Grant("", {}), kya.GrantError],
    [() => new kya.Grant("payments", { maxAmount: "lots" }), kya.GrantError],
    [() => new kya.Grant("payments", { budget: { limit: 3 } }), kya.InputError],
    [() => new kya.Grant("payments", { rate: { count: -1, period: 60 } }), kya.InputError],
    [() => new kya.Grant("payments", { rate: { count: 1.5, period: 60 } }), kya.InputError],
    [() => new kya.Grant("payments", { validFrom: Number.NaN }), kya.InputError],
    [() => new kya.Grant("payments", { audience: [1, 2] }), kya.InputError],
    [() => kya.Grant.fromJson('{"action":"a","action":"b"}'), kya.InputError],
    [() => kya.issueAuthorization(key, null), kya.InputError],
    [() => kya.issueAuthorization(key, { agent: 5, grants: [], validFrom: 0, validUntil: 1 }), kya.KeyFormatError],
    [() => kya.issueAuthorization(key, { agent: key.did, grants: "x", validFrom: 0, validUntil: 1 }), kya.InputError],
    [() => kya.Chain.fromJson(new Uint8Array([0xff, 0xfe])), kya.InputError],
    [() => kya.Chain.fromJson("[]"), kya.CredentialError],
    [() => kya.Chain.fromJson(deep), kya.InputError],
    [() => verifier.verifyChain("[]"), kya.EmptyChain],
    [() => verifier.verifyChain(deep), kya.VerificationError],
    [() => kya.Policy.fromJson('{"trustedRoots":[],"surprise":1}'), kya.ConfigError],
    [() => kya.Snapshot.fromJson("{}"), kya.ConfigError],
    [() => new kya.Gate(verifier, { routes: [{ path: "/" }] }), kya.InputError],
    [() => gate.check("GET", "shop.example", "/", [["a"]], undefined), kya.InputError],
    [() => gate.check("GET", "shop.example", "/", "nope", undefined), kya.InputError],
    [() => new kya.RequestSigner(key, "[]"), kya.CredentialError],
  ];
  for (const [call, expected] of cases) {
    assert.throws(call, (e) => {
      assert.ok(e instanceof expected, `${call}: ${e?.constructor?.name}: ${e?.message}`);
      assert.ok(e instanceof kya.KyaError);
      return true;
    });
  }
  // A header the gate judges that is not visible ASCII refuses the request (400/401), as
  // the Rust middleware does; the module still answers afterwards.
  const outcome = gate.check("GET", "shop.example", "/", [["kya-action", "caf\u00e9"]], undefined);
  assert.equal(outcome.admitted, false);
  assert.deepEqual(outcome.codes, ["header_invalid"]);
  assert.equal(kya.SecretKey.generate().did.startsWith("did:key:z6Mk"), true);
});

test("a secret key never shows its secret", () => {
  const key = kya.SecretKey.fromSeed(new Uint8Array(32).fill(7));
  const multikey = JSON.parse(key.toMultikeyJson());
  assert.ok(multikey.secretKeyMultibase.startsWith("z3u2"));
  for (const shown of [String(key), JSON.stringify(key), `${key}`]) {
    assert.ok(!shown.includes(multikey.secretKeyMultibase), shown);
  }
  assert.match(String(key), /secret=<redacted>/);
  assert.equal(kya.SecretKey.fromMultikeyJson(key.toMultikeyJson()).did, key.did);
});
