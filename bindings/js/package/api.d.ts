import type { Chain, Gate, GateOutcome, SecretKey, ChainTransport } from "./wasm/kya_js.js";

export {
  PublicKey, SecretKey, Did, Grant, Credential, Chain, RequestSigner, Policy, Snapshot,
  Verifier, VerifiedAgent, Decision, Gate, GateOutcome, issueAuthorization, delegate, codes,
} from "./wasm/kya_js.js";
export type {
  KyaTime, GrantOptions, GrantJson, DidLike, AuthorizationOptions, DelegationOptions,
  PresentOptions, ChainTransport, RequestSignerOptions, SignOptions, SignedRequest, Reason,
  VerifierOptions, DecideOptions, Route, GateOptions, Problem,
} from "./wasm/kya_js.js";
export * from "./errors.js";

export interface KyaFetchOptions {
  /** How the chain travels (default "auto": inline while it fits a header). */
  transport?: ChainTransport;
  /** An https URL sent as Signature-Agent. */
  signatureAgent?: string;
  /** The KYA-Action sent when a request sets no KYA-Action header. */
  action?: string;
  /** The signature's lifetime in seconds (default 60). */
  expiresIn?: number;
  /** The fetch to send with (default globalThis.fetch). */
  fetch?: (request: Request) => Promise<Response>;
}

/** A fetch-compatible function signing every request with `key` and `chain`. */
export declare function kyaFetch(
  key: SecretKey,
  chain: Chain | string | object[],
  options?: KyaFetchOptions,
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/** Verifies and decides on a standard Request (never rejects for a refusal). */
export declare function checkRequest(gate: Gate, request: Request): Promise<GateOutcome>;

/** The Rust middleware's answer to a refusal: status, problem JSON and headers. */
export declare function problemResponse(outcome: GateOutcome): Response;

/** `guard(request)` → `{ outcome, response }`; `response` is null when admitted. */
export declare function kyaGuard(
  gate: Gate,
): (request: Request) => Promise<{ outcome: GateOutcome; response: Response | null }>;
