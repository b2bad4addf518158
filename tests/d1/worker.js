// tests/d1/worker.js - a test Worker that serves Cloudflare's D1 REST API
// over a real D1 binding (miniflare 4 / workerd), for smugglr's tests.
//
//   POST /client/v4/accounts/:account_id/d1/database/:database_id/query
//   POST /client/v4/accounts/:account_id/d1/database/:database_id/raw
//        body {"sql": "...", "params": [...]} or {"batch": [{"sql","params"}, ...]}
//
// Answers in Cloudflare's v4 envelope; errors in Cloudflare's error shape.
// Test control endpoints (not Cloudflare's) live under /__test/: see README.md.
//
// How statements run: the D1 binding (cloudflare-internal:d1-api) is a thin
// client that POSTs [{sql, params}, ...] to the D1 database service's /query
// endpoint; the service runs them all in one transaction and can answer rows
// and columns.  The REST API is that same service reached over HTTP, so this
// Worker splits the request's SQL into statements the way the REST API does
// (one result per statement) and forwards them to the binding's service in one
// call: one request = one transaction, every statement keeps its own meta, and
// /raw gets its column names even for zero rows.  Limits (100 bound parameters,
// 100,000-byte statements, no BEGIN/COMMIT) are those of the runtime itself.

const ROUTE = /^\/client\/v4\/accounts\/([^/]+)\/d1\/database\/([^/]+)\/(query|raw)\/?$/;

// Cloudflare error codes used here.
const E_AUTH = 10000;		// "Authentication error" (401/403)
const E_NO_ROUTE = 7000;	// "No route for that URI"
const E_BAD_ID = 7003;		// "Could not route to ..., perhaps your object identifier is invalid?"
const E_NO_DB = 7404;		// database not found
const E_BAD_BODY = 7400;	// malformed request body
const E_D1 = 7500;		// D1 query errors (SQL errors, internal errors)
const E_RATE = 971;		// "Please wait and consider throttling your request speed"

let state = freshState();
let fail = null;	// {status, remaining, retry_after, code, message}
let fault = null;	// {kind, remaining, after, status, interval}: malformed answers, /__test/fault

function freshState() {
	return {
		requests: 0,		// requests to the D1 API routes, whatever the answer
		ok: 0,			// of those, answered 200
		errors: 0,		// of those, answered non-200 (injected ones included)
		injected: 0,		// of those, answered by /__test/fail
		queries: 0,		// SQL statements executed by successful requests
		batch_requests: 0,	// successful requests that used {"batch": [...]}
		raw_requests: 0,	// successful requests to /raw
		rows_read: 0,
		rows_written: 0,
		max_params: 0,		// most bound parameters in one statement
		max_statement_bytes: 0,	// longest statement, UTF-8 bytes
		max_statements: 0,	// most statements in one request
		status: {},		// HTTP status -> count
		started: new Date().toISOString(),
	};
}

const LOG_MAX = 1000;
let log = [];	// last requests: {path, status, statements, params, bytes}

function json(status, obj, headers = {}) {
	return new Response(JSON.stringify(obj), {
		status,
		headers: { "content-type": "application/json", ...headers },
	});
}

function cfError(status, code, message, headers = {}) {
	return json(status, { result: null, success: false, errors: [{ code, message }], messages: [] }, headers);
}

function cfOk(result) {
	return json(200, { result, success: true, errors: [], messages: [] });
}

function defaultMessage(status) {
	switch (status) {
	case 401: case 403: return [E_AUTH, "Authentication error"];
	case 429: return [E_RATE, "Please wait and consider throttling your request speed"];
	case 503: return [E_D1, "D1 DB is overloaded. Requests queued for too long."];
	default:
		if (status >= 500) return [E_D1, "internal error; reference = smugglr-test-injected"];
		return [E_D1, "injected error"];
	}
}

// ---- injected malformed answers (/__test/fault) ------------------------------
// Each answers one D1 request without running it (but "trickle", which runs
// it and sends the answer a byte at a time), so nothing a faulty answer
// stands for is written.
const FAULT_KINDS = ["garbage", "truncated", "no_result", "wrong_count", "no_rows",
	"rows_not_array", "row_not_array", "success_false", "internal", "trickle"];

