// The package's API over the initialised WebAssembly module (node.js, edge.js, web.js and
// manual.js initialise it, then re-export this module). Nothing here uses Node-only APIs:
// only fetch's Request, Response and Headers, and ReadableStream.
import { RequestSigner } from "./wasm/kya_js.js";

export {
  PublicKey, SecretKey, Did, Grant, Credential, Chain, RequestSigner, Policy, Snapshot,
  Verifier, VerifiedAgent, Decision, Gate, GateOutcome, issueAuthorization, delegate, codes,
} from "./wasm/kya_js.js";
export * from "./errors.js";

/** Request headers that, when the caller sets them, name what this one request asks for. */
const ACTION_HEADER = "kya-action";
const AMOUNT_HEADER = "kya-amount";

/**
 * A fetch-compatible function that signs every request with the agent's key and chain
 * (RFC 9421, Web Bot Auth profile; the signature base is built by kya's Rust signer).
 * `KYA-Action` / `KYA-Amount` headers set on a request are declared and signed.
 */
export function kyaFetch(key, chain, options = {}) {
  const signer = new RequestSigner(key, chain, {
    transport: options.transport,
    signatureAgent: options.signatureAgent,
    action: options.action,
  });
  const send = options.fetch ?? globalThis.fetch;
  const expiresIn = options.expiresIn ?? 60;
  return async function signedFetch(input, init) {
    const request = new Request(input, init);
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    const body = hasBody ? new Uint8Array(await request.arrayBuffer()) : new Uint8Array();
    const signed = signer.sign(request.method, request.url, {
      body,
      action: request.headers.get(ACTION_HEADER) ?? undefined,
      amount: request.headers.get(AMOUNT_HEADER) ?? undefined,
      expiresIn,
    });
    const headers = new Headers(request.headers);
    for (const [name, value] of signed.headers) headers.set(name, value);
    return send(
      new Request(request.url, {
        method: request.method,
        headers,
        body: hasBody ? signed.body : undefined,
        redirect: request.redirect,
        signal: request.signal,
        credentials: request.credentials,
        cache: request.cache,
        referrer: request.referrer,
        integrity: request.integrity,
      }),
    );
  };
}

/** Reads at most `max` bytes of a body; `null` past it. */
async function readBounded(request, max) {
  if (request.body === null) return new Uint8Array();
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > max) return null;
  const reader = request.body.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * Verifies and decides on a standard `Request` (an edge worker's): its URL's authority and
 * path, its headers, its body (read up to `gate.maxBodyBytes`). Resolves to the gate's
 * outcome; never rejects for a refusal.
 */
export async function checkRequest(gate, request) {
  const url = new URL(request.url);
  const body = await readBounded(request, gate.maxBodyBytes);
  const target = url.pathname + url.search;
  const headers = [...request.headers];
  // Past the bound: 413, without reading more.
  if (body === null) return gate.bodyTooLarge();
  return gate.check(request.method, url.host, target, headers, body);
}

/**
 * The response the Rust middleware answers a refusal with: its status, the RFC 9457
 * problem JSON (`application/problem+json`), `WWW-Authenticate: Signature
 * tag="web-bot-auth"` on a 401 and `Retry-After: 1` on a 503.
 */
export function problemResponse(outcome) {
  if (outcome.admitted) throw new TypeError("problemResponse: the request was admitted");
  const headers = new Headers({ "content-type": "application/problem+json" });
  if (outcome.status === 401) headers.set("www-authenticate", 'Signature tag="web-bot-auth"');
  if (outcome.status === 503) headers.set("retry-after", "1");
  return new Response(outcome.problem, { status: outcome.status, headers });
}

/**
 * Guards an edge handler: `guard(request)` resolves to `{ outcome, response }`, where
 * `response` is the problem response of a refusal (answer it as is) and `null` when the
 * request is admitted.
 */
export function kyaGuard(gate) {
  return async function guard(request) {
    const outcome = await checkRequest(gate, request);
    return { outcome, response: outcome.admitted ? null : problemResponse(outcome) };
  };
}
