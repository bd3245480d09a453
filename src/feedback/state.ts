// The join's durable state (SQLite at .sluice/feedback.db, or the project's PostgreSQL): the two log
// cursors and watermarks, decided predictions with their labels, the outbox the publisher reads (per
// batch, its examples as NDJSON lines and their field columns' types; published batches are deleted), the
// event dedup registry with each event's disposition, pending events, quarantine, corrections,
// shadow predictions quarantined as orphans (fb_orphans: no main in time), counts.
// Open predictions (waiting for an outcome or their window's end) are not stored: they live in the
// join's memory and are rebuilt after a restart by replaying the predictions log from `replay_from`
// (the oldest entry still holding an open prediction; `replay_pmax` is the predictions' max time
// just before it), against the decided ones here.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Project } from '../core/project.ts';
import { PostgresDb } from '../store/postgres.ts';
import type { Param, SqlDb, SqlTx } from '../store/sql.ts';
import { SqliteDb } from '../store/sqlite.ts';

const DDL = `
CREATE TABLE IF NOT EXISTS fb_progress (
  id INTEGER PRIMARY KEY, instance TEXT NOT NULL, pred_seq BIGINT NOT NULL, event_seq BIGINT NOT NULL,
  pred_max BIGINT, event_max BIGINT, batch BIGINT NOT NULL, published BIGINT NOT NULL, publishing BIGINT,
  replay_from BIGINT NOT NULL DEFAULT 1, replay_pmax BIGINT);
CREATE TABLE IF NOT EXISTS fb_predictions (
  prediction_id TEXT PRIMARY KEY, ord BIGINT NOT NULL, tp BIGINT NOT NULL, close_at BIGINT NOT NULL, pw_before BIGINT,
  arm TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, label INTEGER NOT NULL, decided_at BIGINT NOT NULL, event_id TEXT,
  event_type TEXT, picked_position INTEGER, text TEXT, scrub_rules TEXT, batch BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS fb_outbox (batch BIGINT PRIMARY KEY, n INTEGER NOT NULL, lines TEXT NOT NULL, types TEXT);
CREATE TABLE IF NOT EXISTS fb_events (
  event_id TEXT PRIMARY KEY, ord BIGINT NOT NULL, prediction_id TEXT NOT NULL, disposition TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fb_pending (
  event_id TEXT PRIMARY KEY, ord BIGINT NOT NULL, prediction_id TEXT NOT NULL, type TEXT NOT NULL, te BIGINT NOT NULL,
  ew_before BIGINT, position INTEGER, value DOUBLE PRECISION, text TEXT, scrub_rules TEXT);
CREATE INDEX IF NOT EXISTS fb_pending_pred ON fb_pending (prediction_id);
CREATE INDEX IF NOT EXISTS fb_pending_te ON fb_pending (te);
CREATE TABLE IF NOT EXISTS fb_quarantine (
  source TEXT NOT NULL, ord BIGINT NOT NULL, event_id TEXT, reason TEXT NOT NULL, record TEXT NOT NULL, batch BIGINT NOT NULL,
  PRIMARY KEY (source, ord));
CREATE TABLE IF NOT EXISTS fb_corrections (
  event_id TEXT PRIMARY KEY, prediction_id TEXT NOT NULL, label INTEGER NOT NULL, was INTEGER NOT NULL, te BIGINT NOT NULL,
  batch BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS fb_orphans (prediction_id TEXT PRIMARY KEY, ord BIGINT NOT NULL, batch BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS fb_counts (name TEXT PRIMARY KEY, n BIGINT NOT NULL);
`;

export interface Progress {
  instance: string;
  pred_seq: number;
  event_seq: number;
  pred_max: number | null;
  event_max: number | null;
  /** the last committed join batch (examples carry the batch that decided them) */
  batch: number;
  /** examples of batches ≤ published are in the dataset */
  published: number;
  /** a publish in flight: batches (published, publishing] (redone after a crash) */
  publishing: number | null;
  /** the oldest predictions-log entry holding an open prediction (> pred_seq: none) */
  replay_from: number;
  /** the predictions' max time before that entry (null: none before it) */
  replay_pmax: number | null;
}

/** Opens the project's feedback state: PostgreSQL (schema `<catalog schema>_feedback`) when the catalog is there, else SQLite. */
export function openFeedbackDb(project: Project): SqlDb {
  const spec = project.catalogSpec;
  if (spec.kind === 'postgres') return new PostgresDb(spec.url, `${spec.schema}_feedback`);
  return new SqliteDb(join(project.root, '.sluice', 'feedback.db'));
}

