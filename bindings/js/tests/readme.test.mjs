// The README's complete example, run as written: the principal issues a chain, the merchant
// (an edge worker) runs under Node's http server, the agent (kyaFetch) is admitted and
// refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, ROOT } from "./support.mjs";
import { serve } from "./examples/serve-node.mjs";

function blocks() {
  const text = readFileSync(join(ROOT, "bindings", "js", "README.md"), "utf8");
  const found = {};
  for (const [, body] of text.matchAll(/```js\n(.*?)```/gs)) {
    const first = body.split("\n")[0];
    if (first.startsWith("// file: ")) found[first.slice("// file: ".length)] = body;
  }
  return found;
}

test("the README's agent, merchant and issuer run as written", async (t) => {
  const files = blocks();
  assert.deepEqual(Object.keys(files).sort(), ["agent.mjs", "issue.mjs", "merchant.mjs"]);
  // Inside the temporary project, so that `import "kya"` resolves to the installed package.
  const dir = join(process.cwd(), `readme-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);

  const issued = execFileSync(process.execPath, ["issue.mjs"], { cwd: dir, encoding: "utf8" });
  assert.match(issued, /refused: grant_widened/);
  assert.ok(readdirSync(dir).includes("sub-agent.key"));

  const port = await freePort();
  const handler = (await import(join(dir, "merchant.mjs"))).default;
  const env = {
    KYA_POLICY: readFileSync(join(dir, "policy.json"), "utf8"),
    KYA_AUTHORITY: `127.0.0.1:${port}`,
    KYA_SCHEME: "http",
  };
  const server = await serve(handler, { port, env });
  t.after(() => new Promise((r) => server.close(r)));

  // Async: the merchant answers from this process.
  const agent = await new Promise((resolve) => {
    const child = spawn(process.execPath, ["agent.mjs"], {
      cwd: dir, env: { ...process.env, MERCHANT_URL: `http://127.0.0.1:${port}` },
    });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { out += d; });
    child.on("exit", (code) => resolve({ code, out }));
  });
  assert.equal(agent.code, 0, agent.out);
  assert.match(agent.out, /^200 12\.50 USD$/m);
  assert.match(agent.out, /403 \[ 'amount_exceeds_ceiling' \]/);
  assert.match(agent.out, /403 action_not_covered/);
});
