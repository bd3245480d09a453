// The reduce side of stats: merges per-part partials (Chan's parallel moments, summed histograms
// and value counts, bottom-k distinct sketches) into one ColumnStats per column.
import { isInteger, type Kind } from './columns.ts';
import { KMV_SIZE, LOW_CARDINALITY, QUANTILES, type ColumnSpec, type Partial1, type Partial2, type Pass2Column } from './stats-sql.ts';

/** Fine bins per numeric column in pass 2; the report shows them merged into DISPLAY_BINS. */
export const FINE_BINS = 1000;
export const DISPLAY_BINS = 20;
/** Share of distinct values past which a string column counts as near-unique (no top-k on one part). */
export const NEAR_UNIQUE = 0.5;

export interface ColumnStats {
  name: string;
  type: string;
  kind: Kind;
  count: number;
  missing: number;
  distinct: number | null;
  distinctExact: boolean;
  min: number | string | null;
  max: number | string | null;
  mean: number | null;
  std: number | null;
  zeros: number | null;
  trues: number | null;
  quantiles: Record<string, number> | null;
  quantilesExact: boolean;
  histogram: { edges: number[]; counts: number[] } | null;
  top: { value: string; count: number }[] | null;
  topExact: boolean;
  /** every value's count, when the column has at most LOW_CARDINALITY values */
  values: Record<string, number> | null;
  length: { min: number; max: number; mean: number } | null;
}

/** Pass-1 partials merged: what pass 2 needs to fix its bins. */
export interface Merged1 extends ColumnSpec {
  n: number;
  min: number | string | null;
  max: number | string | null;
  mean: number | null;
  m2: number | null;
  zeros: number | null;
  trues: number | null;
  approxDistinct: number;
  quantiles: number[] | null;
  length: { min: number; max: number; mean: number } | null;
}

const pick = <T>(a: T | null, b: T | null, better: (x: T, y: T) => boolean): T | null => (a === null ? b : b === null ? a : better(a, b) ? a : b);
const add = (a: number | null, b: number | null): number | null => (a === null && b === null ? null : (a ?? 0) + (b ?? 0));

export function merge1(cols: ColumnSpec[], parts: Record<string, Partial1>[]): Merged1[] {
  return cols.map((c) => {
    const ps = parts.map((p) => p[c.name]).filter((p): p is Partial1 => Boolean(p) && p!.n > 0);
    let n = 0;
    let mean: number | null = null;
    let m2: number | null = null;
    for (const p of ps) {
      if (p.mean === null || p.m2 === null) continue;
      if (mean === null || m2 === null) {
        [n, mean, m2] = [p.n, p.mean, p.m2];
        continue;
      }
      // Chan et al.: combine two (count, mean, M2) summaries without a second pass.
      const total = n + p.n;
      const delta = p.mean - mean;
      mean += (delta * p.n) / total;
      m2 += p.m2 + (delta * delta * n * p.n) / total;
      n = total;
    }
    const count = ps.reduce((s, p) => s + p.n, 0);
    const lenParts = ps.filter((p) => p.lenMin !== null);
    return {
      ...c,
      n: count,
      min: ps.reduce<number | string | null>((a, p) => pick(a, p.min, (x, y) => x <= y), null),
      max: ps.reduce<number | string | null>((a, p) => pick(a, p.max, (x, y) => x >= y), null),
      mean,
      m2,
      zeros: ps.reduce<number | null>((a, p) => add(a, p.zeros), null),
      trues: ps.reduce<number | null>((a, p) => add(a, p.trues), null),
      approxDistinct: ps.reduce((a, p) => a + p.approxDistinct, 0),
      quantiles: ps.length === 1 ? ps[0]!.quantiles : null,
      length: lenParts.length
        ? {
            min: Math.min(...lenParts.map((p) => p.lenMin!)),
            max: Math.max(...lenParts.map((p) => p.lenMax!)),
            mean: lenParts.reduce((s, p) => s + p.lenSum!, 0) / count,
          }
        : null,
    };
  });
}

/** Pass 2's work per column, from the pass-1 ranges and distinct estimates. */
export function plan2(merged: Merged1[], multiPart: boolean): Pass2Column[] {
  return merged.map((m) => {
    const spec: Pass2Column = { name: m.name, type: m.type, kind: m.kind, values: false, top: false, kmv: false };
    const lowCard = m.approxDistinct <= LOW_CARDINALITY;
    if (m.kind === 'number' && typeof m.min === 'number' && typeof m.max === 'number') {
      const range = m.max - m.min;
      if (isInteger(m.type) && range < FINE_BINS) Object.assign(spec, { lo: m.min - 0.5, width: 1, bins: range + 1 });
      else if (range === 0) Object.assign(spec, { lo: m.min, width: 1, bins: 1 });
      else Object.assign(spec, { lo: m.min, width: range / FINE_BINS, bins: FINE_BINS });
      spec.values = lowCard;
      spec.kmv = multiPart && !lowCard;
    } else if (m.kind === 'boolean') {
      spec.values = true;
    } else if (m.kind === 'string') {
      spec.values = lowCard;
      // a near-unique column (ids, free text) has no meaningful top values: on one part skip the
      // GROUP BY and keep the HLL distinct estimate; across parts the sketch needs the grouping anyway
      spec.top = !lowCard && (multiPart || m.approxDistinct < NEAR_UNIQUE * m.n);
      spec.kmv = multiPart && !lowCard;
    } else if (m.kind === 'time') {
      spec.kmv = multiPart;
    }
    if (m.n === 0) Object.assign(spec, { values: false, top: false, kmv: false, bins: undefined });
    return spec;
  });
}

