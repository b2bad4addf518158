// tests/npm/browser.test.mjs - the package in a real browser: headless
// Chromium opens a page served on loopback that imports the installed
// package and syncs a local D1 database with the Hrana (Turso) test
// server; the test reads the page's result and both databases, and keeps a
// screenshot ($SMG_T/browser.png, or SMG_NPM_ARTIFACTS=DIR to keep it
// after the test).  A second page keeps a SQLite database in the origin
// private file system (OPFS) and syncs it with Hrana.
//
// The page's server is same-origin for everything: the package's files,
// the page, D1's API under /a/ and Hrana's under /h/ (passed through to
// the servers), so no CORS setting of theirs is involved.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { test } from "node:test";
import { A, APP, H, T, d1sql, endpoint, everyValueRows, hranaEndpoint, hsql, typedDump } from "./lib.mjs";

const PKG = join(APP, "node_modules", "smugglr");
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
	".html": "text/html", ".json": "application/json" };

const page = `<!doctype html>
<meta charset="utf-8">
<title>smugglr in the browser</title>
<style>body { font: 14px monospace; margin: 1em } pre { white-space: pre-wrap }</style>
<h1>smugglr: D1 &harr; Hrana</h1>
<p id="state">running</p>
<pre id="out"></pre>
<script type="module">
import { Smugglr } from "/pkg/smugglr.js";
const hold = fetch("/hold");
const say = (state, text) => {
	document.getElementById("state").textContent = state;
	document.getElementById("out").textContent = text;
};
let report;
try {
	const options = await (await fetch("/options.json")).json();
	const s = await Smugglr.init(options);
	const result = await s.sync();
	const after = await s.diff();
	s.dispose();
	report = { result, after };
	say("done", JSON.stringify(result.diff.total) + "\\n" + JSON.stringify(result, null, 1));
} catch (e) {
	report = { error: String(e && e.message || e), exit_code: e && e.exit_code };
	say("failed", report.error);
}
await fetch("/report", { method: "POST", body: JSON.stringify(report) });
await fetch("/done", { method: "POST" });
await hold;
</script>
`;

// A local SQLite database kept in the origin private file system: the page
// stores the seed there, syncs what it reads back from there with Hrana,
// writes the result there, and reports what OPFS then holds.
const opfsPage = `<!doctype html>
<meta charset="utf-8">
<title>smugglr: OPFS database</title>
<h1>smugglr: local database in OPFS &harr; Hrana</h1>
<p id="state">running</p>
<pre id="out"></pre>
<script type="module">
import { Smugglr } from "/pkg/smugglr.js";
const hold = fetch("/hold");
const dir = await navigator.storage.getDirectory();
const save = async (bytes) => {
	const w = await (await dir.getFileHandle("app.db", { create: true })).createWritable();
	await w.write(bytes);
	await w.close();
};
const load = async () => new Uint8Array(await (await (await dir.getFileHandle("app.db")).getFile()).arrayBuffer());
let report;
try {
	await save(new Uint8Array(await (await fetch("/seed.db")).arrayBuffer()));
	const options = await (await fetch("/options.json")).json();
	const s = await Smugglr.init({ ...options, source: { database: await load() } });
	const result = await s.sync();
	await save(s.database());
	s.dispose();
	report = { result };
	document.getElementById("state").textContent = "done";
	document.getElementById("out").textContent = JSON.stringify(result, null, 1);
} catch (e) {
	report = { error: String(e && e.message || e) };
	document.getElementById("state").textContent = "failed: " + report.error;
}
await fetch("/report", { method: "POST", body: JSON.stringify(report) });
await fetch("/opfs.db", { method: "POST", body: await load().catch(() => new Uint8Array(0)) });
await fetch("/done", { method: "POST" });
await hold;
</script>
`;

function chromium() {
	for (const c of ["chromium", "chromium-browser", "google-chrome"])
		if (spawnSync("sh", ["-c", `command -v ${c}`]).status === 0)
			return c;
	return null;
}

