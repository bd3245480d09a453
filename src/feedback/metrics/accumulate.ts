// Incremental metrics: folds emitted feedback examples into additive state tables, inside the
// join's emit transaction, so the metrics count every example exactly once (no separate offset).
//
// Example (in the join's emit):
//   await db.transaction(async (tx) => { await writeExamples(tx, ex); await accumulateMetrics(tx, ex); });
import type { FeedbackExample } from '../records.ts';
import type { Param, SqlDb, SqlTx } from '../../store/sql.ts';
import { UsageError } from '../../core/errors.ts';
import { ALL, binOf, HOUR_MS, KEY_COLUMNS, logLoss, sliceText, type BinRow, type Cell, type CellKey, type PositionRow } from './state.ts';

// BIGINT and DOUBLE PRECISION: SQLite maps them to INTEGER and REAL affinity, so one DDL serves both.
const KEY_DDL = `model TEXT NOT NULL, version BIGINT NOT NULL, arm TEXT NOT NULL, bucket BIGINT NOT NULL,
  slice_field TEXT NOT NULL, slice_value TEXT NOT NULL`;
const KEY = KEY_COLUMNS.join(', ');
const DDL = `
CREATE TABLE IF NOT EXISTS metrics_cells (${KEY_DDL},
  n BIGINT NOT NULL, pos BIGINT NOT NULL, sum_score DOUBLE PRECISION NOT NULL, sum_score2 DOUBLE PRECISION NOT NULL,
  sum_ll DOUBLE PRECISION NOT NULL, sum_ll2 DOUBLE PRECISION NOT NULL, ranked BIGINT NOT NULL, PRIMARY KEY (${KEY}));
CREATE TABLE IF NOT EXISTS metrics_bins (${KEY_DDL}, bin INTEGER NOT NULL,
  n BIGINT NOT NULL, pos BIGINT NOT NULL, sum_score DOUBLE PRECISION NOT NULL, PRIMARY KEY (${KEY}, bin));
CREATE TABLE IF NOT EXISTS metrics_positions (${KEY_DDL}, picked INTEGER NOT NULL,
  n BIGINT NOT NULL, PRIMARY KEY (${KEY}, picked));
CREATE TABLE IF NOT EXISTS metrics_config (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS metrics_cells_bucket ON metrics_cells (bucket);
`;

/** Creates the metrics tables (idempotent); `slices` (logged field names) replaces the configured slice fields. */
export async function ensureMetricsSchema(db: SqlDb, options: { slices?: string[] } = {}): Promise<void> {
  await db.exec(DDL);
  if (options.slices) await setMetricSlices(db, options.slices);
}

/** Sets the logged fields the accumulator slices by (besides the ALL slice); applies to examples emitted from now on. */
export async function setMetricSlices(db: SqlTx, fields: string[]): Promise<void> {
  for (const f of fields) {
    if (!f || f.length > 128) throw new UsageError(`bad slice field ${JSON.stringify(f)}`, { hint: 'a slice is a logged field name, 1–128 characters' });
  }
  await db.run('DELETE FROM metrics_config WHERE name = ?', ['slices']);
  await db.run('INSERT INTO metrics_config (name, value) VALUES (?, ?)', ['slices', JSON.stringify([...new Set(fields)])]);
}

export async function metricSlices(db: SqlTx): Promise<string[]> {
  const r = await db.get<{ value: string }>('SELECT value FROM metrics_config WHERE name = ?', ['slices']);
  return r ? (JSON.parse(r.value) as string[]) : [];
}

