// Browsers, Deno and any runtime with fetch of module-relative URLs: the WebAssembly module
// is fetched and compiled (streaming) once, at import (top-level await). No Node API is used.
import init from "./wasm/kya_js.js";

await init({ module_or_path: new URL("./wasm/kya_js_bg.wasm", import.meta.url) });

export * from "./api.js";
