// Recomputes the metrics state from a `feedback` dataset version with DuckDB: the same rows the
// incremental accumulator keeps (cells, score bins, picked positions), so one finalizer serves both
// and the two can be checked against each other.
import { scanSql } from '../../core/dataset.ts';
import type { Manifest } from '../../core/manifest.ts';
import { UsageError } from '../../core/errors.ts';
import { ident, lit, type DuckSession } from '../../engine/duckdb.ts';
import { fieldColumn } from '../example.ts';
import { FEEDBACK_COLUMNS } from '../records.ts';
import { ALL, BINS, EPS, HOUR_MS, keyString, MAX_VALUE_LENGTH, type Cell, type CellKey, type MetricsState, type PositionRow } from './state.ts';

// The column a logged field is stored in: the one the join writes it to.
export { fieldColumn };

export interface StateFilter {
  model?: string;
  /** epoch ms: examples predicted at or after */
  since?: number;
}

/** The per-example expressions, written once so cells and bins read the same values. */
function baseSql(rel: string, slices: string[], f: StateFilter, bucketMs: number): string {
  const p = `greatest(${EPS}, least(${1 - EPS}, score))`;
  const where = [`score IS NOT NULL`, ...(f.model ? [`model = ${lit(f.model)}`] : []), ...(f.since !== undefined ? [`epoch_ms(predicted_at) >= ${Math.floor(f.since / HOUR_MS) * HOUR_MS}`] : [])];
  // grouped by the raw value; its text (cut, '(null)') is made on the grouped rows (sliceText below)
  const sliceCols = slices.map((s, i) => `${ident(fieldColumn(s))} AS __s${i}`);
  return `SELECT model, model_version::BIGINT AS version, arm, (epoch_ms(predicted_at) // ${bucketMs}) * ${bucketMs} AS bucket,
    label, score, least(${BINS - 1}, floor(least(greatest(score, 0), 1) * ${BINS}))::INTEGER AS bin,
    CASE WHEN label = 1 THEN -ln(${p}) ELSE -ln(1 - ${p}) END AS ll,
    shown_count, picked_position${sliceCols.map((c) => `, ${c}`).join('')}
    FROM (${rel}) WHERE ${where.join(' AND ')}`;
}

/** One grouping set per slice field, and (withAll, or without slices) one for the ALL slice. */
function groupingSets(slices: string[], extra: string[], withAll: boolean): string {
  const base = ['model', 'version', 'arm', 'bucket', ...extra];
  const sets = [...(withAll || !slices.length ? [base] : []), ...slices.map((_, i) => [...base, `__s${i}`])];
  return `GROUPING SETS (${sets.map((s) => `(${s.join(', ')})`).join(', ')})`;
}

/** Rows of a per-slice result, plus the ALL slice summed from the first slice field's rows. */
function withAll<R extends CellKey>(r: Record<string, unknown[]>, slices: string[], row: (k: CellKey, i: number) => R, sub: (x: R) => number, add: (into: R, x: R) => void): R[] {
  const at = keysOf(r, slices);
  const out: R[] = [];
  const all = new Map<string, R>();
  const n = (r.n as unknown[]).length;
  for (let i = 0; i < n; i++) {
    const x = row(at(i), i);
    out.push(x);
    if (slices.length && x.slice_field === slices[0]) {
      const ks = `${x.model}\x1f${x.version}\x1f${x.arm}\x1f${x.bucket}\x1f${sub(x)}`;
      const a = all.get(ks);
      if (a) add(a, x);
      else all.set(ks, { ...x, slice_field: ALL, slice_value: '' });
    }
  }
  return [...out, ...all.values()];
}

/** The cell key of row i of a grouping-sets result: its slice is the one slice column it was grouped by, or ALL. */
function keysOf(r: Record<string, unknown[]>, slices: string[]): (i: number) => CellKey {
  // column arrays looked up once: this runs for every row of the bins (10⁵ rows)
  const [model, version, arm, bucket] = [r.model!, r.version!, r.arm!, r.bucket!];
  const g = slices.map((_, s) => r[`__g${s}`]!);
  const v = slices.map((_, s) => r[`__s${s}`]!);
  return (i) => {
    let slice_field = ALL;
    let slice_value = '';
    for (let s = 0; s < slices.length; s++) {
      if (Number(g[s]![i]) === 0) {
        slice_field = slices[s]!;
        slice_value = String(v[s]![i]);
      }
    }
    return { model: model[i] as string, version: version[i] as number, arm: arm[i] as string, bucket: bucket[i] as number, slice_field, slice_value };
  };
}

/** Cells (with the ALL slice when rows are per slice value) summed from rows carrying every sum. */
function rollUpCells(r: Record<string, unknown[]>, slices: string[]): Cell[] {
  const at = keysOf(r, slices);
  const cells = new Map<string, Cell>();
  const [n, pos, ss, ss2, ll, ll2, ranked] = [r.n, r.pos, r.sum_score, r.sum_score2, r.sum_ll, r.sum_ll2, r.ranked] as number[][];
  const add = (k: CellKey, i: number) => {
    const ks = keyString(k);
    const c = cells.get(ks);
    if (!c) return void cells.set(ks, { ...k, n: n![i]!, pos: pos![i]!, sum_score: ss![i]!, sum_score2: ss2![i]!, sum_ll: ll![i]!, sum_ll2: ll2![i]!, ranked: ranked![i]! });
    c.n += n![i]!;
    c.pos += pos![i]!;
    c.sum_score += ss![i]!;
    c.sum_score2 += ss2![i]!;
    c.sum_ll += ll![i]!;
    c.sum_ll2 += ll2![i]!;
    c.ranked += ranked![i]!;
  };
  for (let i = 0; i < n!.length; i++) {
    const k = at(i);
    add(k, i);
    // with one slice field the rows are per value only (no ALL rows): each example has one value
    if (slices.length === 1) add({ model: k.model, version: k.version, arm: k.arm, bucket: k.bucket, slice_field: ALL, slice_value: '' }, i);
  }
  return [...cells.values()];
}