function fakeResult(rows) {
	return { results: { columns: [], rows }, success: true, meta: { changes: 0 } };
}

async function faultAnswer(f, req, env, verb) {
	const text = await req.text();
	let n = 1;
	try { const b = JSON.parse(text); if (Array.isArray(b.batch)) n = b.batch.length; } catch (e) { /* n = 1 */ }
	const ok = (result) => json(f.status, { result, success: true, errors: [], messages: [] });
	switch (f.kind) {
	case "garbage":
		return new Response("<html><body><h1>502 Bad Gateway</h1></body></html>\n",
			{ status: f.status, headers: { "content-type": "text/html" } });
	case "truncated": {
		const whole = JSON.stringify({ result: Array.from({ length: n }, () => fakeResult([])),
			success: true, errors: [], messages: [] });
		return new Response(whole.slice(0, Math.floor(whole.length / 2)),
			{ status: f.status, headers: { "content-type": "application/json" } });
	}
	case "no_result": return ok([]);
	case "wrong_count": return ok(Array.from({ length: Math.max(n - 1, 0) }, () => fakeResult([])));
	case "no_rows": return ok(Array.from({ length: n }, () => ({ results: { columns: [] }, success: true, meta: {} })));
	case "rows_not_array": return ok(Array.from({ length: n }, () => ({ results: { columns: [], rows: {} }, success: true, meta: {} })));
	case "row_not_array": return ok(Array.from({ length: n }, () => fakeResult([1])));
	case "success_false":
		return json(f.status, { result: null, success: false, errors: [], messages: [] });
	case "internal":
		return cfError(f.status, E_D1, "internal error; reference = smugglr-test-fault");
	case "trickle": {
		const parsed = parseBody(text);
		const result = await runStatements(env, parsed.stmts, verb === "raw" ? "ROWS_AND_COLUMNS" : "ARRAY_OF_OBJECTS");
		const bytes = utf8.encode(JSON.stringify({ result, success: true, errors: [], messages: [] }));
		let i = 0;
		const stream = new ReadableStream({
			async pull(c) {
				if (i >= bytes.length) { c.close(); return; }
				await new Promise((r) => setTimeout(r, f.interval));
				c.enqueue(bytes.slice(i, i + 1));
				i++;
			},
		});
		return new Response(stream, { status: 200, headers: { "content-type": "application/json" } });
	}
	}
	return cfError(500, E_D1, `test worker: unknown fault ${f.kind}`);
}

// ---- SQL statement splitting -------------------------------------------------
// Splits at ';' outside strings, quoted identifiers and comments, the way
// sqlite3_complete() decides where a statement ends: inside CREATE TRIGGER a
// ';' ends the statement only after the keyword END.  Statements that are only
// whitespace and comments are dropped.
function splitStatements(sql) {
	const out = [];
	let start = 0, i = 0, n = sql.length;
	let words = [];		// first words of the current statement (for CREATE TRIGGER)
	let last = "";		// last significant token of the current statement
	let significant = false;
	const isWordChar = (c) => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
	const inTrigger = () => {
		let w = words.slice(0, 4);
		if (w[0] !== "CREATE") return false;
		if (w[1] === "TEMP" || w[1] === "TEMPORARY") w = [w[0], ...w.slice(2)];
		return w[1] === "TRIGGER";
	};
	const finish = (end) => {
		if (significant) out.push(sql.slice(start, end).trim());
		start = end + 1; words = []; last = ""; significant = false;
	};
	while (i < n) {
		const c = sql[i];
		if (c === "-" && sql[i + 1] === "-") {
			while (i < n && sql[i] !== "\n") i++;
			continue;
		}
		if (c === "/" && sql[i + 1] === "*") {
			const e = sql.indexOf("*/", i + 2);
			i = e < 0 ? n : e + 2;
			continue;
		}
		if (c === "'" || c === '"' || c === "`" || c === "[") {
			const close = c === "[" ? "]" : c;
			let j = i + 1;
			for (;;) {
				if (j >= n) break;
				if (sql[j] === close) {
					if (close !== "]" && sql[j + 1] === close) { j += 2; continue; }
					break;
				}
				j++;
			}
			i = j + 1; significant = true; last = "'";
			continue;
		}
		if (c === ";") {
			if (!inTrigger() || last === "END") finish(i);
			else last = ";";
			i++;
			continue;
		}
		if (/\s/.test(c)) { i++; continue; }
		if (isWordChar(c)) {
			let j = i;
			while (j < n && isWordChar(sql[j])) j++;
			const w = sql.slice(i, j).toUpperCase();
			if (words.length < 4) words.push(w);
			last = w; significant = true; i = j;
			continue;
		}
		last = c; significant = true; i++;
	}
	finish(n);
	return out;
}