// /a/... and /b/... to the emulators, with method, headers and body
async function pass(req, res, base) {
	const chunks = [];
	for await (const c of req) chunks.push(c);
	const headers = { ...req.headers };
	delete headers.host;
	delete headers.connection;
	const r = await fetch(base + req.url.slice(2), { method: req.method, headers,
		body: chunks.length ? Buffer.concat(chunks) : undefined });
	res.writeHead(r.status, { "content-type": r.headers.get("content-type") || "application/octet-stream" });
	res.end(Buffer.from(await r.arrayBuffer()));
}

// state.options: the page's Smugglr.init options (known once listening)
function serve(state, onReport) {
	return createServer(async (req, res) => {
		try {
			if (req.url.startsWith("/a/")) return await pass(req, res, A.D1_URL);
			if (req.url.startsWith("/h/")) return await pass(req, res, H.HRANA_URL);
			if (req.url === "/" || req.url === "/opfs.html") {
				res.writeHead(200, { "content-type": "text/html" });
				return res.end(req.url === "/" ? page : opfsPage);
			}
			// a request kept open until the page is done: headless Chromium's
			// virtual time (--virtual-time-budget) stands still while a fetch
			// is pending, so the screenshot shows the page's end
			if (req.url === "/hold") {
				(state.holds ??= []).push(res);
				return;
			}
			if (req.url === "/done" && req.method === "POST") {
				res.writeHead(204).end();
				for (const h of state.holds ?? []) h.writeHead(204).end();
				state.holds = [];
				state.done = true;
				return state.onDone && state.onDone();
			}
			if (req.url === "/seed.db" && state.seed) {
				res.writeHead(200, { "content-type": "application/octet-stream" });
				return res.end(state.seed);
			}
			if (req.url === "/opfs.db" && req.method === "POST") {
				const chunks = [];
				for await (const c of req) chunks.push(c);
				res.writeHead(204).end();
				return state.onDatabase && state.onDatabase(Buffer.concat(chunks));
			}
			if (req.url === "/options.json") {
				res.writeHead(200, { "content-type": "application/json" });
				return res.end(JSON.stringify(state.options));
			}
			if (req.url === "/report" && req.method === "POST") {
				const chunks = [];
				for await (const c of req) chunks.push(c);
				res.writeHead(204).end();
				return onReport(JSON.parse(Buffer.concat(chunks).toString()));
			}
			if (req.url.startsWith("/pkg/")) {
				const file = normalize(join(PKG, decodeURIComponent(req.url.slice(5))));
				if (file.startsWith(PKG) && existsSync(file) && statSync(file).isFile()) {
					res.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" });
					return res.end(readFileSync(file));
				}
			}
			res.writeHead(404).end();
		} catch (e) {
			res.writeHead(502).end(String(e));
		}
	});
}

const schema = "CREATE TABLE v(id INTEGER PRIMARY KEY, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT);";
const rows = everyValueRows();

/*
 * Serves the pages, opens path in headless Chromium and waits for the
 * page's report; keeps a screenshot named shot, or with shot null keeps the
 * browser open in real time until the report (OPFS does not move under
 * the virtual time a screenshot run uses).  state gets options (the page's
 * Smugglr.init options, made from the origin) and may get seed and
 * onDatabase (the OPFS page's).
 */