/** A query's result as columns of JS values (much faster than row objects for 10⁵ rows and more). */
async function columns(duck: DuckSession, sql: string, slices = 0): Promise<Record<string, unknown[]>> {
  // slice values become text on the grouped rows (a row per value, not per example); two values
  // equal after the cut give two rows of one cell, which every consumer of the state adds up
  const text = Array.from({ length: slices }, (_, i) => `coalesce(left(__s${i}::VARCHAR, ${MAX_VALUE_LENGTH}), '(null)') AS __s${i}`);
  const q = text.length ? `SELECT * REPLACE (${text.join(', ')}) FROM (${sql})` : sql;
  return (await duck.conn.runAndReadAll(q)).getColumnsObjectJS() as Record<string, unknown[]>;
}

/**
 * The state of a feedback version; `bucketMs` (a multiple of an hour) coarsens the time buckets when
 * only coarser figures are wanted (a day: 24× fewer rows), which gives the same figures per day.
 * As in the incremental state, `since` keeps the whole hour that holds it.
 */
export async function stateFromDataset(duck: DuckSession, dataDir: string, m: Manifest, slices: string[], filter: StateFilter = {}, bucketMs = HOUR_MS): Promise<MetricsState> {
  const names = new Set(m.schema.map((c) => c.name));
  for (const c of ['model', 'model_version', 'arm', 'predicted_at', 'label', 'score']) {
    if (!names.has(c)) throw new UsageError(`${m.dataset}@${m.version} has no column ${c}: it is not a feedback dataset`, { hint: 'pass a version made by `sluice feedback run`' });
  }
  for (const s of slices) {
    if (!names.has(fieldColumn(s))) throw new UsageError(`${m.dataset}@${m.version} has no logged field ${JSON.stringify(s)} to slice by`, { hint: `fields: ${m.schema.map((c) => c.name).filter((c) => !(c in FEEDBACK_COLUMNS) && !c.startsWith('_')).join(', ') || '(none)'}` });
  }
  const base = baseSql(scanSql(dataDir, m), slices, filter, bucketMs);
  const gcols = slices.map((_, i) => `, __s${i}, GROUPING(__s${i}) AS __g${i}`).join('');
  const keyCols = `model, version::DOUBLE AS version, arm, bucket::DOUBLE AS bucket`;
  // As few passes as the slices allow: with one slice field (the common case) one pass over the
  // data at the finest level, positions apart (measured: a grouping-sets pass per kind of row was
  // ~1.5x slower); with several, one pass for cells and one for bins, a grouping set per field.
  const sums = `count(*)::DOUBLE AS n, sum(label)::DOUBLE AS pos, sum(score) AS sum_score`;
  const squares = `sum(score * score) AS sum_score2, sum(ll) AS sum_ll, sum(ll * ll) AS sum_ll2, count(shown_count)::DOUBLE AS ranked`;
  let cells: Cell[];
  let b: Record<string, unknown[]>;
  if (slices.length <= 1) {
    // One slice field: one pass at the finest level (key × value × bin) with every sum; the cells
    // and the ALL slice are rolled up here from its ≤ 100 rows per cell.
    b = await columns(duck, `SELECT ${keyCols}, bin${slices.length ? ', __s0, 0 AS __g0' : ''}, ${sums}, ${squares} FROM (${base}) GROUP BY ALL`, slices.length);
    cells = rollUpCells(b, slices);
  } else {
    const c = await columns(duck, `SELECT ${keyCols}${gcols}, ${sums}, ${squares} FROM (${base}) GROUP BY ${groupingSets(slices, [], true)}`, slices.length);
    cells = rollUpCells(c, slices);
    b = await columns(duck, `SELECT ${keyCols}, bin${gcols}, ${sums} FROM (${base}) GROUP BY ${groupingSets(slices, ['bin'], false)}`, slices.length);
  }
  const [bb, bn, bp, bs] = [b.bin, b.n, b.pos, b.sum_score] as number[][];
  const bins = withAll(b, slices, (k, i) => ({ model: k.model, version: k.version, arm: k.arm, bucket: k.bucket, slice_field: k.slice_field, slice_value: k.slice_value, bin: bb![i]!, n: bn![i]!, pos: bp![i]!, sum_score: bs![i]! }), (r) => r.bin, (into, r) => {
    into.n += r.n;
    into.pos += r.pos;
    into.sum_score += r.sum_score;
  });
  let positions: PositionRow[] = [];
  if (names.has('picked_position')) {
    const p = await columns(duck, `SELECT ${keyCols}, picked_position AS picked${gcols}, count(*)::DOUBLE AS n FROM (${base}) WHERE shown_count IS NOT NULL AND picked_position IS NOT NULL GROUP BY ${groupingSets(slices, ['picked_position'], false)}`, slices.length);
    const [pp, pn] = [p.picked, p.n] as number[][];
    positions = withAll(p, slices, (k, i) => ({ model: k.model, version: k.version, arm: k.arm, bucket: k.bucket, slice_field: k.slice_field, slice_value: k.slice_value, picked: pp![i]!, n: pn![i]! }), (r) => r.picked, (into, r) => {
      into.n += r.n;
    });
  }
  return { cells, bins, positions };
}
