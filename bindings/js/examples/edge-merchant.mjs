// A merchant as an edge worker (Cloudflare Workers / Vercel Edge style): one
// `fetch(request, env)` handler, guarded by kya. Configured by the environment the platform
// passes: KYA_POLICY (the policy JSON text), KYA_AUTHORITY (the host agents sign for) and
// KYA_SCHEME ("https" unless set). Under Node, run it with ./serve-node.mjs.
import { Gate, Policy, Verifier, kyaGuard } from "kya";

let configured = null;

/** One verifier and gate per configuration (its nonce store and cache live with it). */
function guardFor(env) {
  const key = `${env.KYA_POLICY}\n${env.KYA_AUTHORITY}\n${env.KYA_SCHEME}`;
  if (configured?.key !== key) {
    const verifier = new Verifier(Policy.fromJson(env.KYA_POLICY));
    const gate = new Gate(verifier, {
      authority: env.KYA_AUTHORITY,
      scheme: env.KYA_SCHEME ?? "https",
      routes: [
        { method: "POST", path: "/pay", action: "payments/send" },
        { method: "GET", path: "/catalog", action: "catalog/read" },
      ],
    });
    configured = { key, guard: kyaGuard(gate) };
  }
  return configured.guard;
}

export default {
  async fetch(request, env) {
    const { outcome, response } = await guardFor(env)(request);
    if (response) return response; // 401 / 403 / 400 / 413 with kya's problem JSON
    const { pathname } = new URL(request.url);
    const who = { agent: outcome.agent.agent, principal: outcome.agent.principal };
    if (pathname === "/pay") return Response.json({ paid: outcome.amount, ...who });
    if (pathname === "/catalog") return Response.json({ items: ["book", "pen"], ...who });
    return new Response("not found", { status: 404 });
  },
};
