// Reads the incremental metrics state (what accumulateMetrics kept) from the feedback store.
import type { Param, SqlDb } from '../../store/sql.ts';
import { openFeedbackDb } from '../state.ts';
import { ensureMetricsSchema } from './accumulate.ts';
import type { StateFilter } from './recompute.ts';
import type { BinRow, Cell, MetricsState, PositionRow } from './state.ts';

/** The feedback store (join state and metrics), opened as the join opens it. */
export { openFeedbackDb };

export async function readState(db: SqlDb, f: StateFilter = {}): Promise<MetricsState> {
  await ensureMetricsSchema(db);
  const where: string[] = [];
  const params: Param[] = [];
  if (f.model) {
    where.push('model = ?');
    params.push(f.model);
  }
  if (f.since !== undefined) {
    // buckets are whole hours: the hour that holds `since` is kept whole
    where.push('bucket >= ?');
    params.push(Math.floor(f.since / 3_600_000) * 3_600_000);
  }
  const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  const num = <T extends object>(rows: T[]): T[] =>
    rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && !['model', 'arm', 'slice_field', 'slice_value'].includes(k) ? Number(v) : v])) as T);
  return {
    cells: num(await db.all<Cell>(`SELECT * FROM metrics_cells${w}`, params)),
    bins: num(await db.all<BinRow>(`SELECT * FROM metrics_bins${w}`, params)),
    positions: num(await db.all<PositionRow>(`SELECT * FROM metrics_positions${w}`, params)),
  };
}