// ---- running statements ------------------------------------------------------

// D1's documented limit on a string or BLOB (developers.cloudflare.com/d1/
// platform/limits: "Maximum string, BLOB or table row size 2,000,000 bytes"),
// which workerd's SQLite does not apply (it allows about 2 MiB): enforced
// here on parameters and on every value an answer would carry.
const MAX_VALUE_BYTES = 2000000;
const TOOBIG = "string or blob too big: SQLITE_TOOBIG";
function tooBig(s) {
	return s.length > MAX_VALUE_BYTES / 3 && utf8.encode(s).length > MAX_VALUE_BYTES;
}
function checkValueSizes(results) {
	const cells = (row) => (Array.isArray(row) ? row : Object.values(row));
	for (const r of results) {
		const rows = Array.isArray(r.results) ? r.results : (r.results && r.results.rows) || [];
		for (const row of rows)
			for (const v of cells(row))
				if ((typeof v === "string" && tooBig(v)) || (Array.isArray(v) && v.length > MAX_VALUE_BYTES))
					throw new RequestError(400, E_D1, TOOBIG);
	}
}

class RequestError extends Error {
	constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// Turn one {sql, params} into statements for the D1 service.  As in the
// runtime, when one sql holds several statements only the last may take
// parameters.
function toStatements(item, where) {
	if (item === null || typeof item !== "object" || Array.isArray(item))
		throw new RequestError(400, E_BAD_BODY, `${where}: expected an object with "sql" and optional "params"`);
	if (typeof item.sql !== "string")
		throw new RequestError(400, E_BAD_BODY, `${where}: "sql" must be a string`);
	let params = item.params ?? [];
	if (!Array.isArray(params))
		throw new RequestError(400, E_BAD_BODY, `${where}: "params" must be an array`);
	params = params.map((v) => {
		if (typeof v === "string" && tooBig(v)) throw new RequestError(400, E_D1, TOOBIG);
		if (v === null || typeof v === "string" || typeof v === "number") return v;
		if (typeof v === "boolean") return v ? 1 : 0;	// as the D1 binding does
		if (Array.isArray(v) && v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255))
			return v;	// byte array: the D1 service binds it as a BLOB
		throw new RequestError(400, E_D1, `D1_TYPE_ERROR: Type '${typeof v}' not supported for value '${String(v)}'`);
	});
	const stmts = splitStatements(item.sql);
	if (stmts.length === 0)
		throw new RequestError(400, E_D1, "No SQL statements detected.");
	if (stmts.length > 1 && params.length > 0) {
		// Bind to the last statement, as workerd does; the others must not need any.
		return stmts.map((sql, k) => ({ sql, params: k === stmts.length - 1 ? params : [] }));
	}
	return stmts.map((sql) => ({ sql, params }));
}

function parseBody(text) {
	let body;
	try { body = JSON.parse(text); } catch (e) {
		throw new RequestError(400, E_BAD_BODY, "Malformed JSON in request body");
	}
	if (body === null || typeof body !== "object" || Array.isArray(body))
		throw new RequestError(400, E_BAD_BODY, "Request body must be a JSON object");
	if ("batch" in body) {
		if (!Array.isArray(body.batch) || body.batch.length === 0)
			throw new RequestError(400, E_BAD_BODY, `"batch" must be a non-empty array of {"sql", "params"}`);
		return { batch: true, stmts: body.batch.flatMap((q, k) => toStatements(q, `batch[${k}]`)) };
	}
	return { batch: false, stmts: toStatements(body, "body") };
}

