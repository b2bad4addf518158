// tests/npm/sync.test.mjs - the package in Node against two local D1
// databases (run by tests/t/npm.sh): every value type synced both ways,
// the databases and the JSON equal to what the CLI (bin/smugglr) makes of
// the same data; push, pull and diff; errors as the CLI's error object.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { A, B, H, T, cli, d1sql, endpoint, everyValueRows, hranaEndpoint, hsql, sqliteFile, typedDump,
	smugglr } from "./lib.mjs";

const { Smugglr, SmugglrError, wasm } = await smugglr();

const schema = `CREATE TABLE v(id INTEGER PRIMARY KEY, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT);
CREATE TABLE w(id INTEGER PRIMARY KEY, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT);`;
const rows = everyValueRows();
// v: rows 1-6 only on A, 7-11 only on B, 12 on both with other values;
// w: every row on A only
const seedA = `${schema}
INSERT INTO v VALUES ${rows.slice(0, 6).join(", ")}, (12, 'A', 'from A', 1.5, x'0a', 1, '2024-05-01T00:00:00Z');
INSERT INTO w VALUES ${rows.join(", ")};`;
const seedB = `${schema}
INSERT INTO v VALUES ${rows.slice(6).join(", ")}, (12, 'B', 'from B', 2.5, x'0b', 2, '2024-06-01T00:00:00Z');`;
const reseed = async (d, seed) => d1sql(d, `DROP TABLE IF EXISTS v; DROP TABLE IF EXISTS w; ${seed}`);
const dumps = (file) => ({ v: typedDump(file, "v"), w: typedDump(file, "w") });
const sync = { tables: ["v", "w"], maxRetries: 2, initialRetryDelayMs: 50 };

// the CLI's config: A as a SQLite file is the local side, B (or another
// endpoint) the target
const cliConfig = (localDb, t = endpoint(B)) => `local_db = "${localDb}"
[target]
type = "http"
url = "${t.url}"
profile = "${t.profile}"
token = "${t.authToken}"
[sync]
tables = ["v", "w"]
max_retries = 2
initial_retry_delay_ms = 50
`;

// what must agree between the package and the CLI: every count, every
// table's writes (the labels differ: a file here, a URL there)
function essentials(r) {
	const apply = (a) => a && { upserted: a.upserted, deleted: a.deleted, conflicts: a.conflicts,
		tables: a.tables.map((t) => ({ table: t.table, upserted: t.upserted, deleted: t.deleted })) };
	return { command: r.command, dry_run: r.dry_run, rounds: r.rounds,
		conflicts_retried: r.conflicts_retried, direction: r.diff.direction, policy: r.diff.policy,
		tables: r.diff.tables.map((t) => ({ table: t.table, counts: t.counts })), total: r.diff.total,
		partial: r.diff.partial, apply: apply(r.apply), apply_remote: apply(r.apply_remote),
		apply_local: apply(r.apply_local) };
}

test("sync both ways, every value type: the same databases and counts as smugglr sync", async () => {
	await reseed(A, seedA);
	await reseed(B, seedB);
	const s = await Smugglr.init({ source: endpoint(A), dest: endpoint(B), sync });
	const before = await s.diff();
	assert.equal(before.command, "diff");
	assert.deepEqual(before.total.upsert_remote, 6 + 1 + 11);
	assert.deepEqual(before.total.upsert_local, 5);
	const got = await s.sync();
	assert.equal(got.command, "sync");
	assert.equal(got.apply_remote.upserted, 18);
	assert.equal(got.apply_local.upserted, 5);
	assert.equal(got.apply_remote.complete, true);
	const wasmA = dumps(A.D1_SQLITE), wasmB = dumps(B.D1_SQLITE);
	assert.deepEqual(wasmA, wasmB, "both sides hold the same rows after the sync");
	assert.match(wasmA.v, /^integer:12\|text:'A'\|/m, "local_wins: row 12 is the source's");
	assert.equal(wasmA.v.trim().split("\n").length, 12);
	const after = await s.diff();
	assert.equal(after.total.identical, 12 + 11);
	assert.equal(after.total.upsert_local + after.total.upsert_remote, 0);
	s.dispose();

	// the CLI on the same data: A's rows in a SQLite file, B as it was
	await reseed(B, seedB);
	const local = sqliteFile("cli-local.db", seedA);
	const r = cli(["sync"], cliConfig(local));
	assert.equal(r.status, 0, r.stderr);
	assert.deepEqual(dumps(local), wasmA, "the CLI's local side equals the package's source");
	assert.deepEqual(dumps(B.D1_SQLITE), wasmB, "the CLI's target equals the package's dest");
	assert.deepEqual(essentials(got), essentials(r.json), "the same counts and writes as smugglr -o json sync");
});