export async function ensureSchema(db: SqlDb): Promise<void> {
  // The join state outgrows SQLite's 2 MB default page cache at a few hundred thousand predictions;
  // random primary-key inserts then wait on I/O. This connection only.
  if (db.dialect === 'sqlite') await db.exec('PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY');
  // SQLite: the tables keyed by an id are clustered on it (WITHOUT ROWID): one B-tree per insert
  // and per lookup instead of a rowid table plus its key's index. (A state made before keeps its tables.)
  await db.exec(db.dialect === 'sqlite' ? DDL.replace(/^(CREATE TABLE IF NOT EXISTS fb_(?:predictions|events) \((?:.|\n)*?\));$/gm, '$1 WITHOUT ROWID;') : DDL);
  // an outbox made before its rows carried their field types (a row without them: the publish infers them)
  if (db.dialect === 'postgres') await db.exec('ALTER TABLE fb_outbox ADD COLUMN IF NOT EXISTS types TEXT');
  else if (!(await db.all<{ name: string }>('PRAGMA table_info(fb_outbox)')).some((c) => c.name === 'types')) await db.exec('ALTER TABLE fb_outbox ADD COLUMN types TEXT');
  await db.run(
    `INSERT INTO fb_progress (id, instance, pred_seq, event_seq, batch, published) VALUES (1, ?, 0, 0, 0, 0) ON CONFLICT (id) DO NOTHING`,
    [randomUUID()],
  );
}

export async function readProgress(tx: SqlTx): Promise<Progress> {
  const p = await tx.get<Progress>('SELECT instance, pred_seq, event_seq, pred_max, event_max, batch, published, publishing, replay_from, replay_pmax FROM fb_progress WHERE id = 1');
  return p!;
}

export async function readCounts(tx: SqlTx): Promise<Record<string, number>> {
  const rows = await tx.all<{ name: string; n: number }>('SELECT name, n FROM fb_counts ORDER BY name');
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
}

export async function addCounts(tx: SqlTx, counts: Map<string, number>): Promise<void> {
  const rows = [...counts].filter(([, n]) => n !== 0);
  if (!rows.length) return;
  await tx.run(
    `INSERT INTO fb_counts (name, n) VALUES ${rows.map(() => '(?, ?)').join(', ')} ON CONFLICT (name) DO UPDATE SET n = fb_counts.n + excluded.n`,
    rows.flat(),
  );
}

// Statements with many rows: one round trip and one parse per chunk instead of per row.
const MAX_PARAMS = 30_000;

/** INSERT of many rows in chunks; `tail` is e.g. 'ON CONFLICT DO NOTHING RETURNING event_id'. */
export async function insertMany<T = Record<string, unknown>>(tx: SqlTx, table: string, cols: string[], rows: Param[][], tail = ''): Promise<T[]> {
  return insertChunks<T>(tx, table, cols, rows.length, tail, (r, params, k) => {
    for (const v of rows[r]!) params[k++] = v;
    return k;
  });
}

/**
 * insertMany of objects: each chunk's parameters are read straight from the rows (no array per
 * row: for a batch of decided predictions those arrays outlived the young generation).
 */
export async function insertObjects<T>(tx: SqlTx, table: string, cols: readonly (keyof T & string)[], rows: readonly T[]): Promise<void> {
  await insertChunks(tx, table, cols, rows.length, '', (r, params, k) => {
    const row = rows[r]!;
    for (const c of cols) params[k++] = row[c] as Param;
    return k;
  });
}

/** The chunked INSERT of `n` rows; `put` writes row `r`'s values into `params` from `k` and returns the next index. */
async function insertChunks<T>(tx: SqlTx, table: string, cols: readonly string[], n: number, tail: string, put: (r: number, params: Param[], k: number) => number): Promise<T[]> {
  const out: T[] = [];
  const per = Math.max(1, Math.floor(MAX_PARAMS / cols.length));
  const one = `(${cols.map(() => '?').join(', ')})`;
  const returning = /RETURNING/i.test(tail);
  const text = (m: number) => `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${Array(m).fill(one).join(', ')} ${tail}`;
  let full: string | undefined; // the text of a whole chunk, made once
  for (let i = 0; i < n; i += per) {
    const end = Math.min(n, i + per);
    // filled by hand: Array.prototype.flat over 30,000 values was a visible share of a large batch
    const params: Param[] = new Array((end - i) * cols.length);
    let k = 0;
    for (let r = i; r < end; r++) k = put(r, params, k);
    const sql = end - i === per ? (full ??= text(per)) : text(end - i);
    if (returning) out.push(...(await tx.all<T>(sql, params)));
    else await tx.run(sql, params);
  }
  return out;
}

/** SELECT … WHERE `col` IN (keys), in chunks. `sql` holds one `%IN%` for the placeholder list. */
export async function selectIn<T>(tx: SqlTx, sql: string, keys: readonly string[]): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < keys.length; i += MAX_PARAMS) {
    const chunk = keys.slice(i, i + MAX_PARAMS);
    out.push(...(await tx.all<T>(sql.replace('%IN%', chunk.map(() => '?').join(', ')), chunk)));
  }
  return out;
}

/** A statement WHERE `col` IN (keys) that returns no rows (DELETE, UPDATE), in chunks. */
export async function runIn(tx: SqlTx, sql: string, keys: readonly string[], before: Param[] = []): Promise<number> {
  let n = 0;
  for (let i = 0; i < keys.length; i += MAX_PARAMS) {
    const chunk = keys.slice(i, i + MAX_PARAMS);
    n += await tx.run(sql.replace('%IN%', chunk.map(() => '?').join(', ')), [...before, ...chunk]);
  }
  return n;
}
