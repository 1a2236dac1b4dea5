// Edge runtimes whose bundlers import a .wasm file as a compiled WebAssembly.Module
// (Cloudflare Workers / wrangler: the "workerd" condition; Vercel Edge: "edge-light"). Such
// runtimes refuse to compile WebAssembly from bytes at run time, so the module comes in
// through an import. No Node API is used.
import wasmModule from "./wasm/kya_js_bg.wasm";
import { initSync } from "./wasm/kya_js.js";

initSync({ module: wasmModule });

export * from "./api.js";