test("D1 <-> Hrana (turso profile), every value type both ways: as smugglr sync makes it", async () => {
	await reseed(A, seedA);
	await hsql(`DROP TABLE IF EXISTS v; DROP TABLE IF EXISTS w; ${seedB}`);
	const s = await Smugglr.init({ source: endpoint(A), dest: hranaEndpoint(), sync });
	const got = await s.sync();
	assert.equal(got.apply_remote.upserted, 18);
	assert.equal(got.apply_local.upserted, 5);
	const wasmA = dumps(A.D1_SQLITE), wasmH = dumps(H.HRANA_SQLITE);
	assert.deepEqual(wasmA, wasmH, "D1 and Hrana hold the same rows after the sync");
	assert.equal((await s.diff()).total.identical, 12 + 11);
	s.dispose();

	await hsql(`DROP TABLE IF EXISTS v; DROP TABLE IF EXISTS w; ${seedB}`);
	const local = sqliteFile("cli-hrana.db", seedA);
	const r = cli(["sync"], cliConfig(local, hranaEndpoint()));
	assert.equal(r.status, 0, r.stderr);
	assert.deepEqual(dumps(local), wasmA, "the CLI's local side equals the package's D1 side");
	assert.deepEqual(dumps(H.HRANA_SQLITE), wasmH, "the CLI's Hrana equals the package's");
	assert.deepEqual(essentials(got), essentials(r.json));
});

test("a SQLite database image as the source (the CLI's local_db): as smugglr sync makes it", async () => {
	await reseed(B, seedB);
	const image = readFileSync(sqliteFile("image-in.db", seedA));
	const s = await Smugglr.init({ source: { database: image }, dest: endpoint(B), sync });
	const got = await s.sync();
	assert.equal(got.apply_remote.upserted, 18);
	assert.equal(got.apply_local.upserted, 5);
	const out = join(T, "image-out.db");
	writeFileSync(out, s.database("source"));
	const wasmLocal = dumps(out), wasmB = dumps(B.D1_SQLITE);
	assert.deepEqual(wasmLocal, wasmB, "the image and D1 hold the same rows");
	assert.throws(() => s.database("dest"), /not a side given as a database/);
	s.dispose();

	await reseed(B, seedB);
	const local = sqliteFile("cli-image.db", seedA);
	const r = cli(["sync"], cliConfig(local));
	assert.equal(r.status, 0, r.stderr);
	assert.deepEqual(dumps(local), wasmLocal, "the CLI's local_db equals the package's image");
	assert.deepEqual(dumps(B.D1_SQLITE), wasmB);
	const e = essentials(got), c = essentials(r.json);
	assert.deepEqual(e, c, "the same counts and writes as smugglr -o json sync");
});

