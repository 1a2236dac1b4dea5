// Across languages, over real sockets: a JS agent (kyaFetch) calls the Rust example merchant
// (kya-verify/examples/merchant.rs); requests signed by the Rust CLI (`kya sign-request`)
// are judged by the JS edge handler (examples/edge-merchant.mjs) under Node's http server and
// called directly with `new Request(...)`. Refusals carry the Rust middleware's statuses and
// problem JSON.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as kya from "kya";
import { binary, cliSign, freePort, startServer, world } from "./support.mjs";
import { serve } from "./examples/serve-node.mjs";

async function rustMerchant(w) {
  const port = await freePort();
  return startServer(binary("examples/merchant"), [join(w.dir, "policy.json"), `127.0.0.1:${port}`], port);
}

/** A fresh copy of the edge handler module (its own verifier and nonce store). */
async function edgeHandler() {
  const url = new URL("./examples/edge-merchant.mjs", import.meta.url);
  url.search = `?instance=${Math.random()}`;
  return (await import(url.href)).default;
}

async function jsMerchant(w) {
  const port = await freePort();
  const handler = await edgeHandler();
  const env = { KYA_POLICY: w.policy, KYA_AUTHORITY: `127.0.0.1:${port}`, KYA_SCHEME: "http" };
  const server = await serve(handler, { port, env });
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => server.close(r)) };
}

test("a JS agent (kyaFetch) is admitted by the Rust merchant and refused over its grant", async (t) => {
  const w = world();
  const merchant = await rustMerchant(w);
  t.after(async () => { await merchant.stop(); w.cleanup(); });
  const signed = kya.kyaFetch(w.agent, w.chain);

  const ok = await signed(`${merchant.url}/pay`, { method: "POST", headers: { "KYA-Amount": "12.50 USD" }, body: '{"item":"pen"}' });
  assert.equal(ok.status, 200, await ok.clone().text());
  const paid = await ok.json();
  assert.equal(paid.paid, "12.50 USD");
  assert.equal(paid.agent, w.agent.did);
  assert.equal(paid.principal, w.principal.did);

  const over = await signed(`${merchant.url}/pay`, { method: "POST", headers: { "KYA-Amount": "30.00 USD" } });
  assert.equal(over.status, 403);
  assert.equal(over.headers.get("content-type"), "application/problem+json");
  assert.deepEqual((await over.json()).reasons.map((r) => r.code), ["amount_exceeds_ceiling"]);

  const catalog = await signed(new Request(`${merchant.url}/catalog?page=2`));
  assert.equal(catalog.status, 200, await catalog.clone().text());

  // Without the signature: 401, the Web Bot Auth challenge.
  const bare = await fetch(`${merchant.url}/pay`, { method: "POST", headers: { "KYA-Amount": "1.00 USD" } });
  assert.equal(bare.status, 401);
  assert.equal((await bare.json()).reasons[0].code, "signature_missing");
});

test("a JS agent whose key is not the chain's cannot sign", () => {
  const w = world();
  try {
    assert.throws(() => kya.kyaFetch(kya.SecretKey.generate(), w.chain), kya.SignatureKeyidMismatch);
  } finally {
    w.cleanup();
  }
});

