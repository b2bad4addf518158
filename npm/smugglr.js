// smugglr.js - the package's API: two HTTP SQL endpoints synced by the
// engine of the smugglr programs, compiled to WebAssembly.
//
// Each operation runs the programs as `smugglr` (bin/smugglr) runs them, in
// a fresh instance of the module, with files in its memory for pipes:
//   both sides:  smg-fetch SIDE > a.ndjson, b.ndjson
//   diff:        smg-diff -d DIR a.ndjson b.ndjson > changes
//   write:       smg-apply --only remote|local -i changes SIDE
// and gives back what `smugglr -o json` prints, parsed.  The source plays
// the CLI's local database, dest its target.
import createEngine from "./dist/engine.js";
import { loadWasm } from "./wasm.js";

// [sync] keys of config.toml (config.example.toml), by their names here.
const SYNC_KEYS = {
	tables: "strings",
	excludeTables: "strings",
	timestampColumn: "string",
	conflictResolution: "string",
	excludeColumns: "strings",
	maxRetries: "integer",
	initialRetryDelayMs: "integer",
	maxRetryDelayMs: "integer",
	backoffMultiplier: "float",
	batchSize: "integer",
	maxStatementBytes: "integer",
	timeoutSecs: "integer",
	lowSpeedLimit: "integer",
	lowSpeedSecs: "integer",
};
const SIDE_KEYS = ["url", "authToken", "profile", "endpoint"];
const RUN_KEYS = ["dryRun", "delete", "createTables", "addColumns", "samples"];
const EXIT_CONFLICT = 6, EXIT_PARTIAL = 8, EXIT_USAGE = 2;
const MAX_ROUNDS = 5;	// bin/smugglr's max_rounds
const PROGRAMS = { fetch: 0, diff: 1, apply: 2 };

/** An error of an operation: the fields of `smugglr -o json`'s error object. */
export class SmugglrError extends Error {
	constructor(command, message, exitCode, stderr = "") {
		super(message);
		this.name = "SmugglrError";
		this.command = command;
		this.error = message;
		this.exit_code = exitCode;
		this.stderr = stderr;
	}
}

const snake = (k) => k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());

function usage(command, message) {
	return new SmugglrError(command, message, EXIT_USAGE);
}

function checkKeys(command, what, obj, allowed) {
	if (obj === undefined || obj === null)
		return {};
	if (typeof obj !== "object" || Array.isArray(obj))
		throw usage(command, `${what} must be an object`);
	for (const k of Object.keys(obj))
		if (!allowed.includes(k))
			throw usage(command, `${what}: unknown option "${k}" (known: ${allowed.join(", ")})`);
	return obj;
}

// The [sync] section as TOML; values are checked here for their type and
// by the C config reader for everything else, as the CLI's file would be.
function syncToml(sync) {
	let out = "[sync]\n";
	for (const [k, v] of Object.entries(sync)) {
		if (v === undefined)
			continue;
		const type = SYNC_KEYS[k];
		const bad = () => usage("init", `sync.${k} must be ${type === "strings" ? "an array of strings" : "a " + type}`);
		let text;
		if (type === "strings") {
			if (!Array.isArray(v) || v.some((s) => typeof s !== "string"))
				throw bad();
			text = "[" + v.map((s) => JSON.stringify(s)).join(", ") + "]";
		} else if (type === "string") {
			if (typeof v !== "string")
				throw bad();
			text = JSON.stringify(v);
		} else if (type === "integer") {
			if (!Number.isSafeInteger(v))
				throw bad();
			text = String(v);
		} else {
			if (typeof v !== "number" || !Number.isFinite(v))
				throw bad();
			text = Number.isInteger(v) ? v.toFixed(1) : String(v);
		}
		out += `${snake(k)} = ${text}\n`;
	}
	return out;
}

// A SQLite database image as a side: the CLI's local_db, worked on in the
// module's memory; Smugglr.database() gives it back.
function checkDatabase(name, side) {
	checkKeys("init", name, side, ["database"]);
	const d = side.database;
	if (!(d instanceof ArrayBuffer) && !ArrayBuffer.isView(d))
		throw usage("init", `${name}.database must be the bytes of a SQLite database`);
	const bytes = d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
	return { database: bytes.slice(), path: `/smugglr/${name}.db` };
}

