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

/** One cell's state rows: the cell, its score bins (by bin) and its picked positions. */
interface Group {
  cell: Cell;
  bins: (BinRow | undefined)[];
  positions: Map<number, PositionRow> | undefined;
}

/** Groups examples into state rows in memory (one row per key), before one upsert per row. */
export function foldExamples(examples: FeedbackExample[], slices: string[]): { cells: Cell[]; bins: BinRow[]; positions: PositionRow[] } {
  const groups = new Map<string, Group>();
  const group = (e: FeedbackExample, bucket: number, prefix: string, slice_field: string, slice_value: string): Group => {
    const ks = `${prefix}\x1f${slice_field}\x1f${slice_value}`;
    let g = groups.get(ks);
    if (!g) {
      const cell = { model: e.model, version: e.model_version, arm: e.arm, bucket, slice_field, slice_value, n: 0, pos: 0, sum_score: 0, sum_score2: 0, sum_ll: 0, sum_ll2: 0, ranked: 0 };
      groups.set(ks, (g = { cell, bins: [], positions: undefined }));
    }
    return g;
  };
  // Per example only numbers: key objects and strings are made when a cell is first seen.
  const add = (g: Group, e: FeedbackExample, ll: number, bin: number) => {
    const c = g.cell;
    c.n += 1;
    c.pos += e.label;
    c.sum_score += e.score;
    c.sum_score2 += e.score * e.score;
    c.sum_ll += ll;
    c.sum_ll2 += ll * ll;
    if (e.shown_count !== null) c.ranked += 1;
    let b = g.bins[bin];
    if (!b) g.bins[bin] = b = { model: c.model, version: c.version, arm: c.arm, bucket: c.bucket, slice_field: c.slice_field, slice_value: c.slice_value, bin, n: 0, pos: 0, sum_score: 0 };
    b.n += 1;
    b.pos += e.label;
    b.sum_score += e.score;
    if (e.shown_count !== null && e.picked_position !== null) {
      g.positions ??= new Map();
      let p = g.positions.get(e.picked_position);
      if (!p) g.positions.set(e.picked_position, (p = { model: c.model, version: c.version, arm: c.arm, bucket: c.bucket, slice_field: c.slice_field, slice_value: c.slice_value, picked: e.picked_position, n: 0 }));
      p.n += 1;
    }
  };
  // Examples in a row mostly share model, version, arm and hour: the key's prefix and the ALL
  // slice's cell are looked up only when one of them changes (building the key per example, and
  // per slice, was most of the fold).
  let model: string | null = null;
  let version = NaN;
  let arm = '';
  let bucket = NaN;
  let prefix = '';
  let all: Group | null = null;
  for (const e of examples) {
    const b = Math.floor(e.predicted_at / HOUR_MS) * HOUR_MS;
    if (e.model !== model || e.model_version !== version || e.arm !== arm || b !== bucket) {
      model = e.model;
      version = e.model_version;
      arm = e.arm;
      bucket = b;
      // the hour's number, not its epoch ms: a small integer prints from V8's cache, a large one through its slow double printer
      prefix = `${model}\x1f${version}\x1f${arm}\x1f${bucket / HOUR_MS}`;
      all = group(e, bucket, prefix, ALL, '');
    }
    const ll = logLoss(e.label, e.score);
    const bin = binOf(e.score);
    add(all!, e, ll, bin);
    for (const f of slices) add(group(e, bucket, prefix, f, sliceText(e.fields[f])), e, ll, bin);
  }
  const cells: Cell[] = [];
  const bins: BinRow[] = [];
  const positions: PositionRow[] = [];
  for (const g of groups.values()) {
    cells.push(g.cell);
    for (const b of g.bins) if (b) bins.push(b);
    if (g.positions) positions.push(...g.positions.values());
  }
  return { cells, bins, positions };
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
