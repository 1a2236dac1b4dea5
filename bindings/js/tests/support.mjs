// Shared helpers of kya's JS tests. They run in a temporary project that npm-installed the
// packed package (scripts/js-test.sh), so `import "kya"` is what users import. KYA_ROOT is
// the repository, KYA_BIN_DIR the cargo-built `kya` and example merchant.
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as kya from "kya";

export const ROOT = process.env.KYA_ROOT ?? process.cwd();
export const VECTORS = join(ROOT, "test-vectors", "kya");
export const BIN_DIR = process.env.KYA_BIN_DIR ?? join(ROOT, "target", "debug");

export function readVector(name) {
  return readFileSync(join(VECTORS, name), "utf8");
}

export function readJson(name) {
  return JSON.parse(readVector(name));
}

export function vectorKey(name) {
  return kya.SecretKey.fromSeed(Buffer.from(readJson("keys.json")[name].seedHex, "hex"));
}

/** A cargo-built binary (`cargo xtask test` builds them first). */
export function binary(name) {
  const path = join(BIN_DIR, name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: build it first (cargo build -p kya-cli; cargo build -p kya-verify --features axum --example merchant)`);
  }
  return path;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("connect", () => { socket.destroy(); resolve(true); });
    socket.on("error", () => resolve(false));
  });
}

/** Starts `command args` and waits until it listens on `port`; `stop()` ends it (by its pid). */
export async function startServer(command, args, port, options = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  let output = "";
  child.stdout.on("data", (d) => { output += d; });
  child.stderr.on("data", (d) => { output += d; });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${output}`);
    if (await portOpen(port)) {
      return {
        url: `http://127.0.0.1:${port}`,
        output: () => output,
        stop: () => new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.on("exit", resolve);
          child.kill("SIGTERM");
        }),
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`nothing listens on 127.0.0.1:${port} after 30 s: ${output}`);
}

/** A principal, its agent with a chain valid now, a policy trusting the principal, and the
 * agent's key and chain as files (for the CLI), in a temporary folder. */
export function world() {
  const principal = kya.SecretKey.generate();
  const agent = kya.SecretKey.generate();
  const now = Math.floor(Date.now() / 1000);
  const authorization = kya.issueAuthorization(principal, {
    agent: agent.did,
    validFrom: now - 300,
    validUntil: now + 86400,
    grants: [
      new kya.Grant("payments/send", { maxAmount: "25.00 USD" }),
      new kya.Grant("catalog/read"),
    ],
  });
  const chain = new kya.Chain([authorization]);
  const dir = mkdtempSync(join(tmpdir(), "kya-js-world-"));
  const policy = JSON.stringify({ trustedRoots: [principal.did] });
  writeFileSync(join(dir, "policy.json"), policy);
  writeFileSync(join(dir, "chain.json"), chain.toJson());
  writeFileSync(join(dir, "agent.key"), agent.toMultikeyJson(), { mode: 0o600 });
  return { dir, principal, agent, chain, policy, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `kya sign-request …`: the headers the Rust CLI adds. */
export function cliSign(w, method, url, ...extra) {
  const out = execFileSync(binary("kya"), [
    "sign-request", "--key", join(w.dir, "agent.key"), "--chain", join(w.dir, "chain.json"),
    "--method", method, "--url", url, ...extra,
  ], { encoding: "utf8" });
  return Object.fromEntries(out.split("\n").filter(Boolean).map((line) => {
    const at = line.indexOf(": ");
    return [line.slice(0, at), line.slice(at + 2)];
  }));
}