function checkSide(name, side) {
	if (side && typeof side === "object" && "database" in side)
		return checkDatabase(name, side);
	checkKeys("init", name, side, SIDE_KEYS);
	if (!side || typeof side.url !== "string")
		throw usage("init", `${name}.url is missing`);
	if (!/^(https?:\/\/|libsql:\/\/|d1:)/.test(side.url))
		throw usage("init", `${name}.url: ${side.url}: not an HTTP SQL endpoint (http(s)://, libsql:// or d1:ACCOUNT/DATABASE)`);
	for (const k of SIDE_KEYS)
		if (side[k] !== undefined && typeof side[k] !== "string")
			throw usage("init", `${name}.${k} must be a string`);
	return { url: side.url, authToken: side.authToken ?? "", profile: side.profile ?? "",
		endpoint: side.endpoint ?? "" };
}

// The options of smg-fetch and smg-apply that name a side.
function sideArgs(side) {
	const a = [];
	if (side.profile) a.push("--profile", side.profile);
	if (side.authToken) a.push("--token", side.authToken);
	if (side.endpoint) a.push("--endpoint", side.endpoint);
	return a;
}

/** One instance of the module: its files, its programs. */
class Engine {
	static async start(module) {
		const e = new Engine();
		e.stderr = "";
		e.mod = await createEngine({
			instantiateWasm(imports, done) {
				WebAssembly.instantiate(module, imports).then((inst) => done(inst, module));
				return {};
			},
			print: () => {},
			printErr: (line) => { e.stderr += line + "\n"; },
			// exit(): unwind to run(), never end the process or page
			quit: (status, toThrow) => { throw toThrow; },
		});
		e.mod.FS.mkdirTree("/smugglr");
		growByDoubling(e.mod.FS.filesystems.MEMFS);
		return e;
	}

	write(path, text) { this.mod.FS.writeFile(path, text); }
	read(path) {
		try { return this.mod.FS.readFile(path, { encoding: "utf8" }); }
		catch { return ""; }
	}

	// Runs a program, its stdout to the file out; {status, out, err} with
	// out's text when out is not given.  exit() inside ends up here as an
	// exception that carries the status.
	async run(program, args, outFile) {
		const m = this.mod;
		const argv = ["smg-" + program, ...args];
		const ptrs = argv.map((s) => {
			const n = new TextEncoder().encode(s).length + 1;
			const p = m._malloc(n);
			writeString(m, s, p);
			return p;
		});
		const vec = m._malloc(4 * (ptrs.length + 1));
		ptrs.forEach((p, i) => { m.HEAP32[(vec >> 2) + i] = p; });
		m.HEAP32[(vec >> 2) + ptrs.length] = 0;
		const out = outFile || `/smugglr/${program}.out`, err = `/smugglr/${program}.err`;
		let status;
		try {
			status = await m.ccall("smg_wasm_run", "number",
				["number", "number", "number", "string", "string"],
				[PROGRAMS[program], argv.length, vec, out, err], { async: true });
		} catch (e) {
			if (!e || e.name !== "ExitStatus")
				throw e;
			status = e.status;
			m._smg_wasm_flush();
		}
		for (const p of ptrs) m._free(p);
		m._free(vec);
		return { status, out: outFile ? "" : this.read(out), err: this.read(err) };
	}

	label(side) {
		const m = this.mod;
		const err = "/smugglr/label.err";
		let p = 0;
		try {
			p = m.ccall("smg_wasm_label", "number",
				["string", "string", "string", "string", "string", "string"],
				["/smugglr/config.toml", side.url, side.profile, side.authToken, side.endpoint, err]);
		} catch (e) {
			if (!e || e.name !== "ExitStatus")
				throw e;
			m._smg_wasm_flush();
			throw failure("init", e.status, this.read(err));
		}
		const s = m.UTF8ToString(p);
		m._free(p);
		return s;
	}
}