const utf8 = new TextEncoder();

async function runStatements(env, stmts, format) {
	const db = env.DB;
	if (!db || !db.fetcher || typeof db.fetcher.fetch !== "function")
		throw new RequestError(500, E_D1, "test worker: this miniflare's D1 binding has no inner fetcher (worker.js needs updating)");
	const r = await db.fetcher.fetch(`http://d1/query?resultsFormat=${format}`, {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify(stmts),
	});
	const text = await r.text();
	let out;
	try { out = JSON.parse(text); } catch (e) {
		throw new RequestError(500, E_D1, `internal error: ${text.split("\n")[0]}`);
	}
	if (!Array.isArray(out)) {
		const msg = out && typeof out.error === "string" ? out.error : text;
		throw new RequestError(400, E_D1, msg);
	}
	checkValueSizes(out);
	return out.map((res) => {
		const meta = { ...res.meta };
		meta.served_by_primary = true;
		meta.timings = { sql_duration_ms: meta.duration ?? 0 };
		return { results: res.results, success: res.success !== false, meta };
	});
}

function countStatements(stmts) {
	let maxp = 0, maxb = 0;
	for (const s of stmts) {
		maxp = Math.max(maxp, s.params.length);
		maxb = Math.max(maxb, utf8.encode(s.sql).length);
	}
	return { maxp, maxb };
}

function finishRequest(path, status, stmts) {
	state.status[status] = (state.status[status] || 0) + 1;
	if (status === 200) state.ok++; else state.errors++;
	const entry = { path, status };
	if (stmts) {
		entry.statements = stmts.length;
		entry.params = stmts.map((s) => s.params.length);
		entry.bytes = stmts.map((s) => utf8.encode(s.sql).length);
	}
	log.push(entry);
	if (log.length > LOG_MAX) log = log.slice(log.length - LOG_MAX);
}

async function handleApi(req, env, url, m) {
	state.requests++;
	const path = url.pathname;
	if (fail && fail.remaining > 0) {
		fail.remaining--;
		state.injected++;
		const f = fail;
		if (fail.remaining <= 0) fail = null;
		const headers = f.retry_after !== undefined ? { "retry-after": String(f.retry_after) } : {};
		finishRequest(path, f.status, null);
		return cfError(f.status, f.code, f.message, headers);
	}
	if (fault && fault.after > 0) {
		fault.after--;
	} else if (fault && fault.remaining > 0) {
		fault.remaining--;
		state.injected++;
		const f = fault;
		if (fault.remaining <= 0) fault = null;
		finishRequest(path, f.status, null);
		return faultAnswer(f, req, env, m[3]);
	}
	const want = `Bearer ${env.TOKEN}`;
	const auth = req.headers.get("authorization");
	if (auth === null || auth !== want) {
		finishRequest(path, 401, null);
		return cfError(401, E_AUTH, "Authentication error");
	}
	const [, account, database, verb] = m;
	if (decodeURIComponent(account) !== env.ACCOUNT_ID) {
		finishRequest(path, 404, null);
		return cfError(404, E_BAD_ID, `Could not route to ${path}, perhaps your object identifier is invalid?`);
	}
	if (decodeURIComponent(database) !== env.DATABASE_ID) {
		finishRequest(path, 404, null);
		return cfError(404, E_NO_DB, `The database ${decodeURIComponent(database)} could not be found`);
	}
	if (req.method !== "POST") {
		finishRequest(path, 405, null);
		return cfError(405, 10405, "Method not allowed");
	}
	let parsed;
	try {
		parsed = parseBody(await req.text());
		const result = await runStatements(env, parsed.stmts, verb === "raw" ? "ROWS_AND_COLUMNS" : "ARRAY_OF_OBJECTS");
		const { maxp, maxb } = countStatements(parsed.stmts);
		state.queries += parsed.stmts.length;
		if (parsed.batch) state.batch_requests++;
		if (verb === "raw") state.raw_requests++;
		state.max_params = Math.max(state.max_params, maxp);
		state.max_statement_bytes = Math.max(state.max_statement_bytes, maxb);
		state.max_statements = Math.max(state.max_statements, parsed.stmts.length);
		for (const r of result) {
			state.rows_read += r.meta.rows_read || 0;
			state.rows_written += r.meta.rows_written || 0;
		}
		finishRequest(path, 200, parsed.stmts);
		return cfOk(result);
	} catch (e) {
		const status = e instanceof RequestError ? e.status : 500;
		const code = e instanceof RequestError ? e.code : E_D1;
		finishRequest(path, status, parsed ? parsed.stmts : null);
		return cfError(status, code, e.message || String(e));
	}
}

