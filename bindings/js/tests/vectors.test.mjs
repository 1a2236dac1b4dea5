// The files in test-vectors/kya verify identically from JavaScript, Python and Rust: the same
// lists of expected verdicts (chains.json, requests.json, attenuation.json) that kya-verify's
// and kya-core's Rust tests assert, and credentials issued from JS byte-identical to the
// Rust-issued files for the same keys and inputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as kya from "kya";
import { readJson, readVector, vectorKey } from "./support.mjs";

const NOW = "2026-02-01T12:00:00Z";
const principalDid = () => readJson("keys.json").principal.did;
const policy = () => kya.Policy.fromJson({ trustedRoots: [principalDid()] });

for (const c of readJson("chains.json")) {
  test(`chains.json: ${c.file}`, () => {
    const verifier = new kya.Verifier(policy(), { now: NOW });
    const data = readVector(c.file);
    if (c.valid) {
      const agent = verifier.verifyChain(data);
      assert.equal(agent.depth, JSON.parse(data).length);
      assert.equal(agent.principal, principalDid());
    } else {
      assert.throws(() => verifier.verifyChain(data), (e) => {
        assert.equal(e.code, c.code);
        assert.equal(e.link, c.link ?? null);
        assert.equal(e.constructor, kya.BY_CODE[c.code]);
        assert.ok(e instanceof kya.VerificationError);
        return true;
      });
    }
  });
}

test("requests.json: every decision and its codes", () => {
  const doc = readJson("requests.json");
  const chain = readVector(doc.chain);
  assert.ok(doc.cases.length >= 5);
  for (const c of doc.cases) {
    // The verdict of a verifier that meters: an empty ledger per request.
    const verifier = new kya.Verifier(policy(), { now: NOW, ledger: true });
    const agent = verifier.verifyChain(chain);
    const decision = verifier.decideJson(agent, c.request);
    assert.equal(decision.allowed, c.allow, `${c.name}: ${decision.explain()}`);
    assert.deepEqual([...decision.codes].sort(), [...new Set(c.codes ?? [])].sort(), c.name);
    assert.ok(decision.reasons.every((r) => r.link !== null), c.name);
    assert.equal(decision.toJSON().allow, c.allow);
  }
});

for (const c of readJson("attenuation.json")) {
  test(`attenuation.json: ${c.name}`, () => {
    const parent = kya.Grant.fromJson(c.parent);
    const child = kya.Grant.fromJson(c.child);
    assert.equal(child.attenuates(parent), c.attenuates);
    assert.equal(child.widening(parent), c.code);
  });
}

/** xtask/src/vectors.rs's credentials, issued through the JS API. */
function issueVectors() {
  const [principal, agent, subagent, worker] =
    ["principal", "agent", "subagent", "worker"].map(vectorKey);
  const created = "2026-01-01T00:00:00Z";
  const authorization = kya.issueAuthorization(principal, {
    agent: agent.did,
    id: "urn:uuid:00000000-0000-4000-8000-000000000001",
    validFrom: "2026-01-01T00:00:00Z",
    validUntil: "2027-01-01T00:00:00Z",
    registration: { agentRegistry: "eip155:31337:0x5FbDB2315678afecb367f032d93F642f64180aa3", agentId: "1" },
    grants: [
      new kya.Grant("payments", {
        maxAmount: "100.00 USD",
        audience: ["did:web:shop.example", "did:web:books.example"],
        budget: { limit: "500.00 USD", period: 86400 },
      }),
      new kya.Grant("catalog/read", { resource: ["https://shop.example/api/"] }),
    ],
    created,
  });
  const delegation = kya.delegate(agent, authorization, {
    agent: subagent.did,
    id: "urn:uuid:00000000-0000-4000-8000-000000000002",
    validUntil: "2026-07-01T00:00:00Z",
    grants: [new kya.Grant("payments/send", {
      maxAmount: "25.00 USD",
      audience: ["did:web:shop.example"],
      budget: { limit: "100.00 USD", period: 86400 },
    })],
    created,
  });
  const leaf = kya.delegate(subagent, delegation, {
    agent: worker, // a key stands for its did:key
    id: "urn:uuid:00000000-0000-4000-8000-000000000003",
    validUntil: "2026-03-01T00:00:00Z",
    grants: [new kya.Grant("payments/send", {
      maxAmount: "10.00 USD",
      audience: ["did:web:shop.example"],
      budget: { limit: "20.00 USD", period: 86400 },
      rate: { count: 5, period: 60 },
    })],
    created,
  });
  return [authorization, delegation, leaf];
}

test("JS-issued credentials are byte-identical to the Rust-issued vectors", () => {
  const files = ["authorization.json", "delegation.json", "delegation-2.json"];
  issueVectors().forEach((credential, i) => {
    const expected = readVector(`credentials/${files[i]}`);
    assert.equal(credential.toJson(true) + "\n", expected, files[i]);
    assert.equal(credential.digest, kya.Credential.fromJson(expected).digest);
  });
});

test("the JS chain is the Rust chain", () => {
  const chain = new kya.Chain(issueVectors());
  const rust = kya.Chain.fromJson(readVector("chains/valid-3.json"));
  assert.equal(chain.toJson(true), rust.toJson(true));
  assert.equal(chain.digest, rust.digest);
  assert.equal(chain.length, 3);
  const agent = new kya.Verifier(policy(), { now: NOW }).verifyChain(chain.toJson());
  assert.equal(agent.chainDigest, chain.digest);
  assert.equal(chain.agent, vectorKey("worker").did);
  assert.equal(chain.principal, principalDid());
});

test("widening and a wrong delegator are refused with codes", () => {
  const [authorization] = issueVectors();
  assert.throws(
    () => kya.delegate(vectorKey("agent"), authorization, {
      agent: vectorKey("subagent").did,
      grants: [new kya.Grant("payments", { maxAmount: "500.00 USD" })],
    }),
    (e) => e instanceof kya.GrantWidened && e.code === "grant_widened" && e.family === "CredentialError",
  );
  assert.throws(
    () => kya.delegate(vectorKey("outsider"), authorization, {
      agent: vectorKey("subagent").did,
      grants: [new kya.Grant("payments/send", { maxAmount: "5.00 USD" })],
    }),
    (e) => e instanceof kya.IssuerNotParentSubject && e.code === "issuer_not_parent_subject"
      && e.family === "CredentialError",
  );
});

test("a tampered credential is refused with bad_signature", () => {
  const doc = readJson("credentials/authorization.json");
  doc.credentialSubject.grants[0].maxAmount.value = "999.00";
  assert.throws(() => kya.Credential.fromJson(doc), kya.BadSignature);
});

test("the package's codes are kya_verify::Code's", () => {
  assert.deepEqual([...kya.CODES], kya.codes());
  for (const code of kya.codes()) assert.equal(kya.BY_CODE[code].code, code);
});
