// wasm.d.ts - types of the "./wasm" export.

/** Where the engine's bytes come from. */
export type WasmSource = ArrayBuffer | ArrayBufferView | Response | Promise<Response> | URL | string;

/** The .wasm shipped in the package (dist/smugglr.wasm). */
export declare const wasmURL: URL;

/** The engine's bytes from src (default: wasmURL). */
export declare function loadWasm(src?: WasmSource): Promise<Uint8Array>;
