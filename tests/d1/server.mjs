#!/usr/bin/env node
// tests/d1/server.mjs - start Miniflare (workerd) with tests/d1/worker.js and a
// D1 binding persisted under a directory, on a loopback port.
//
//   node server.mjs --persist DIR [--port N] [--host 127.0.0.1]
//                   [--token T] [--account-id A] [--database-id D]
//
// --port 0 (the default) lets the system pick a free port.  When the server
// answers, it writes DIR/env (shell syntax, see below), prints the base URL on
// stdout, and runs until SIGTERM or SIGINT.  Normally started through
// scripts/d1-server, which also installs node_modules.
//
// DIR/env:  D1_URL D1_API D1_ACCOUNT_ID D1_DATABASE_ID D1_TOKEN D1_QUERY_URL
//           D1_RAW_URL D1_SQLITE D1_PID
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";
import fs from "node:fs";

const here = path.dirname(fileURLToPath(import.meta.url));

function usage(msg) {
	if (msg) process.stderr.write(`server.mjs: ${msg}\n`);
	process.stderr.write("usage: node server.mjs --persist DIR [--port N] [--host H] [--token T] [--account-id A] [--database-id D]\n");
	process.exit(2);
}

const opt = {
	persist: null,
	port: 0,
	host: "127.0.0.1",
	token: process.env.D1_TOKEN || "smugglr-test-token",
	accountId: process.env.D1_ACCOUNT_ID || "0123456789abcdef0123456789abcdef",
	databaseId: process.env.D1_DATABASE_ID || "00000000-0000-4000-8000-00000000d1d1",
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	const a = argv[i], v = argv[i + 1];
	const need = () => { if (v === undefined) usage(`${a} needs a value`); i++; return v; };
	switch (a) {
	case "--persist": opt.persist = need(); break;
	case "--port": opt.port = Number(need()); break;
	case "--host": opt.host = need(); break;
	case "--token": opt.token = need(); break;
	case "--account-id": opt.accountId = need(); break;
	case "--database-id": opt.databaseId = need(); break;
	case "-h": case "--help": usage(); break;
	default: usage(`unknown argument ${a}`);
	}
}
if (!opt.persist) usage("--persist DIR is required");
if (!Number.isInteger(opt.port) || opt.port < 0 || opt.port > 65535) usage("bad --port");
opt.persist = path.resolve(opt.persist);
fs.mkdirSync(opt.persist, { recursive: true });

const mf = new Miniflare({
	modules: true,
	scriptPath: path.join(here, "worker.js"),
	modulesRoot: here,	// else module names are relative to the cwd
	compatibilityDate: "2025-01-01",
	bindings: { TOKEN: opt.token, ACCOUNT_ID: opt.accountId, DATABASE_ID: opt.databaseId },
	// The binding's id is the database id, as wrangler does for local D1, so
	// the file under DIR/miniflare-D1DatabaseObject/ is named as wrangler's.
	d1Databases: { DB: opt.databaseId },
	d1Persist: opt.persist,
	host: opt.host,
	port: opt.port,
});

let stopping = false;
async function stop(code) {
	if (stopping) return;
	stopping = true;
	try { await mf.dispose(); } catch (e) { /* exiting anyway */ }
	process.exit(code);
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));
process.on("SIGHUP", () => stop(0));

let url;
try {
	url = await mf.ready;
} catch (e) {
	process.stderr.write(`server.mjs: miniflare failed to start: ${e.stack || e}\n`);
	await stop(1);
}
const base = url.origin;

// First statement creates the database file; also proves the worker answers.
const warm = await fetch(`${base}/__test/sql`, {
	method: "POST",
	body: JSON.stringify({ sql: "SELECT 1" }),
});
if (!warm.ok) {
	process.stderr.write(`server.mjs: warm-up query failed: ${warm.status} ${await warm.text()}\n`);
	await stop(1);
}
await warm.arrayBuffer();

const objdir = path.join(opt.persist, "miniflare-D1DatabaseObject");
let sqlite = "";
try {
	const files = fs.readdirSync(objdir).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
	if (files.length === 1) sqlite = path.join(objdir, files[0]);
} catch (e) { /* left empty: not found */ }

const q = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;
const api = `${base}/client/v4`;
const dbpath = `${api}/accounts/${opt.accountId}/d1/database/${opt.databaseId}`;
const env = [
	["D1_URL", base],
	["D1_API", api],
	["D1_ACCOUNT_ID", opt.accountId],
	["D1_DATABASE_ID", opt.databaseId],
	["D1_TOKEN", opt.token],
	["D1_QUERY_URL", `${dbpath}/query`],
	["D1_RAW_URL", `${dbpath}/raw`],
	["D1_SQLITE", sqlite],
	["D1_PID", process.pid],
].map(([k, v]) => `${k}=${q(v)}\n`).join("");
const envfile = path.join(opt.persist, "env");
fs.writeFileSync(`${envfile}.tmp`, env);
fs.renameSync(`${envfile}.tmp`, envfile);
process.stdout.write(`${base}\n`);
