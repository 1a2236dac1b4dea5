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
//
// Offline apart from the local node given as `rpc` (verify/settle only).
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
import { toFacilitatorEvmSigner } from "@x402/evm";
import { ExactEvmScheme as ExactEvmClient } from "@x402/evm/exact/client";
import { ExactEvmScheme as ExactEvmFacilitator } from "@x402/evm/exact/facilitator";
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

const command = process.argv[2];
const input = await readStdin();
const result = command === "pay" ? await pay(input) : command === "verify" ? await verify(input) : null;
if (!result) {
  process.stderr.write(`usage: node interop.mjs pay|verify < input.json\n`);
  process.exit(2);
}
process.stdout.write(json(result) + "\n");
