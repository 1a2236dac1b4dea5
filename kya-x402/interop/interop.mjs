// The official x402 TypeScript packages (pinned in package.json / package-lock.json) on the
// other side of kya-x402's interoperability tests. One JSON object on stdin, one on stdout.
//
//   pay     {privateKey, paymentRequired,        the official client pays kya's 402:
//            allowedAssets: [{network, asset}]}
//           -> {schema, paymentSignature}          x402Client + ExactEvmScheme (EIP-3009),
//                                                  encoded by encodePaymentSignatureHeader
//   verify  {rpc, privateKey, paymentSignature,  the official facilitator judges a payment
//            paymentRequirements, settle}          (kya's): schema validation, then verify
//           -> {schema, verify, settle?}           (signature, window, balance, simulation on
//                                                  the node), then settle when asked
//   serve   {rpc, privateKey, payTo, asset,      a plain x402 endpoint built with the official
//            amount, name, version}                server packages: x402HTTPResourceServer over
//           -> {listening} (one line), then serves  node:http, prices POST /premium with
//                                                  ExactEvmScheme (server) and settles through
//                                                  the official facilitator, in process
//
// Offline apart from the local node given as `rpc` (verify/settle/serve only).
import { x402Client } from "@x402/core/client";
import { x402Facilitator } from "@x402/core/facilitator";
import {
  decodePaymentRequiredHeader,
  decodePaymentSignatureHeader,
  encodePaymentSignatureHeader,
} from "@x402/core/http";
import {
  parsePaymentPayload,
  parsePaymentRequired,
  parsePaymentRequirements,
} from "@x402/core/schemas";
import { createServer } from "node:http";
import { x402HTTPResourceServer, x402ResourceServer } from "@x402/core/server";
import { toFacilitatorEvmSigner } from "@x402/evm";
import { ExactEvmScheme as ExactEvmClient } from "@x402/evm/exact/client";
import { ExactEvmScheme as ExactEvmFacilitator } from "@x402/evm/exact/facilitator";
import { ExactEvmScheme as ExactEvmServer } from "@x402/evm/exact/server";
import { createPublicClient, createWalletClient, defineChain, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const readStdin = async () => {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
};

const json = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));

async function pay({ privateKey, paymentRequired, allowedAssets }) {
  const account = privateKeyToAccount(privateKey);
  // The client only pays in the assets its operator allows (kya's test token is not one of
  // the packages' default assets).
  const client = x402Client.fromConfig({
    schemes: [{ network: "eip155:*", client: new ExactEvmClient(account) }],
    spendControls: { allowedAssets },
  });
  const required = decodePaymentRequiredHeader(paymentRequired);
  const schema = parsePaymentRequired(required).success;
  const payload = await client.createPaymentPayload(required);
  return { schema, paymentSignature: encodePaymentSignatureHeader(payload) };
}

function facilitatorSigner(rpc, privateKey, chainId) {
  const account = privateKeyToAccount(privateKey);
  const chain = defineChain({
    id: chainId,
    name: "local",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpc] } },
  });
  const pub = createPublicClient({ chain, transport: http(rpc) });
  const wallet = createWalletClient({ account, chain, transport: http(rpc) });
  return toFacilitatorEvmSigner({
    address: account.address,
    readContract: (a) => pub.readContract(a),
    verifyTypedData: (a) => pub.verifyTypedData(a),
    writeContract: (a) => wallet.writeContract(a),
    sendTransaction: (a) => wallet.sendTransaction(a),
    waitForTransactionReceipt: (a) => pub.waitForTransactionReceipt(a),
    getCode: (a) => pub.getCode(a),
  });
}

async function verify({ rpc, privateKey, paymentSignature, paymentRequirements, settle }) {
  const payload = decodePaymentSignatureHeader(paymentSignature);
  const schema = {
    payload: parsePaymentPayload(payload).success,
    requirements: parsePaymentRequirements(paymentRequirements).success,
  };
  const chainId = Number(paymentRequirements.network.split(":")[1]);
  const facilitator = new x402Facilitator().register(
    paymentRequirements.network,
    new ExactEvmFacilitator(facilitatorSigner(rpc, privateKey, chainId)),
  );
  const out = { schema, verify: await facilitator.verify(payload, paymentRequirements) };
  if (settle) out.settle = await facilitator.settle(payload, paymentRequirements);
  return out;
}

// The adapter between node:http and the official HTTP resource server.
function adapterOf(req, url) {
  const header = (name) => {
    const v = req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(", ") : v;
  };
  return {
    getHeader: header,
    getMethod: () => req.method,
    getPath: () => url.pathname,
    getUrl: () => url.href,
    getAcceptHeader: () => header("accept") ?? "",
    getUserAgent: () => header("user-agent") ?? "",
  };
}

function reply(res, { status, headers, body }) {
  const isText = typeof body === "string";
  const typed = Object.keys(headers).some((h) => h.toLowerCase() === "content-type");
  const type = typed ? {} : { "content-type": isText ? "text/plain" : "application/json" };
  res.writeHead(status, { ...type, ...headers });
  res.end(body === undefined ? "" : isText ? body : json(body));
}

async function serve({ rpc, privateKey, payTo, asset, amount, name, version }) {
  const chainId = Number(await createPublicClient({ transport: http(rpc) }).getChainId());
  const network = `eip155:${chainId}`;
  // The official facilitator in process: the server's FacilitatorClient is the facilitator.
  const facilitator = new x402Facilitator().register(
    network,
    new ExactEvmFacilitator(facilitatorSigner(rpc, privateKey, chainId)),
  );
  const resourceServer = new x402ResourceServer(facilitator).register(network, new ExactEvmServer());
  await resourceServer.initialize();
  const routes = {
    "POST /premium": {
      accepts: { scheme: "exact", network, payTo, price: { asset, amount, extra: { name, version } } },
      description: "a premium report",
      mimeType: "text/plain",
    },
  };
  const server = new x402HTTPResourceServer(resourceServer, routes);
  const http_ = createServer(async (req, res) => {
    for await (const _ of req); // the body is not needed
    try {
      const url = new URL(req.url, `http://${req.headers.host}`);
      const adapter = adapterOf(req, url);
      const context = {
        adapter,
        path: url.pathname,
        method: req.method,
        paymentHeader: adapter.getHeader("payment-signature"),
      };
      const result = await server.processHTTPRequest(context);
      if (result.type === "payment-error") return reply(res, result.response);
      if (result.type === "no-payment-required") return reply(res, { status: 200, headers: {}, body: "free\n" });
      const settled = await server.processSettlement(result.paymentPayload, result.paymentRequirements);
      if (!settled.success) return reply(res, settled.response);
      reply(res, { status: 200, headers: settled.headers, body: "the premium report\n" });
    } catch (e) {
      reply(res, { status: 500, headers: {}, body: `${e}\n` });
    }
  });
  await new Promise((resolve) => http_.listen(0, "127.0.0.1", resolve));
  return { listening: `127.0.0.1:${http_.address().port}`, network };
}

const commands = { pay, verify, serve };
const command = commands[process.argv[2]];
if (!command) {
  process.stderr.write(`usage: node interop.mjs pay|verify|serve < input.json\n`);
  process.exit(2);
}
process.stdout.write(json(await command(await readStdin())) + "\n");