test("push with delete, dry run first; pull; the JSON of smugglr push", async () => {
	await reseed(A, seedA);
	await reseed(B, seedB);
	const s = await Smugglr.init({ source: endpoint(A), dest: endpoint(B), sync });
	const dry = await s.push({ delete: true, dryRun: true });
	assert.equal(dry.dry_run, true);
	assert.equal(dry.apply.deleted, 5);
	assert.equal(typedDump(B.D1_SQLITE, "v").trim().split("\n").length, 6, "a dry run writes nothing");
	const pushed = await s.push({ delete: true });
	assert.equal(pushed.command, "push");
	assert.equal(pushed.apply.upserted, 18);
	assert.equal(pushed.apply.deleted, 5);
	assert.deepEqual(dumps(B.D1_SQLITE), dumps(A.D1_SQLITE), "a push with delete mirrors the source");
	const wasmB = dumps(B.D1_SQLITE);

	await d1sql(B, "INSERT INTO v(id, t) VALUES (13, 'new on B')");
	const pulled = await s.pull();
	assert.equal(pulled.command, "pull");
	assert.equal(pulled.apply.upserted, 1);
	assert.match(typedDump(A.D1_SQLITE, "v"), /^integer:13\|null:NULL\|text:'new on B'\|/m);
	s.dispose();

	await reseed(B, seedB);
	const local = sqliteFile("cli-push.db", seedA);
	const r = cli(["push", "--delete"], cliConfig(local));
	assert.equal(r.status, 0, r.stderr);
	assert.deepEqual(dumps(B.D1_SQLITE), wasmB, "smugglr push --delete leaves the target as the package did");
	assert.deepEqual(essentials(pushed), essentials(r.json));
});

test("a rejected token is the CLI's error: exit code 5, the same message", async () => {
	await reseed(A, seedA);
	await reseed(B, seedB);
	const bad = { ...endpoint(B), authToken: "wrong" };
	const s = await Smugglr.init({ source: endpoint(A), dest: bad, sync });
	await assert.rejects(s.sync(), (e) => {
		assert.ok(e instanceof SmugglrError);
		assert.equal(e.command, "sync");
		assert.equal(e.exit_code, 5);
		const local = sqliteFile("cli-token.db", seedA);
		const r = cli(["sync"], cliConfig(local).replace(`token = "${B.D1_TOKEN}"`, 'token = "wrong"'));
		assert.equal(r.status, 5);
		assert.deepEqual({ command: e.command, error: e.error, exit_code: e.exit_code }, r.json);
		return true;
	});
	s.dispose();
});

test("bad options are usage errors (exit code 2) naming the option", async () => {
	const bad = async (options, re) => assert.rejects(Smugglr.init(options), (e) =>
		e instanceof SmugglrError && e.exit_code === 2 && re.test(e.message));
	await bad({ source: endpoint(A), dest: endpoint(B), sync: { conflictResolution: "mine" } },
		/conflict_resolution must be one of local_wins/);
	await bad({ source: endpoint(A), dest: endpoint(B), sync: { batchSize: "10" } }, /sync.batchSize must be a integer/);
	await bad({ source: endpoint(A), dest: endpoint(B), sync: { bogus: 1 } }, /unknown option "bogus"/);
	await bad({ source: { url: "/tmp/x.db" }, dest: endpoint(B) }, /source.url: .*not an HTTP SQL endpoint/);
	await bad({ source: endpoint(A), dest: { url: "d1:nodatabase", authToken: "t" } }, /a D1 target is d1:ACCOUNT_ID\/DATABASE_ID/);
});

test("./wasm: the engine from bytes the caller loaded", async () => {
	const bytes = await wasm.loadWasm(wasm.wasmURL);
	assert.ok(WebAssembly.validate(bytes));
	await reseed(A, seedA);
	await reseed(B, seedB);
	const s = await Smugglr.init({ source: endpoint(A), dest: endpoint(B), sync, wasm: bytes });
	const d = await s.diff({ samples: 1 });
	assert.deepEqual(d.tables.find((t) => t.table === "v").samples.remote_only, [[7]]);
	s.dispose();
	await assert.rejects(s.diff(), /disposed/);
});
