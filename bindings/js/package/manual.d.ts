export * from "./api.js";
/** Initialises kya with its WebAssembly module (a WebAssembly.Module or its bytes). */
export declare function initKyaSync(source: WebAssembly.Module | BufferSource): void;
/** Initialises kya with its WebAssembly module, its bytes, a Response or a URL of it. */
export declare function initKya(
  source: WebAssembly.Module | BufferSource | Response | Promise<Response> | URL | string,
): Promise<void>;
