// Runs an edge-style handler (`{ fetch(request, env) }`) under Node's http server: each
// incoming request becomes a standard Request (its URL from the Host header), each Response
// is written back as it is.
//   node serve-node.mjs <handler.mjs> <host:port>   (env: the process environment)
import { createServer } from "node:http";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";

/** A Request of an http.IncomingMessage. */
function toRequest(req) {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(`http://${req.headers.host}${req.url}`, {
    method: req.method,
    headers,
    body: hasBody ? Readable.toWeb(req) : undefined,
    duplex: "half",
  });
}

/** Serves `handler` on `port` of `host`; resolves to the server once it listens. */
export function serve(handler, { host = "127.0.0.1", port, env = {} }) {
  const server = createServer(async (req, res) => {
    try {
      const response = await handler.fetch(toRequest(req), env);
      res.writeHead(response.status, [...response.headers].flat());
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(error));
    }
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [module, address] = process.argv.slice(2);
  const [host, port] = address.split(":");
  const handler = (await import(pathToFileURL(module).href)).default;
  await serve(handler, { host, port: Number(port), env: process.env });
  console.log(`listening on http://${address}`);
}
