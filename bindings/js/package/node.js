// Node (>= 20): the WebAssembly module is read from the package folder and compiled once,
// synchronously, at import.
import { readFileSync } from "node:fs";
import { initSync } from "./wasm/kya_js.js";

initSync({ module: readFileSync(new URL("./wasm/kya_js_bg.wasm", import.meta.url)) });

export * from "./api.js";
