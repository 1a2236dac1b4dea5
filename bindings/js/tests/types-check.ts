// Type-checked (tsc --strict, never run) against the installed package's .d.ts files: the
// API is typed, and misuse is a type error (each @ts-expect-error must find one).
import {
  Chain, Gate, Grant, Policy, SecretKey, Verifier, KyaError, AmountExceedsCeiling, codes,
  checkRequest, issueAuthorization, kyaFetch, problemResponse, kyaGuard,
  type GateOutcome, type KyaCode, type Problem, type Reason, type SignedRequest,
} from "kya";
import { initKyaSync } from "kya/manual";

const principal: SecretKey = SecretKey.generate();
const agent = SecretKey.generate();
const grant = new Grant("payments/send", { maxAmount: "25.00 USD", budget: { limit: "100.00 USD", period: 86400 } });
const credential = issueAuthorization(principal, {
  agent: agent.did,
  validFrom: new Date(),
  validUntil: "2030-01-01T00:00:00Z",
  grants: [grant, { action: "catalog/read" }],
});
const chain = new Chain([credential]);
const digest: string = chain.digest;
const signedFetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> = kyaFetch(agent, chain, { expiresIn: 30 });

const verifier = new Verifier(Policy.fromJson({ trustedRoots: [principal.did] }), { ledger: true });
const gate = new Gate(verifier, { routes: [{ method: "POST", path: "/pay", action: "payments/send" }] });
async function handle(request: Request): Promise<Response> {
  const outcome: GateOutcome = await checkRequest(gate, request);
  if (!outcome.admitted) return problemResponse(outcome);
  const reasons: Reason[] = outcome.reasons;
  const problem: Problem | undefined = outcome.problemObject();
  const guarded = await kyaGuard(gate)(request);
  return Response.json({ amount: outcome.amount ?? null, reasons, problem, r: guarded.response === null });
}

try {
  verifier.verifyChain(chain.toJson());
} catch (e) {
  if (e instanceof KyaError) {
    const code: KyaCode | null = e.code;
    const link: number | null = e.link;
    console.log(code, link, e.family);
  }
  if (e instanceof AmountExceedsCeiling) {
    const exact: "amount_exceeds_ceiling" = e.code;
    console.log(exact);
  }
}
const signed: SignedRequest = new (await import("kya")).RequestSigner(agent, chain).sign("GET", "https://shop.example/");
const pairs: Array<[string, string]> = signed.headers;
const all: string[] = codes();
initKyaSync(new Uint8Array());

// @ts-expect-error an action is a string
new Grant(42);
// @ts-expect-error no such option
new Grant("payments", { maxAmmount: "1.00 USD" });
// @ts-expect-error an authorisation needs its agent, grants and window
issueAuthorization(principal, { grants: [] });
// @ts-expect-error not a code
const wrong: KyaCode = "no_such_code";

export { handle, digest, signedFetch, pairs, all, wrong };