function sumPairs<K extends string | number>(lists: ([K, number][] | null)[]): Map<K, number> {
  const out = new Map<K, number>();
  for (const l of lists) for (const [k, n] of l ?? []) out.set(k, (out.get(k) ?? 0) + n);
  return out;
}

/** Distinct count from merged bottom-k hash sketches: exact below k distinct hashes. */
export function kmvDistinct(sketches: string[][]): { distinct: number; exact: boolean } {
  const all = [...new Set(sketches.flat())].map((s) => BigInt(s)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (all.length < KMV_SIZE) return { distinct: all.length, exact: true };
  const kth = Number(all[KMV_SIZE - 1]!) / 2 ** 64;
  return { distinct: Math.round((KMV_SIZE - 1) / kth), exact: false };
}

/** Quantiles read off a fine histogram (ranks as quantile_cont counts them). */
export function histogramQuantiles(counts: Map<number, number>, lo: number, width: number, n: number, discrete: boolean): number[] {
  const bins = [...counts.entries()].sort((a, b) => a[0] - b[0]);
  return QUANTILES.map((q) => {
    const t = q * (n - 1);
    let before = 0;
    for (const [b, c] of bins) {
      if (t < before + c) return discrete ? lo + 0.5 + b : lo + width * (b + (t - before + 0.5) / c);
      before += c;
    }
    const last = bins[bins.length - 1];
    return last ? lo + width * (last[0] + 1) : NaN;
  });
}

export function merge2(merged: Merged1[], specs: Pass2Column[], parts: Record<string, Partial2>[], rows: number, topK: number, multiPart: boolean): ColumnStats[] {
  return merged.map((m, i) => {
    const spec = specs[i]!;
    const ps = parts.map((p) => p[m.name]).filter((p): p is Partial2 => Boolean(p));
    const values = spec.values ? sumPairs(ps.map((p) => p.values)) : null;
    let distinct: number | null = null;
    let distinctExact = false;
    if (values) [distinct, distinctExact] = [values.size, true];
    else if (spec.kmv) ({ distinct, exact: distinctExact } = kmvDistinct(ps.map((p) => p.kmv ?? [])));
    else if (spec.top && ps.length === 1 && ps[0]!.distinct !== undefined) [distinct, distinctExact] = [ps[0]!.distinct, true];
    else if (m.kind !== 'list' && m.kind !== 'blob' && m.kind !== 'other') distinct = m.approxDistinct;
    let histogram: ColumnStats['histogram'] = null;
    let quantiles = m.quantiles;
    let quantilesExact = quantiles !== null;
    if (spec.bins !== undefined && spec.lo !== undefined && spec.width !== undefined) {
      const fine = sumPairs(ps.map((p) => p.hist));
      const g = Math.ceil(spec.bins / DISPLAY_BINS);
      const shown = Math.ceil(spec.bins / g);
      const counts = Array.from({ length: shown }, () => 0);
      for (const [b, n] of fine) counts[Math.floor(b / g)]! += n;
      const edges = Array.from({ length: shown + 1 }, (_, j) => spec.lo! + Math.min(j * g, spec.bins!) * spec.width!);
      histogram = { edges, counts };
      if (!quantiles) {
        quantiles = histogramQuantiles(fine, spec.lo, spec.width, m.n, spec.width === 1 && isInteger(m.type));
        quantilesExact = false;
      }
    }
    const tops = values ? [...values.entries()] : spec.top ? [...sumPairs(ps.map((p) => p.top)).entries()] : null;
    const top = tops
      ? tops
          .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
          .slice(0, topK)
          .map(([value, count]) => ({ value, count }))
      : null;
    return {
      name: m.name,
      type: m.type,
      kind: m.kind,
      count: m.n,
      missing: rows - m.n,
      distinct,
      distinctExact,
      min: m.min,
      max: m.max,
      mean: m.mean,
      // sample standard deviation, as DuckDB's stddev and pandas report it
      std: m.m2 !== null && m.n > 1 ? Math.sqrt(m.m2 / (m.n - 1)) : m.n === 1 ? 0 : null,
      zeros: m.zeros,
      trues: m.trues,
      quantiles: quantiles ? Object.fromEntries(QUANTILES.map((q, j) => [`p${Math.round(q * 100)}`, quantiles![j]!])) : null,
      quantilesExact,
      histogram,
      top,
      topExact: Boolean(values) || (spec.top && !multiPart),
      values: values ? Object.fromEntries([...values.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) : null,
      length: m.length,
    };
  });
}
