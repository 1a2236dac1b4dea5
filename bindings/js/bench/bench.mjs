// The WebAssembly half of `cargo xtask bench-js`: the work bench/native.rs times in native
// Rust, timed here through the npm package under Node (release wasm), with the same keys,
// chain, policy, clock and request shapes. Prints `TIME <op>_wasm_us <µs>`, the median of
// the rounds.
//   node bench.mjs <path to the package's node.js>
import { pathToFileURL } from "node:url";

const kya = await import(pathToFileURL(process.argv[2]).href);
const NOW = "2026-02-01T12:00:00Z";
const N = 1000;
const ROUNDS = 5;

function setup() {
  const keys = [1, 2, 3, 4].map((n) => kya.SecretKey.fromSeed(new Uint8Array(32).fill(n)));
  const [principal, agent, sub, worker] = keys;
  const grant = (action) => new kya.Grant(action, { maxAmount: "100.00 USD" });
  const auth = kya.issueAuthorization(principal, {
    agent: agent.did, grants: [grant("payments")], created: NOW,
    validFrom: "2026-01-01T00:00:00Z", validUntil: "2027-01-01T00:00:00Z",
  });
  const d1 = kya.delegate(agent, auth, { agent: sub.did, grants: [grant("payments/send")], created: NOW });
  const d2 = kya.delegate(sub, d1, { agent: worker.did, grants: [grant("payments/send")], created: NOW });
  return { worker, chain: new kya.Chain([auth, d1, d2]), principal: principal.did };
}

const verifier = (principal, cache) =>
  new kya.Verifier(kya.Policy.fromJson({ trustedRoots: [principal], cacheCapacity: cache }), { now: NOW });

function signedRequests(signer, n) {
  const body = new TextEncoder().encode('{"order": 42}');
  return Array.from({ length: n }, () => {
    const s = signer.sign("POST", "https://shop.example/pay", { body, amount: "12.50 USD", created: NOW });
    return { headers: [["Host", "shop.example"], ...s.headers], body };
  });
}

const median = (v) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];

const { worker, chain, principal } = setup();
const signer = new kya.RequestSigner(worker, chain, { transport: "inline" });
const data = chain.toJson();
const verify = [];
const admit = [];
for (let round = 0; round < ROUNDS; round++) {
  const uncached = verifier(principal, 0);
  let start = performance.now();
  for (let i = 0; i < N; i++) uncached.verifyChain(data);
  verify.push((performance.now() - start) / N);

  const requests = signedRequests(signer, N);
  const gate = new kya.Gate(verifier(principal, 1024), {
    authority: "shop.example", routes: [{ method: "POST", path: "/pay", action: "payments/send" }],
  });
  start = performance.now();
  let admitted = 0;
  for (const r of requests) {
    if (gate.check("POST", "shop.example", "/pay", r.headers, r.body).admitted) admitted++;
  }
  admit.push((performance.now() - start) / N);
  if (admitted !== N) throw new Error(`admitted ${admitted} of ${N}`);
}
console.log(`TIME verify_wasm_us ${(median(verify) * 1000).toFixed(2)}`);
console.log(`TIME admit_wasm_us ${(median(admit) * 1000).toFixed(2)}`);