// ---- test control endpoints ---------------------------------------------------

async function readJson(req) {
	const t = await req.text();
	if (t.trim() === "") return {};
	return JSON.parse(t);
}

async function handleTest(req, env, url) {
	const p = url.pathname.replace(/\/+$/, "");
	try {
		if (p === "/__test/stats" && req.method === "GET")
			return json(200, { ...state, pending_failures: fail ? { ...fail } : null,
				pending_faults: fault ? { ...fault } : null });
		if (p === "/__test/requests" && req.method === "GET")
			return json(200, log);
		if (p === "/__test/config" && req.method === "GET")
			return json(200, { account_id: env.ACCOUNT_ID, database_id: env.DATABASE_ID, token: env.TOKEN });
		if (p === "/__test/reset" && req.method === "POST") {
			state = freshState(); log = []; fail = null; fault = null;
			return json(200, { success: true });
		}
		if (p === "/__test/fail" && req.method === "POST") {
			const b = await readJson(req);
			const status = b.status;
			if (!Number.isInteger(status) || status < 400 || status > 599)
				return json(400, { success: false, error: '"status" must be an HTTP error status (400-599)' });
			const count = b.count ?? 1;
			if (!Number.isInteger(count) || count < 0)
				return json(400, { success: false, error: '"count" must be a non-negative integer' });
			const [code, message] = defaultMessage(status);
			fail = count === 0 ? null : {
				status, remaining: count,
				retry_after: b.retry_after,
				code: b.code ?? code,
				message: b.message ?? message,
			};
			return json(200, { success: true, pending_failures: fail });
		}
		if (p === "/__test/fault" && req.method === "POST") {
			const b = await readJson(req);
			if (!FAULT_KINDS.includes(b.kind))
				return json(400, { success: false, error: `"kind" must be one of ${FAULT_KINDS.join(", ")}` });
			const count = b.count ?? 1;
			if (!Number.isInteger(count) || count < 0)
				return json(400, { success: false, error: '"count" must be a non-negative integer' });
			const status = b.status ?? 200;
			if (!Number.isInteger(status) || status < 200 || status > 599)
				return json(400, { success: false, error: '"status" must be an HTTP status (200-599)' });
			const after = b.after ?? 0;
			if (!Number.isInteger(after) || after < 0)
				return json(400, { success: false, error: '"after" must be a non-negative integer' });
			fault = count === 0 ? null : { kind: b.kind, remaining: count, after, status, interval: b.interval ?? 1000 };
			return json(200, { success: true, pending_faults: fault });
		}
		if (p === "/__test/sql" && req.method === "POST") {
			// Seeding/inspection: same body and answer as /query, but no token,
			// no injected failures and not counted in the stats.
			const parsed = parseBody(await req.text());
			const format = url.searchParams.get("format") === "raw" ? "ROWS_AND_COLUMNS" : "ARRAY_OF_OBJECTS";
			return cfOk(await runStatements(env, parsed.stmts, format));
		}
	} catch (e) {
		const status = e instanceof RequestError ? e.status : 400;
		const code = e instanceof RequestError ? e.code : E_BAD_BODY;
		return cfError(status, code, e.message || String(e));
	}
	return json(404, { success: false, error: `no test endpoint ${req.method} ${url.pathname}` });
}

export default {
	async fetch(req, env) {
		const url = new URL(req.url);
		if (url.pathname.startsWith("/__test/")) return handleTest(req, env, url);
		const m = url.pathname.match(ROUTE);
		if (m) return handleApi(req, env, url, m);
		return cfError(404, E_NO_ROUTE, "No route for that URI");
	},
};
