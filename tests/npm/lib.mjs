// tests/npm/lib.mjs - what the npm tests share: the two D1 databases
// tests/t/npm.sh started, SQL on them, typed dumps (tests/lib.sh's
// typed_dump, through sqlite3) and the CLI.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export const T = process.env.SMG_T;
export const APP = process.env.SMG_APP;

// KEY='value' lines of scripts/d1-server's env file
function readEnv(path) {
	const env = {};
	for (const line of readFileSync(path, "utf8").split("\n")) {
		const m = line.match(/^([A-Z0-9_]+)='(.*)'$/);
		if (m) env[m[1]] = m[2];
	}
	return env;
}

export const A = readEnv(process.env.D1A_ENV);
export const B = readEnv(process.env.D1B_ENV);
export const H = readEnv(process.env.HRANA_ENV);

/** The Hrana server as the package's Endpoint (profile turso). */
export function hranaEndpoint() {
	return { url: H.HRANA_URL, authToken: H.HRANA_TOKEN, profile: "turso" };
}

/** SQL run on the Hrana server's database directly (its /__test/sql). */
export async function hsql(sql) {
	const r = await fetch(`${H.HRANA_URL}/__test/sql`, { method: "POST", body: JSON.stringify({ sql }) });
	if (r.status !== 200)
		throw new Error(`hsql: HTTP ${r.status}: ${await r.text()}`);
}

/** A D1 database as the package's Endpoint: its REST URL, profile d1. */
export function endpoint(d) {
	return { url: `${d.D1_API}/accounts/${d.D1_ACCOUNT_ID}/d1/database/${d.D1_DATABASE_ID}`,
		authToken: d.D1_TOKEN, profile: "d1" };
}

/** SQL run on the database directly (the emulator's /__test/sql).  A
 * kept-alive connection the server closed meanwhile is tried again. */
export async function d1sql(d, sql) {
	let r;
	for (let attempt = 1; !r; attempt++) {
		try {
			r = await fetch(`${d.D1_URL}/__test/sql`, { method: "POST", body: JSON.stringify({ sql }) });
		} catch (e) {
			const why = e.cause && (e.cause.code || e.cause.message);
			if (attempt >= 3 || why !== "UND_ERR_SOCKET")
				throw new Error(`d1sql: ${e.message}: ${why}`);
		}
	}
	if (r.status !== 200)
		throw new Error(`d1sql: HTTP ${r.status}: ${await r.text()}`);
}

/** tests/lib.sh's typed_dump: typeof:quote of every column, rows in order. */
export function typedDump(file, table) {
	const cols = execFileSync("sqlite3", [file, `SELECT group_concat('typeof("'||name||'")||'':''||quote("'||name||'")', '||''|''||') FROM pragma_table_info('${table}')`], { encoding: "utf8" }).trim();
	if (!cols)
		throw new Error(`${file}: no table ${table}`);
	return execFileSync("sqlite3", [file, `SELECT ${cols} FROM "${table}" ORDER BY 1`], { encoding: "utf8", maxBuffer: 1 << 28 });
}

/** The rows of tests/d1-lib.sh's every_value_rows, one SQL tuple each. */
export function everyValueRows() {
	return process.env.EVERY_VALUE_ROWS.split(/,\s*\n\s*(?=\()/).map((s) => s.trim());
}

/** smugglr -o json with a config file; {status, json, stderr}. */
export function cli(args, config) {
	const cfg = join(T, "cli.toml");
	writeFileSync(cfg, config);
	// the config's token, not the one tests/d1-lib.sh exports
	const env = { ...process.env };
	delete env.SMUGGLR_TARGET_TOKEN;
	delete env.CLOUDFLARE_API_TOKEN;
	const r = spawnSync("smugglr", ["-c", cfg, "-o", "json", ...args], { cwd: T, env, encoding: "utf8" });
	let json = null;
	try { json = JSON.parse(r.stdout); } catch { /* checked by the caller */ }
	return { status: r.status, json, stdout: r.stdout, stderr: r.stderr };
}

/** A SQLite file made anew with sqlite3. */
export function sqliteFile(name, sql) {
	const file = join(T, name);
	rmSync(file, { force: true });
	execFileSync("sqlite3", [file], { input: sql });
	return file;
}

/** The package as the scratch app imports it: "smugglr" and "smugglr/wasm"
 * through the package's exports. */
export async function smugglr() {
	const entry = join(APP, "entry.mjs");
	writeFileSync(entry, 'export * from "smugglr";\nexport * as wasm from "smugglr/wasm";\n');
	return import(pathToFileURL(entry).href);
}