// The memory file system grows a file past 1 MiB by an eighth at a time,
// copying it each time: a stream of 100k rows was copied some 40 times.
// Doubling copies it about twice.
function growByDoubling(memfs) {
	const grow = memfs.expandFileStorage;
	memfs.expandFileStorage = function (node, want) {
		const have = node.contents ? node.contents.length : 0;
		return grow.call(this, node, want > have ? Math.max(want, 2 * have) : want);
	};
}

function writeString(m, s, p) {
	const b = new TextEncoder().encode(s);
	m.HEAPU8.set(b, p);
	m.HEAPU8[p + b.length] = 0;
}

// The last line of a program's stderr that says something, its name off
// (bin/smugglr's last_message).
function lastMessage(err) {
	const lines = err.split("\n").filter((l) => l.trim() !== "");
	return lines.length ? lines[lines.length - 1].replace(/^(smg-[a-z0-9]*|smugglr): /, "") : "";
}

function failure(command, status, err, stage) {
	const msg = lastMessage(err) || `${stage || command} failed with exit status ${status}`;
	return new SmugglrError(command, msg, status, err);
}

// bin/smugglr's conflicted(): the number of rows a compare-and-set found
// changed since the diff, or 0 when the failure was something else.
function conflictedRows(err) {
	let n = 0;
	for (const m of err.matchAll(/^smg-apply: .*: ([0-9]*) rows? changed since the diff/gm))
		n = Number(m[1]);
	if (!n && /rows changed since the diff/.test(err))
		n = 1;	// a remote batch says "rows" without counting them
	return n;
}

// The package's own module, compiled once however many Smugglrs use it.
let packaged;

export class Smugglr {
	#module; #source; #dest; #config; #labels; #disposed = false;

	/**
	 * Checks the options and both sides' settings, compiles the module.
	 * options: {source, dest, sync, wasm}; see smugglr.d.ts.
	 */
	static async init(options = {}) {
		checkKeys("init", "options", options, ["source", "dest", "sync", "wasm"]);
		const s = new Smugglr();
		s.#source = checkSide("source", options.source);
		s.#dest = checkSide("dest", options.dest);
		s.#config = syncToml(checkKeys("init", "sync", options.sync, Object.keys(SYNC_KEYS)));
		const w = options.wasm;
		s.#module = w instanceof WebAssembly.Module ? w
			: w === undefined ? await (packaged ??= loadWasm().then((b) => WebAssembly.compile(b))
				.catch((e) => { packaged = undefined; throw e; }))
			: await WebAssembly.compile(await loadWasm(w));
		const e = await s.#engine();
		s.#labels = [s.#source, s.#dest].map((side) => side.path || e.label(side));
		return s;
	}