test("a Rust-CLI-signed request is admitted by the JS edge handler under Node's http server", async (t) => {
  const w = world();
  const merchant = await jsMerchant(w);
  t.after(async () => { await merchant.stop(); w.cleanup(); });
  const url = `${merchant.url}/pay`;
  const headers = cliSign(w, "POST", url, "--action", "payments/send", "--amount", "12.50 USD");
  const ok = await fetch(url, { method: "POST", headers });
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.deepEqual(await ok.json(), { paid: "12.50 USD", agent: w.agent.did, principal: w.principal.did });

  // The same signed request again: a replay, refused as the Rust middleware does.
  const replay = await fetch(url, { method: "POST", headers });
  assert.equal(replay.status, 401);
  assert.equal(replay.headers.get("www-authenticate"), 'Signature tag="web-bot-auth"');
  assert.equal(replay.headers.get("content-type"), "application/problem+json");
  assert.equal((await replay.json()).reasons[0].code, "nonce_replayed");

  const over = await fetch(url, { method: "POST", headers: cliSign(w, "POST", url, "--amount", "99.00 USD") });
  assert.equal(over.status, 403);
  const problem = await over.json();
  assert.equal(problem.reasons[0].code, "amount_exceeds_ceiling");
  assert.equal(problem.type, "https://w3id.org/kya/problems/agent-not-allowed");

  // A body the signature does not cover.
  const fresh = cliSign(w, "POST", url, "--amount", "1.00 USD");
  const tampered = await fetch(url, { method: "POST", headers: fresh, body: "{}" });
  assert.equal(tampered.status, 401);
  assert.equal((await tampered.json()).reasons[0].code, "content_digest_mismatch");

  // Signed for another merchant: not this one's authority.
  const elsewhere = cliSign(w, "GET", "http://shop.example/catalog");
  const wrong = await fetch(`${merchant.url}/catalog`, { headers: elsewhere });
  assert.equal(wrong.status, 401);
  assert.equal((await wrong.json()).reasons[0].code, "signature_invalid");
});

test("the edge handler's fetch judges a standard Request directly", async () => {
  const w = world();
  try {
    const handler = await edgeHandler();
    const env = { KYA_POLICY: w.policy, KYA_AUTHORITY: "shop.example" };
    const url = "https://shop.example/catalog?q=pens";
    const ok = await handler.fetch(new Request(url, { headers: cliSign(w, "GET", url) }), env);
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal((await ok.json()).agent, w.agent.did);

    const unsigned = await handler.fetch(new Request(url), env);
    assert.equal(unsigned.status, 401);
    assert.equal((await unsigned.json()).reasons[0].code, "signature_missing");

    // A body past the bound: 413 before verification, as the Rust middleware answers.
    const big = new Request("https://shop.example/pay", { method: "POST", body: new Uint8Array(1024 * 1024 + 1) });
    const tooLarge = await handler.fetch(big, env);
    assert.equal(tooLarge.status, 413);
    assert.equal((await tooLarge.json()).reasons[0].code, "body_too_large");
  } finally {
    w.cleanup();
  }
});

test("JS and Rust merchants answer a refusal with the same status, headers and problem JSON", async (t) => {
  const w = world();
  const rust = await rustMerchant(w);
  const js = await jsMerchant(w);
  t.after(async () => { await rust.stop(); await js.stop(); w.cleanup(); });
  const cases = [
    { path: "/pay", init: { method: "POST" } },
    { path: "/pay", sign: ["--amount", "99.00 USD"], init: { method: "POST" } },
    { path: "/catalog", sign: [], init: {}, corrupt: true },
  ];
  for (const c of cases) {
    const answers = [];
    for (const m of [rust, js]) {
      const url = `${m.url}${c.path}`;
      let headers = c.sign ? cliSign(w, c.init.method ?? "GET", url, ...c.sign) : {};
      // The same bad signature for both (64 zero bytes), so that the refusal is the same.
      if (c.corrupt) headers = { ...headers, Signature: `sig1=:${"A".repeat(86)}==:` };
      const r = await fetch(url, { ...c.init, headers });
      const body = await r.json();
      answers.push({
        status: r.status,
        type: r.headers.get("content-type"),
        challenge: r.headers.get("www-authenticate"),
        body,
      });
    }
    assert.deepEqual(answers[1], answers[0], JSON.stringify(c));
  }
});

test("key files are shared with the CLI", () => {
  const w = world();
  try {
    const file = join(w.dir, "cli.key");
    execFileSync(binary("kya"), ["key", "generate", "--out", file]);
    const key = kya.SecretKey.fromMultikeyJson(readFileSync(file, "utf8"));
    const did = execFileSync(binary("kya"), ["key", "did", file], { encoding: "utf8" }).trim();
    assert.equal(key.did, did);
    const agentDid = execFileSync(binary("kya"), ["key", "did", join(w.dir, "agent.key")], { encoding: "utf8" }).trim();
    assert.equal(agentDid, w.agent.did);
    assert.equal(statSync(join(w.dir, "agent.key")).mode & 0o777, 0o600);
  } finally {
    w.cleanup();
  }
});
