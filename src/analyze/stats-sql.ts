// The SQL of one stats map task: pass 1 (moments, ranges, lengths, distinct estimates) and pass 2
// (histograms on bins fixed from pass 1, exact value counts or top-k, distinct sketches), per part.
import { ident, type DuckSession } from '../engine/duckdb.ts';
import type { Kind } from './columns.ts';

export const QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;
/** Distinct values up to which a column gets exact value counts (and a schema domain). */
export const LOW_CARDINALITY = 1000;
/** Size of the bottom-k distinct-hash sketch that merges distinct counts across parts. */
export const KMV_SIZE = 1024;
/** Per-part top list size: larger than the report's top-k so merged counts stay close. */
export const PART_TOP = 60;

export interface ColumnSpec {
  name: string;
  type: string;
  kind: Kind;
}

/** Pass 1 partials of one column in one part. */
export interface Partial1 {
  n: number;
  min: number | string | null;
  max: number | string | null;
  mean: number | null;
  m2: number | null;
  zeros: number | null;
  trues: number | null;
  approxDistinct: number;
  quantiles: number[] | null;
  lenMin: number | null;
  lenMax: number | null;
  lenSum: number | null;
}

export interface Pass2Column extends ColumnSpec {
  /** numeric histogram: bins of width `width` from `lo` */
  lo?: number;
  width?: number;
  bins?: number;
  values: boolean;
  top: boolean;
  kmv: boolean;
}