async function runPage(t, state, path, shot, options) {
	const browser = chromium();
	assert.ok(browser, "chromium is needed for the browser test (apt-get install chromium, or scripts/deps --test --npm)");
	let gotReport;
	const reported = new Promise((resolve) => { gotReport = resolve; });
	const server = serve(state, (r) => gotReport(r));
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	state.options = options(`http://127.0.0.1:${server.address().port}`);
	const file = shot && join(T, shot);
	const profile = join(T, "chromium-profile-" + (shot || "live"));
	mkdirSync(profile, { recursive: true });
	// --virtual-time-budget: the screenshot waits until the page is idle
	// (its fetches done) or the budget is spent
	const mode = shot ? ["--virtual-time-budget=120000", `--screenshot=${file}`] : ["--remote-debugging-port=0"];
	const chrome = spawn(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-dev-shm-usage", `--user-data-dir=${profile}`, "--window-size=1000,800",
		...mode, `http://127.0.0.1:${server.address().port}${path}`],
	{ stdio: ["ignore", "ignore", "pipe"] });
	let chromeErr = "";
	chrome.stderr.on("data", (d) => { chromeErr += d; });
	const exited = new Promise((resolve) => chrome.on("exit", resolve));
	const timeout = setTimeout(() => chrome.kill(), 180000);
	t.after(() => { clearTimeout(timeout); chrome.kill(); server.close(); });
	const report = await Promise.race([reported,
		exited.then(() => new Promise((r) => setTimeout(r, 2000)))
			.then(() => { throw new Error(`chromium exited without a report: ${chromeErr.slice(-2000)}`); })]);
	assert.equal(report.error, undefined, `the page failed: ${report.error}`);
	if (!shot) {	// what the page posts after its report
		await new Promise((r) => { state.onDone = r; if (state.done) r(); });
		chrome.kill();
		return report;
	}
	await exited;
	assert.ok(existsSync(file) && statSync(file).size > 1000, `a screenshot at ${file}: ${chromeErr.slice(-500)}`);
	if (process.env.SMG_NPM_ARTIFACTS) {
		mkdirSync(process.env.SMG_NPM_ARTIFACTS, { recursive: true });
		copyFileSync(file, join(process.env.SMG_NPM_ARTIFACTS, shot));
	}
	return report;
}

test("headless Chromium syncs D1 and Hrana with the package, every value type", async (t) => {
	await d1sql(A, `DROP TABLE IF EXISTS v; DROP TABLE IF EXISTS w; ${schema} INSERT INTO v VALUES ${rows.slice(0, 6).join(", ")};`);
	await hsql(`DROP TABLE IF EXISTS v; DROP TABLE IF EXISTS w; ${schema} INSERT INTO v VALUES ${rows.slice(6).join(", ")};`);
	// the URLs through this origin: D1's endpoint is what comes before
	// /client/v4/ (target.c), so /a stays in every request
	const report = await runPage(t, {}, "/", "browser.png", (origin) => ({
		source: { ...endpoint(A), url: endpoint(A).url.replace(A.D1_URL, origin + "/a") },
		dest: { ...hranaEndpoint(), url: origin + "/h" },
		sync: { tables: ["v"] },
	}));
	assert.equal(report.result.command, "sync");
	assert.equal(report.result.apply_remote.upserted, 6);
	assert.equal(report.result.apply_local.upserted, 5);
	assert.equal(report.after.total.identical, 11);
	const a = typedDump(A.D1_SQLITE, "v"), b = typedDump(H.HRANA_SQLITE, "v");
	assert.equal(a, b, "both databases hold the same rows");
	assert.equal(a.trim().split("\n").length, 11);
});

test("headless Chromium: a local database kept in OPFS synced with Hrana", async (t) => {
	await hsql(`DROP TABLE IF EXISTS v; DROP TABLE IF EXISTS w; ${schema} INSERT INTO v VALUES ${rows.slice(6).join(", ")};`);
	const seed = join(T, "opfs-seed.db");
	rmSync(seed, { force: true });
	execFileSync("sqlite3", [seed], { input: `${schema} INSERT INTO v VALUES ${rows.slice(0, 6).join(", ")};` });
	let kept;
	const state = { seed: readFileSync(seed), onDatabase: (b) => { kept = b; } };
	const report = await runPage(t, state, "/opfs.html", null, (origin) => ({
		dest: { ...hranaEndpoint(), url: origin + "/h" },
		sync: { tables: ["v"] },
	}));
	assert.equal(report.result.apply_remote.upserted, 6);
	assert.equal(report.result.apply_local.upserted, 5);
	const back = join(T, "opfs-back.db");
	writeFileSync(back, kept);
	const local = typedDump(back, "v"), h = typedDump(H.HRANA_SQLITE, "v");
	assert.equal(local, h, "the database OPFS holds after the sync and Hrana's hold the same rows");
	assert.equal(local.trim().split("\n").length, 11);
});
