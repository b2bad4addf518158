// tests/npm/browser.test.mjs - the package in a real browser: headless
// Chromium opens a page served on loopback that imports the installed
// package and syncs a local D1 database with the Hrana (Turso) test
// server; the test reads the page's result and both databases, and keeps a
// screenshot ($SMG_T/browser.png, or SMG_NPM_ARTIFACTS=DIR to keep it
// after the test).
//
// The page's server is same-origin for everything: the package's files,
// the page, D1's API under /a/ and Hrana's under /h/ (passed through to
// the servers), so no CORS setting of theirs is involved.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
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
			if (req.url === "/" || req.url === "/index.html") {
				res.writeHead(200, { "content-type": "text/html" });
				return res.end(page);
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

test("headless Chromium syncs D1 and Hrana with the package, every value type", async (t) => {
	const browser = chromium();
	assert.ok(browser, "chromium is needed for the browser test (apt-get install chromium, or scripts/deps --test --npm)");
	const schema = "CREATE TABLE v(id INTEGER PRIMARY KEY, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT);";
	const rows = everyValueRows();
	await d1sql(A, `DROP TABLE IF EXISTS v; DROP TABLE IF EXISTS w; ${schema} INSERT INTO v VALUES ${rows.slice(0, 6).join(", ")};`);
	await hsql(`DROP TABLE IF EXISTS v; DROP TABLE IF EXISTS w; ${schema} INSERT INTO v VALUES ${rows.slice(6).join(", ")};`);

	let gotReport;
	const reported = new Promise((resolve) => { gotReport = resolve; });
	const state = {};
	const server = serve(state, (r) => gotReport(r));
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	const origin = `http://127.0.0.1:${server.address().port}`;
	// the URLs through this origin: D1's endpoint is what comes before
	// /client/v4/ (target.c), so /a stays in every request
	state.options = {
		source: { ...endpoint(A), url: endpoint(A).url.replace(A.D1_URL, origin + "/a") },
		dest: { ...hranaEndpoint(), url: origin + "/h" },
		sync: { tables: ["v"] },
	};

	const shot = join(T, "browser.png");
	const profile = join(T, "chromium-profile");
	mkdirSync(profile, { recursive: true });
	// --virtual-time-budget: the screenshot waits until the page is idle
	// (its fetches done) or the budget is spent
	const chrome = spawn(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-dev-shm-usage", `--user-data-dir=${profile}`, "--window-size=1000,800",
		"--virtual-time-budget=120000", `--screenshot=${shot}`, `${origin}/`],
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
	assert.equal(report.result.command, "sync");
	assert.equal(report.result.apply_remote.upserted, 6);
	assert.equal(report.result.apply_local.upserted, 5);
	assert.equal(report.after.total.identical, 11);
	const a = typedDump(A.D1_SQLITE, "v"), b = typedDump(H.HRANA_SQLITE, "v");
	assert.equal(a, b, "both databases hold the same rows");
	assert.equal(a.trim().split("\n").length, 11);

	await exited;
	assert.ok(existsSync(shot) && statSync(shot).size > 1000, `a screenshot at ${shot}: ${chromeErr.slice(-500)}`);
	if (process.env.SMG_NPM_ARTIFACTS) {
		mkdirSync(process.env.SMG_NPM_ARTIFACTS, { recursive: true });
		copyFileSync(shot, join(process.env.SMG_NPM_ARTIFACTS, "browser.png"));
	}
});
