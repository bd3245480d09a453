// The metrics state: additive sums per model × version × arm × hour × slice, from which every
// metric is finalized. Both the incremental accumulator (SQL tables) and the recompute from
// `feedback` versions (DuckDB) produce exactly these rows, so one finalizer serves both.
//
// AUC choice: scores are binned into BINS equal-width bins with positives and negatives per bin, and
// AUC is computed on the binned scores (pairs in one bin count as ties, ½). That keeps the state
// bounded (≤ BINS rows per cell, whatever the traffic) and still mergeable across hours, slices and
// versions; exact AUC would need every distinct score. The binned AUC equals the exact AUC whenever
// no positive and negative with different scores share a bin; otherwise it is off by at most the
// share of such pairs (≤ 1/BINS-wide bands of scores), which is well under the sampling error of
// live metrics. ECE uses the per-bin sum of scores, so its mean predicted per bin is exact.

/** Number of equal-width score bins on [0, 1]. */
export const BINS = 100;
/** Log loss clips probabilities to [EPS, 1 - EPS] (sklearn's convention) so one confident miss is finite. */
export const EPS = 1e-15;
/** The slice that holds every example. */
export const ALL = '*';
/** Slice values are cut to this length so a free-text field cannot blow up the key. */
export const MAX_VALUE_LENGTH = 64;

/** What identifies one cell of the state. */
export interface CellKey {
  model: string;
  version: number;
  arm: string;
  /** start of the hour (epoch ms) of `predicted_at` */
  bucket: number;
  /** the slice field's name, or ALL */
  slice_field: string;
  /** the field's value as text ('' for ALL, '(null)' for a missing value) */
  slice_value: string;
}

/** The additive sums of a cell (and of any merge of cells). */
export interface Sums {
  n: number;
  pos: number;
  sum_score: number;
  sum_score2: number;
  sum_ll: number;
  sum_ll2: number;
  /** examples of ranked answers (shown_count not null) */
  ranked: number;
}

export interface Cell extends CellKey, Sums {}

export interface BinRow extends CellKey {
  bin: number;
  n: number;
  pos: number;
  sum_score: number;
}

export interface PositionRow extends CellKey {
  /** the picked position (0 = first) */
  picked: number;
  n: number;
}

export interface MetricsState {
  cells: Cell[];
  bins: BinRow[];
  positions: PositionRow[];
}

export const KEY_COLUMNS = ['model', 'version', 'arm', 'bucket', 'slice_field', 'slice_value'] as const;

export const HOUR_MS = 3_600_000;

export function binOf(score: number): number {
  const s = Math.min(1, Math.max(0, score));
  return Math.min(BINS - 1, Math.floor(s * BINS));
}

/** Per-example log loss with the clip. */
export function logLoss(label: number, score: number): number {
  const p = Math.min(1 - EPS, Math.max(EPS, score));
  return label ? -Math.log(p) : -Math.log(1 - p);
}

/** The text a slice value is stored as. */
export function sliceText(v: unknown): string {
  if (v === null || v === undefined) return '(null)';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.length > MAX_VALUE_LENGTH ? s.slice(0, MAX_VALUE_LENGTH) : s;
}

/** A map key for a cell (unit separators: cheaper than JSON on hot loops, and no field holds \x1f). */
export function keyString(k: CellKey): string {
  return `${k.model}\x1f${k.version}\x1f${k.arm}\x1f${k.bucket}\x1f${k.slice_field}\x1f${k.slice_value}`;
}