/** Pass 2 partials of one column in one part. */
export interface Partial2 {
  hist: [number, number][] | null;
  values: [string, number][] | null;
  top: [string, number][] | null;
  kmv: string[] | null;
  /** exact distinct values in this part (columns with a top list) */
  distinct?: number;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function lengthExpr(kind: Kind, x: string): string | null {
  if (kind === 'string') return `length(${x})`;
  if (kind === 'list') return `len(${x})`;
  if (kind === 'blob') return `octet_length(${x})`;
  return null;
}

/** Pass 1 over `rel`; `present` lists the columns this part has (others count as all missing). */
export async function pass1(duck: DuckSession, rel: string, cols: ColumnSpec[], present: Set<string>, exactQuantiles: boolean): Promise<{ rows: number; cols: Record<string, Partial1> }> {
  const sel: string[] = ['count(*)::DOUBLE AS rows'];
  cols.forEach((c, i) => {
    if (!present.has(c.name)) return;
    const x = ident(c.name);
    const p = `c${i}_`;
    sel.push(`count(${x})::DOUBLE AS ${p}n`);
    if (c.kind === 'number') {
      const d = `${x}::DOUBLE`;
      sel.push(`min(${d}) AS ${p}min`, `max(${d}) AS ${p}max`, `avg(${d}) AS ${p}mean`, `var_pop(${d}) * count(${x}) AS ${p}m2`);
      sel.push(`count_if(${x} = 0)::DOUBLE AS ${p}zeros`, `approx_count_distinct(${x})::DOUBLE AS ${p}ad`);
      if (exactQuantiles) sel.push(`quantile_cont(${d}, [${QUANTILES.join(', ')}]) AS ${p}q`);
    } else if (c.kind === 'boolean') {
      sel.push(`count_if(${x})::DOUBLE AS ${p}trues`, `approx_count_distinct(${x})::DOUBLE AS ${p}ad`);
    } else if (c.kind === 'string' || c.kind === 'time') {
      sel.push(`min(${x})::VARCHAR AS ${p}min`, `max(${x})::VARCHAR AS ${p}max`, `approx_count_distinct(${x})::DOUBLE AS ${p}ad`);
    }
    const len = lengthExpr(c.kind, x);
    if (len) sel.push(`min(${len})::DOUBLE AS ${p}lmin`, `max(${len})::DOUBLE AS ${p}lmax`, `sum(${len})::DOUBLE AS ${p}lsum`);
  });
  const r = await duck.one<Record<string, unknown>>(`SELECT ${sel.join(', ')} FROM (${rel})`);
  const out: Record<string, Partial1> = {};
  cols.forEach((c, i) => {
    const p = `c${i}_`;
    const q = r[`${p}q`];
    out[c.name] = {
      n: num(r[`${p}n`]) ?? 0,
      min: c.kind === 'number' ? num(r[`${p}min`]) : ((r[`${p}min`] as string | undefined) ?? null),
      max: c.kind === 'number' ? num(r[`${p}max`]) : ((r[`${p}max`] as string | undefined) ?? null),
      mean: num(r[`${p}mean`]),
      m2: num(r[`${p}m2`]),
      zeros: num(r[`${p}zeros`]),
      trues: num(r[`${p}trues`]),
      approxDistinct: num(r[`${p}ad`]) ?? 0,
      quantiles: Array.isArray(q) ? q.map(Number) : null,
      lenMin: num(r[`${p}lmin`]),
      lenMax: num(r[`${p}lmax`]),
      lenSum: num(r[`${p}lsum`]),
    };
  });
  return { rows: num(r.rows) ?? 0, cols: out };
}

const mapEntries = (v: unknown): [unknown, number][] =>
  Array.isArray(v) ? (v as { key: unknown; value: unknown }[]).map((e) => [e.key, Number(e.value)]) : [];

/** Pass 2 over `rel`: one aggregate query for histograms and value counts, then per-column queries. */
export async function pass2(duck: DuckSession, rel: string, cols: Pass2Column[], present: Set<string>): Promise<Record<string, Partial2>> {
  const sel: string[] = [];
  cols.forEach((c, i) => {
    if (!present.has(c.name)) return;
    const x = ident(c.name);
    if (c.bins !== undefined && c.lo !== undefined && c.width !== undefined) {
      const bin = `least(${c.bins - 1}, greatest(0, floor((${x}::DOUBLE - ${c.lo}) / ${c.width})))::INTEGER`;
      sel.push(`histogram(${bin}) AS c${i}_h`);
    }
    if (c.values) sel.push(`histogram(${x}::VARCHAR) AS c${i}_v`);
  });
  const r = sel.length ? await duck.one<Record<string, unknown>>(`SELECT ${sel.join(', ')} FROM (${rel})`) : {};
  const grouped = await groupedPartials(duck, rel, cols.filter((c) => present.has(c.name) && (c.top || c.kmv)));
  const out: Record<string, Partial2> = {};
  for (const [i, c] of cols.entries()) {
    const g = grouped.get(c.name);
    out[c.name] = {
      hist: r[`c${i}_h`] !== undefined ? mapEntries(r[`c${i}_h`]).map(([k, n]) => [Number(k), n]) : null,
      values: r[`c${i}_v`] !== undefined ? mapEntries(r[`c${i}_v`]).map(([k, n]) => [String(k), n]) : null,
      top: c.top ? (g?.top ?? []) : null,
      kmv: c.kmv ? (g?.kmv ?? []) : null,
      ...(c.top && g ? { distinct: g.distinct } : {}),
    };
  }
  return out;
}

/**
 * Top values, exact distinct counts and bottom-k distinct hashes of high-cardinality columns in one scan: one GROUP BY
 * per column as GROUPING SETS, materialized once, then the top rows and the k smallest hashes.
 */
async function groupedPartials(duck: DuckSession, rel: string, cols: Pass2Column[]): Promise<Map<string, { top: [string, number][]; kmv: string[]; distinct: number }>> {
  const out = new Map<string, { top: [string, number][]; kmv: string[]; distinct: number }>();
  if (!cols.length) return out;
  const xs = cols.map((c) => ident(c.name));
  const which = `CASE ${xs.map((x, i) => `WHEN GROUPING(${x}) = 0 THEN ${i}`).join(' ')} END`;
  const value = `CASE ${xs.map((x) => `WHEN GROUPING(${x}) = 0 THEN ${x}::VARCHAR`).join(' ')} END`;
  const tops = cols.flatMap((c, i) => (c.top ? [i] : []));
  const kmvs = cols.flatMap((c, i) => (c.kmv ? [i] : []));
  const rows = await duck.all<{ c: number; v: string | null; n: number | null; k: unknown[] | null }>(
    `WITH g AS MATERIALIZED (SELECT ${which} AS c, ${value} AS v, count(*)::DOUBLE AS n FROM (${rel}) GROUP BY GROUPING SETS (${xs.map((x) => `(${x})`).join(', ')}))
     SELECT c, v, n, NULL::UBIGINT[] AS k FROM g WHERE v IS NOT NULL AND c IN (${tops.join(', ') || 'NULL'}) QUALIFY row_number() OVER (PARTITION BY c ORDER BY n DESC, v) <= ${PART_TOP}
     UNION ALL
     SELECT c, NULL, NULL, min(hash(v), ${KMV_SIZE}) FROM g WHERE v IS NOT NULL AND c IN (${kmvs.join(', ') || 'NULL'}) GROUP BY c
     UNION ALL
     SELECT c, NULL, count(*)::DOUBLE, NULL FROM g WHERE v IS NOT NULL AND c IN (${tops.join(', ') || 'NULL'}) GROUP BY c`,
  );
  cols.forEach((c) => out.set(c.name, { top: [], kmv: [], distinct: 0 }));
  for (const r of rows.sort((a, b) => Number(b.n ?? 0) - Number(a.n ?? 0) || String(a.v).localeCompare(String(b.v)))) {
    const e = out.get(cols[Number(r.c)]!.name)!;
    if (r.k) e.kmv = r.k.map(String);
    else if (r.v === null) e.distinct = Number(r.n);
    else e.top.push([r.v, Number(r.n)]);
  }
  return out;
}