/** Groups examples into state rows in memory (one row per key), before one upsert per row. */
export function foldExamples(examples: FeedbackExample[], slices: string[]): { cells: Cell[]; bins: BinRow[]; positions: PositionRow[] } {
  const cells = new Map<string, Cell>();
  const bins = new Map<string, BinRow>();
  const positions = new Map<string, PositionRow>();
  // Per example only strings and numbers: key objects are built when a cell is first seen (object
  // spread per example cost more than the sums).
  const add = (e: FeedbackExample, bucket: number, slice_field: string, slice_value: string, ll: number, bin: number) => {
    // the hour's number, not its epoch ms: a small integer prints from V8's cache, a large one through its slow double printer
    const ks = `${e.model}\x1f${e.model_version}\x1f${e.arm}\x1f${bucket / HOUR_MS}\x1f${slice_field}\x1f${slice_value}`;
    let c = cells.get(ks);
    if (!c) {
      c = { model: e.model, version: e.model_version, arm: e.arm, bucket, slice_field, slice_value, n: 0, pos: 0, sum_score: 0, sum_score2: 0, sum_ll: 0, sum_ll2: 0, ranked: 0 };
      cells.set(ks, c);
    }
    c.n += 1;
    c.pos += e.label;
    c.sum_score += e.score;
    c.sum_score2 += e.score * e.score;
    c.sum_ll += ll;
    c.sum_ll2 += ll * ll;
    if (e.shown_count !== null) c.ranked += 1;
    const bk = `${ks}|${bin}`;
    let b = bins.get(bk);
    if (!b) bins.set(bk, (b = { model: c.model, version: c.version, arm: c.arm, bucket, slice_field, slice_value, bin, n: 0, pos: 0, sum_score: 0 }));
    b.n += 1;
    b.pos += e.label;
    b.sum_score += e.score;
    if (e.shown_count !== null && e.picked_position !== null) {
      const pk = `${ks}|${e.picked_position}`;
      let p = positions.get(pk);
      if (!p) positions.set(pk, (p = { model: c.model, version: c.version, arm: c.arm, bucket, slice_field, slice_value, picked: e.picked_position, n: 0 }));
      p.n += 1;
    }
  };
  for (const e of examples) {
    const bucket = Math.floor(e.predicted_at / HOUR_MS) * HOUR_MS;
    const ll = logLoss(e.label, e.score);
    const bin = binOf(e.score);
    add(e, bucket, ALL, '', ll, bin);
    for (const f of slices) add(e, bucket, f, sliceText(e.fields[f]), ll, bin);
  }
  return { cells: [...cells.values()], bins: [...bins.values()], positions: [...positions.values()] };
}

// Rows per INSERT: well under SQLite's 32766 and PostgreSQL's 65535 parameters.
const CHUNK = 200;

async function upsert<R extends CellKey>(tx: SqlTx, table: string, extraKey: string[], sums: string[], rows: R[]): Promise<void> {
  const cols = [...KEY_COLUMNS, ...extraKey, ...sums];
  const conflict = [...KEY_COLUMNS, ...extraKey].join(', ');
  const set = sums.map((s) => `${s} = ${table}.${s} + excluded.${s}`).join(', ');
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const params: Param[] = [];
    for (const r of chunk) for (const c of cols) params.push((r as unknown as Record<string, Param>)[c]!);
    const values = chunk.map(() => `(${cols.map(() => '?').join(', ')})`).join(', ');
    await tx.run(`INSERT INTO ${table} (${cols.join(', ')}) VALUES ${values} ON CONFLICT (${conflict}) DO UPDATE SET ${set}`, params);
  }
}

/** Adds `examples` to the metrics state; call it in the same transaction that emits them. */
export async function accumulateMetrics(tx: SqlTx, examples: FeedbackExample[]): Promise<void> {
  if (examples.length === 0) return;
  const s = foldExamples(examples, await metricSlices(tx));
  await upsert(tx, 'metrics_cells', [], ['n', 'pos', 'sum_score', 'sum_score2', 'sum_ll', 'sum_ll2', 'ranked'], s.cells);
  await upsert(tx, 'metrics_bins', ['bin'], ['n', 'pos', 'sum_score'], s.bins);
  await upsert(tx, 'metrics_positions', ['picked'], ['n'], s.positions);
}
