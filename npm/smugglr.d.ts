// smugglr.d.ts - the package's types.  Option names are the config.toml
// keys of the smugglr CLI in camelCase; results are what `smugglr -o json`
// prints, field for field (README.md puts them side by side).

import type { WasmSource } from "./wasm.js";

/** One side: an HTTP SQL endpoint. */
export interface Endpoint {
	/** https:// or http:// URL of the endpoint, libsql://, or d1:ACCOUNT_ID/DATABASE_ID.
	 * A D1 database may also be given as its REST URL
	 * (https://api.cloudflare.com/client/v4/accounts/ACCOUNT_ID/d1/database/DATABASE_ID). */
	url: string;
	/** Bearer token (the CLI's --token, [target] token). */
	authToken?: string;
	/** d1, turso, rqlite, datasette, sqlite-cloud, starbasedb or generic
	 * (the CLI's --profile); default: guessed from the URL as the CLI does. */
	profile?: string;
	/** D1: the API base instead of https://api.cloudflare.com (--endpoint). */
	endpoint?: string;
}

/** One side: a SQLite database image in memory, the CLI's local_db
 * (Smugglr.database() gives back what the operations made of it; a page
 * keeps it where it likes, in OPFS say). */
export interface LocalDatabase {
	database: ArrayBuffer | ArrayBufferView;
}

export type ConflictResolution = "local_wins" | "remote_wins" | "newer_wins" | "uuid_v7_wins";

/** The [sync] section of config.toml, key for key (config.example.toml). */
export interface SyncOptions {
	/** tables: only these (default: every table). */
	tables?: string[];
	/** exclude_tables (default: sqlite_sequence, _cf_KV, __drizzle_migrations). */
	excludeTables?: string[];
	/** timestamp_column (default "updated_at"). */
	timestampColumn?: string;
	/** conflict_resolution (default "local_wins"; local is the source, remote the dest). */
	conflictResolution?: ConflictResolution;
	/** exclude_columns: "column" or "table.column". */
	excludeColumns?: string[];
	/** max_retries of one HTTP request (default 5). */
	maxRetries?: number;
	/** initial_retry_delay_ms (default 500). */
	initialRetryDelayMs?: number;
	/** max_retry_delay_ms (default 30000). */
	maxRetryDelayMs?: number;
	/** backoff_multiplier (default 2.0). */
	backoffMultiplier?: number;
	/** batch_size: rows per statement at most (default 100). */
	batchSize?: number;
	/** max_statement_bytes (default: the profile's). */
	maxStatementBytes?: number;
	/** timeout_secs: deadline of one request, retries included (default 600). */
	timeoutSecs?: number;
	/** low_speed_limit (accepted; fetch() cannot enforce it). */
	lowSpeedLimit?: number;
	/** low_speed_secs (accepted; fetch() cannot enforce it). */
	lowSpeedSecs?: number;
}

export interface InitOptions {
	/** The CLI's local side. */
	source: Endpoint | LocalDatabase;
	/** The CLI's target. */
	dest: Endpoint | LocalDatabase;
	sync?: SyncOptions;
	/** Where the engine is: bytes, a Response, a URL, or a compiled module
	 * (default: the package's own dist/smugglr.wasm). */
	wasm?: WasmSource | WebAssembly.Module;
}

/** push and pull: smugglr push/pull's options. */
export interface OneWayOptions {
	/** -n: read and check everything, write nothing. */
	dryRun?: boolean;
	/** --delete: delete on the destination what the source lacks. */
	delete?: boolean;
	/** --create-tables: create tables the destination lacks. */
	createTables?: boolean;
	/** --add-columns: add columns the destination lacks. */
	addColumns?: boolean;
}

export interface SyncRunOptions {
	dryRun?: boolean;
	createTables?: boolean;
}

export interface DiffOptions {
	/** --samples: sample keys per bucket, 0 to 10 (default 3). */
	samples?: number;
}

/** smg-diff's counts (smugglr-stream(5) summary). */
export interface Counts {
	local_only: number;
	remote_only: number;
	local_newer: number;
	remote_newer: number;
	content_differs: number;
	identical: number;
	upsert_local: number;
	upsert_remote: number;
	delete_local: number;
	delete_remote: number;
	skipped: number;
}

export type Bucket = "local_only" | "remote_only" | "local_newer" | "remote_newer" | "content_differs";

export interface DiffTable {
	table: string;
	only: "local" | "remote" | null;
	counts: Counts;
	skipped_schema: string | null;
	left_alone: boolean;
	adds_columns: boolean;
	/** Sample keys per bucket (each key an array of its columns' values). */
	samples: Partial<Record<Bucket, unknown[][]>>;
}

/** smg-diff -r json. */
export interface DiffReport {
	/** the source's label */
	local: string;
	/** the dest's label */
	remote: string;
	direction: "push" | "pull" | "sync";
	policy: ConflictResolution;
	tables: DiffTable[];
	total: Counts;
	/** Tables were skipped for their schema (the CLI's exit status 8). */
	partial: boolean;
}

export interface DiffResult extends DiffReport {
	command: "diff";
}

export interface ApplyTable {
	table: string;
	upserted: number;
	deleted: number;
	created: boolean;
	conflicts: number;
	added_columns?: string[];
}

export interface ConflictRow {
	table: string;
	key: unknown[];
	op: "upsert" | "delete";
	expected: "row" | "absent";
	found: "absent" | "changed" | "row";
}

/** smg-apply -r json of a remote target. */
export interface ApplyReport {
	target: string;
	dry_run: boolean;
	tables: ApplyTable[];
	upserted: number;
	deleted: number;
	conflicts: number;
	conflict_rows: ConflictRow[];
	unchecked: number;
	foreign_key_violations: number;
	foreign_key_rows?: unknown[];
	complete: boolean;
	batches: number;
	landed: number;
	statements: number;
	requests: number;
	failed_batch?: number;
	pending_upserts?: number;
	pending_deletes?: number;
	maybe_landed?: boolean;
	exit?: number;
	error?: string;
}

interface RunResult {
	dry_run: boolean;
	/** Rounds of diff and apply: more than 1 when compare-and-set found rows
	 * changed since the diff (at most 5). */
	rounds: number;
	conflicts_retried: number;
	diff: DiffReport;
}

export interface PushResult extends RunResult {
	command: "push";
	apply: ApplyReport;
}

export interface PullResult extends RunResult {
	command: "pull";
	apply: ApplyReport;
}

export interface SyncResult extends RunResult {
	command: "sync";
	/** what the dest took */
	apply_remote: ApplyReport;
	/** what the source took */
	apply_local: ApplyReport;
}

/** `smugglr -o json`'s error object, as an exception. */
export declare class SmugglrError extends Error {
	readonly command: string;
	readonly error: string;
	/** The CLI's exit status: 1 failure, 2 usage, 3 not found, 4 network,
	 * 5 auth, 6 conflict, 7 data (smg.h). */
	readonly exit_code: number;
	/** What the programs said on stderr. */
	readonly stderr: string;
}

export declare class Smugglr {
	static init(options: InitOptions): Promise<Smugglr>;
	sync(options?: SyncRunOptions): Promise<SyncResult>;
	push(options?: OneWayOptions): Promise<PushResult>;
	pull(options?: OneWayOptions): Promise<PullResult>;
	diff(options?: DiffOptions): Promise<DiffResult>;
	/** The image of a side given as {database}, as the last operation left it. */
	database(side?: "source" | "dest"): Uint8Array;
	dispose(): void;
}

export default Smugglr;
