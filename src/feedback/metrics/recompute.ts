// Recomputes the metrics state from a `feedback` dataset version with DuckDB: the same rows the
// incremental accumulator keeps (cells, score bins, picked positions), so one finalizer serves both
// and the two can be checked against each other.
import { scanSql } from '../../core/dataset.ts';
import type { Manifest } from '../../core/manifest.ts';
import { UsageError } from '../../core/errors.ts';
import { ident, lit, type DuckSession } from '../../engine/duckdb.ts';
import { FEEDBACK_COLUMNS } from '../records.ts';
import { ALL, BINS, EPS, HOUR_MS, MAX_VALUE_LENGTH, type BinRow, type Cell, type MetricsState, type PositionRow } from './state.ts';

/** The column a logged field is stored in (a field named like a fixed column gets a `field_` prefix). */
export function fieldColumn(field: string): string {
  return field in FEEDBACK_COLUMNS ? `field_${field}` : field;
}

export interface StateFilter {
  model?: string;
  /** epoch ms: examples predicted at or after */
  since?: number;
}

/** The per-example expressions, written once so cells and bins read the same values. */
function baseSql(rel: string, slices: string[], f: StateFilter): string {
  const p = `greatest(${EPS}, least(${1 - EPS}, score))`;
  const where = [`score IS NOT NULL`, ...(f.model ? [`model = ${lit(f.model)}`] : []), ...(f.since !== undefined ? [`epoch_ms(predicted_at) >= ${Math.floor(f.since)}`] : [])];
  const sliceCols = slices.map((s, i) => `coalesce(left(${ident(fieldColumn(s))}::VARCHAR, ${MAX_VALUE_LENGTH}), '(null)') AS __s${i}`);
  return `SELECT model, model_version::BIGINT AS version, arm, (epoch_ms(predicted_at) // ${HOUR_MS}) * ${HOUR_MS} AS bucket,
    label, score, least(${BINS - 1}, floor(least(greatest(score, 0), 1) * ${BINS}))::INTEGER AS bin,
    CASE WHEN label = 1 THEN -ln(${p}) ELSE -ln(1 - ${p}) END AS ll,
    shown_count, picked_position${sliceCols.map((c) => `, ${c}`).join('')}
    FROM (${rel}) WHERE ${where.join(' AND ')}`;
}

function groupingSets(slices: string[], extra: string[]): string {
  const base = ['model', 'version', 'arm', 'bucket', ...extra];
  const sets = [base, ...slices.map((_, i) => [...base, `__s${i}`])];
  return `GROUPING SETS (${sets.map((s) => `(${s.join(', ')})`).join(', ')})`;
}

/** Names the slice of a grouping-set row: the one slice column it was grouped by, or ALL. */
function sliceOf(r: Record<string, unknown>, slices: string[]): { slice_field: string; slice_value: string } {
  for (let i = 0; i < slices.length; i++) if (Number(r[`__g${i}`]) === 0) return { slice_field: slices[i]!, slice_value: String(r[`__s${i}`]) };
  return { slice_field: ALL, slice_value: '' };
}

export async function stateFromDataset(duck: DuckSession, dataDir: string, m: Manifest, slices: string[], filter: StateFilter = {}): Promise<MetricsState> {
  const names = new Set(m.schema.map((c) => c.name));
  for (const c of ['model', 'model_version', 'arm', 'predicted_at', 'label', 'score']) {
    if (!names.has(c)) throw new UsageError(`${m.dataset}@${m.version} has no column ${c}: it is not a feedback dataset`, { hint: 'pass a version made by `sluice feedback run`' });
  }
  for (const s of slices) {
    if (!names.has(fieldColumn(s))) throw new UsageError(`${m.dataset}@${m.version} has no logged field ${JSON.stringify(s)} to slice by`, { hint: `fields: ${m.schema.map((c) => c.name).filter((c) => !(c in FEEDBACK_COLUMNS) && !c.startsWith('_')).join(', ') || '(none)'}` });
  }
  const base = baseSql(scanSql(dataDir, m), slices, filter);
  const gcols = slices.map((_, i) => `, __s${i}, GROUPING(__s${i}) AS __g${i}`).join('');
  // One pass per bin: cells are sums of their bins (rolled up below), so the data is scanned once for both.
  const rows = await duck.all<Record<string, number | string>>(
    `SELECT model, version, arm, bucket, bin${gcols}, count(*) AS n, sum(label)::BIGINT AS pos, sum(score) AS sum_score,
       sum(score * score) AS sum_score2, sum(ll) AS sum_ll, sum(ll * ll) AS sum_ll2, count(shown_count) AS ranked
     FROM (${base}) GROUP BY ${groupingSets(slices, ['bin'])}`,
  );
  const cells = new Map<string, Cell>();
  const bins: BinRow[] = [];
  for (const r of rows) {
    const key = { model: String(r.model), version: Number(r.version), arm: String(r.arm), bucket: Number(r.bucket), ...sliceOf(r, slices) };
    bins.push({ ...key, bin: Number(r.bin), n: Number(r.n), pos: Number(r.pos), sum_score: Number(r.sum_score) });
    const ks = JSON.stringify(key);
    let c = cells.get(ks);
    if (!c) cells.set(ks, (c = { ...key, n: 0, pos: 0, sum_score: 0, sum_score2: 0, sum_ll: 0, sum_ll2: 0, ranked: 0 }));
    c.n += Number(r.n);
    c.pos += Number(r.pos);
    c.sum_score += Number(r.sum_score);
    c.sum_score2 += Number(r.sum_score2);
    c.sum_ll += Number(r.sum_ll);
    c.sum_ll2 += Number(r.sum_ll2);
    c.ranked += Number(r.ranked);
  }
  const positions: PositionRow[] = names.has('picked_position')
    ? (
        await duck.all<Record<string, number | string>>(
          `SELECT model, version, arm, bucket, picked_position AS picked${gcols}, count(*) AS n
           FROM (${base}) WHERE shown_count IS NOT NULL AND picked_position IS NOT NULL GROUP BY ${groupingSets(slices, ['picked_position'])}`,
        )
      ).map((r) => ({ model: String(r.model), version: Number(r.version), arm: String(r.arm), bucket: Number(r.bucket), ...sliceOf(r, slices), picked: Number(r.picked), n: Number(r.n) }))
    : [];
  return { cells: [...cells.values()], bins, positions };
}
