// `kya/manual`: the API without loading the WebAssembly module: call `initKya(source)`
// first with the module (a WebAssembly.Module, its bytes, or a Response of it). For runtimes
// where the application brings the .wasm file itself (`kya/kya.wasm`). No Node API is used.
import init, { initSync } from "./wasm/kya_js.js";

/** Initialises kya with its WebAssembly module (a WebAssembly.Module or its bytes). */
export function initKyaSync(source) {
  initSync({ module: source });
}

/** Initialises kya with its WebAssembly module, a Response or a URL of it. */
export async function initKya(source) {
  await init({ module_or_path: source });
}

export * from "./api.js";
