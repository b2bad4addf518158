// wasm.js - where the package's .wasm is, and its bytes from wherever the
// caller keeps them (the "./wasm" export: a CDN URL, a prefetched buffer, a
// bundler's asset URL).  smugglr.js loads it through here.

/** The .wasm shipped in this package. */
export const wasmURL = new URL("./dist/smugglr.wasm", import.meta.url);

const isNode = typeof process === "object" && !!(process.versions && process.versions.node);

/**
 * The bytes of the engine: src is bytes already (ArrayBuffer, a typed
 * array), a Response or a promise of one, a URL or URL string (fetch()ed;
 * on Node a file: URL or a path is read from disk), or nothing for the
 * package's own.
 */
export async function loadWasm(src = wasmURL) {
	src = await src;
	if (src instanceof ArrayBuffer)
		return new Uint8Array(src);
	if (ArrayBuffer.isView(src))
		return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
	if (typeof Response !== "undefined" && src instanceof Response) {
		if (!src.ok)
			throw new Error(`smugglr: the .wasm at ${src.url}: HTTP ${src.status}`);
		return new Uint8Array(await src.arrayBuffer());
	}
	if (typeof src !== "string" && !(src instanceof URL))
		throw new TypeError("smugglr: wasm must be bytes, a Response, a URL or a WebAssembly.Module");
	const isFile = src instanceof URL ? src.protocol === "file:" : !/^[a-z][a-z0-9+.-]*:/i.test(src) || src.startsWith("file:");
	if (isNode && isFile) {
		const { readFile } = await import("node:fs/promises");
		return new Uint8Array(await readFile(src instanceof URL ? src : src.startsWith("file:") ? new URL(src) : src));
	}
	return loadWasm(fetch(src));
}