	async #engine() {
		if (this.#disposed)
			throw new SmugglrError("", "this Smugglr was disposed", 1);
		const e = await Engine.start(this.#module);
		e.write("/smugglr/config.toml", this.#config);
		for (const side of [this.#source, this.#dest])
			if (side.path)
				e.write(side.path, side.database);
		return e;
	}

	// Both sides as streams, then smg-diff with the porcelain's options.
	async #diffStage(e, command, dir, opts, extra, outFile) {
		const inputs = [];
		for (const [side, file] of [[this.#source, "/smugglr/local.ndjson"], [this.#dest, "/smugglr/remote.ndjson"]]) {
			inputs.push(side.path || file);	// smg-diff reads a database itself
			if (side.path)
				continue;
			const r = await e.run("fetch", ["-q", "-c", "/smugglr/config.toml", ...sideArgs(side), side.url], file);
			if (r.status !== 0)
				throw failure(command, r.status, r.err, "fetch");
		}
		const args = ["-q", "-c", "/smugglr/config.toml", "--local-name", this.#labels[0],
			"--remote-name", this.#labels[1], "-d", dir, "-r", "json", ...extra];
		if (opts.addColumns && dir !== "sync") args.push("--add-columns");
		const r = await e.run("diff", [...args, ...inputs], outFile);
		if (r.status !== 0 && r.status !== EXIT_PARTIAL)
			throw failure(command, r.status, r.err, "diff");
		return r;
	}

	async #apply(e, command, which, opts) {
		const side = which === "local" ? this.#source : this.#dest;
		const args = ["-q", "-r", "json", "--only", which, "-c", "/smugglr/config.toml",
			"-i", "/smugglr/changes.ndjson", ...(side.path ? [] : sideArgs(side))];
		if (opts.dryRun) args.push("-n");
		if (opts.createTables) args.push("--create-tables");
		if (opts.addColumns) args.push("--add-columns");
		const r = await e.run("apply", [...args, side.path || side.url]);
		if (r.status === 0 && side.path)
			side.database = e.mod.FS.readFile(side.path);
		return r;
	}

	/** What each side would get (`smugglr -o json diff`). */
	async diff(opts = {}) {
		checkKeys("diff", "options", opts, ["samples"]);
		const e = await this.#engine();
		const samples = String(opts.samples ?? 3);
		const r = await this.#diffStage(e, "diff", "sync", opts, ["--samples", samples]);
		return { command: "diff", ...JSON.parse(r.out) };
	}

	/** Source to dest (`smugglr -o json push`). */
	push(opts = {}) { return this.#oneway("push", "remote", opts); }
	/** Dest to source (`smugglr -o json pull`). */
	pull(opts = {}) { return this.#oneway("pull", "local", opts); }

	async #oneway(command, which, opts) {
		checkKeys(command, "options", opts, RUN_KEYS);
		let rounds = 0, conflicts = 0;
		for (;;) {
			rounds++;
			const e = await this.#engine();
			const d = await this.#changes(e, command, command, opts, opts.delete ? ["--delete"] : []);
			const a = await this.#apply(e, command, which, opts);
			const n = await this.#conflict(command, a, rounds);
			if (n) { conflicts += n; continue; }
			return { command, dry_run: !!opts.dryRun, rounds, conflicts_retried: conflicts,
				diff: d, apply: JSON.parse(a.out) };
		}
	}

	/** Both ways (`smugglr -o json sync`). */
	async sync(opts = {}) {
		checkKeys("sync", "options", opts, ["dryRun", "createTables"]);
		let rounds = 0, conflicts = 0;
		round: for (;;) {
			rounds++;
			const e = await this.#engine();
			const d = await this.#changes(e, "sync", "sync", opts, []);
			const applied = [];
			for (const which of ["remote", "local"]) {
				const a = await this.#apply(e, "sync", which, opts);
				const n = await this.#conflict("sync", a, rounds, which === "local");
				if (n) { conflicts += n; continue round; }
				applied.push(JSON.parse(a.out));
			}
			return { command: "sync", dry_run: !!opts.dryRun, rounds, conflicts_retried: conflicts,
				diff: d, apply_remote: applied[0], apply_local: applied[1] };
		}
	}

	// The change stream in its file, the diff's report parsed.
	async #changes(e, command, dir, opts, extra) {
		await this.#diffStage(e, command, dir, opts,
			["--report-file", "/smugglr/diff.report", ...extra], "/smugglr/changes.ndjson");
		return JSON.parse(e.read("/smugglr/diff.report"));
	}

	// 0 when apply succeeded; rows to count when a conflict calls for
	// another round; throws otherwise.
	async #conflict(command, a, rounds, halfway = false) {
		if (a.status === 0)
			return 0;
		const n = a.status === EXIT_CONFLICT ? conflictedRows(a.err) : 0;
		if (n && rounds < MAX_ROUNDS)
			return n;
		const err = failure(command, a.status, a.err, "apply");
		if (n)
			err.error = err.message = `${n} rows changed during each of ${rounds} rounds: giving up (is something rewriting them all the time?)`;
		else if (halfway)
			err.error = err.message = `${err.message} (sync stopped halfway: the target was written, the local database was not; run smugglr sync again to finish it)`;
		throw err;
	}

	/** The SQLite database image of a side given as {database}, as the
	 * last operation left it. */
	database(which = "source") {
		const side = which === "source" ? this.#source : which === "dest" ? this.#dest : null;
		if (!side || !side.path)
			throw usage("database", `${which}: not a side given as a database`);
		return side.database.slice();
	}

	/** Forgets the compiled module; later calls throw. */
	dispose() {
		this.#disposed = true;
		this.#module = null;
	}
}

export default Smugglr;
