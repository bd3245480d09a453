// Drift between two versions (training data vs new data or a log of serving requests): PSI and
// Jensen–Shannon distance for numbers on the reference's decile bins, L-infinity for categories;
// a feature past its threshold is an anomaly.
import { UsageError } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import type { Project } from '../core/project.ts';
import { scanSql } from '../core/dataset.ts';
import { ident, type DuckSession } from '../engine/duckdb.ts';
import { isCategorical, kindOf, requireRows, userColumns, type Kind } from './columns.ts';

export interface Thresholds {
  psi: number;
  js: number;
  linf: number;
}
/** Common rules of thumb: PSI > 0.2 is a significant shift; TFDV's examples use 0.1 for L∞ and JS. */
export const DEFAULT_THRESHOLDS: Thresholds = { psi: 0.2, js: 0.1, linf: 0.1 };
/** Stands in for an empty bin in PSI, whose log would otherwise be infinite. */
export const PSI_EPSILON = 1e-4;

export interface FeatureDrift {
  name: string;
  kind: Kind;
  psi?: number;
  js?: number;
  linf?: number;
  /** the category with the largest share change (L∞'s argmax) */
  worst?: string;
  /** shares per bin (numbers) or per category (top values), for charts */
  bins: { label: string; a: number; b: number }[];
  drifted: boolean;
  reasons: string[];
}

export interface DriftReport {
  a: string;
  b: string;
  rowsA: number;
  rowsB: number;
  thresholds: Thresholds;
  features: FeatureDrift[];
  /** columns present in only one version */
  missing: { column: string; in: string }[];
}

/** Population stability index of two distributions over the same bins. */
export function psi(p: number[], q: number[], eps = PSI_EPSILON): number {
  return p.reduce((s, pi, i) => {
    const a = Math.max(pi, eps);
    const b = Math.max(q[i] ?? 0, eps);
    return s + (b - a) * Math.log(b / a);
  }, 0);
}

/** Jensen–Shannon distance (the square root of the divergence, log base 2: between 0 and 1). */
export function jsDistance(p: number[], q: number[]): number {
  const kl = (x: number[], m: number[]) => x.reduce((s, xi, i) => (xi > 0 ? s + xi * Math.log2(xi / m[i]!) : s), 0);
  const m = p.map((pi, i) => (pi + (q[i] ?? 0)) / 2);
  return Math.sqrt(Math.max(0, (kl(p, m) + kl(q, m)) / 2));
}

/** L-infinity distance: the largest change of one category's share. */
export function linf(p: Map<string, number>, q: Map<string, number>): { distance: number; worst: string | undefined } {
  let distance = 0;
  let worst: string | undefined;
  for (const v of new Set([...p.keys(), ...q.keys()])) {
    const d = Math.abs((p.get(v) ?? 0) - (q.get(v) ?? 0));
    if (d > distance) [distance, worst] = [d, v];
  }
  return { distance, worst };
}

const shares = (counts: number[]) => {
  const t = counts.reduce((s, n) => s + n, 0);
  return counts.map((n) => (t ? n / t : 0));
};

async function numericBins(duck: DuckSession, relA: string, relB: string, x: string): Promise<{ labels: string[]; a: number[]; b: number[] }> {
  const q = await duck.one<{ q: number[] | null }>(`SELECT quantile_cont(${x}::DOUBLE, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) AS q FROM (${relA})`);
  const edges = [...new Set((q.q ?? []).map(Number))].sort((u, v) => u - v);
  // bin i holds values in [edges[i-1], edges[i]); the first and last bins are open-ended
  const bin = edges.length ? `CASE ${edges.map((e, i) => `WHEN ${x} < ${e} THEN ${i}`).join(' ')} ELSE ${edges.length} END` : '0';
  const count = async (rel: string) => {
    const rows = await duck.all<{ b: number; n: number }>(`SELECT ${bin} AS b, count(*)::DOUBLE AS n FROM (${rel}) WHERE ${x} IS NOT NULL GROUP BY 1`);
    const out = Array.from({ length: edges.length + 1 }, () => 0);
    for (const r of rows) out[Number(r.b)] = Number(r.n);
    return out;
  };
  const fmt = (v: number) => String(Number(v.toPrecision(4)));
  const labels = Array.from({ length: edges.length + 1 }, (_, i) => (i === 0 ? `< ${fmt(edges[0] ?? 0)}` : i === edges.length ? `≥ ${fmt(edges[i - 1]!)}` : `${fmt(edges[i - 1]!)}–${fmt(edges[i]!)}`));
  return { labels, a: await count(relA), b: await count(relB) };
}

async function categoryShares(duck: DuckSession, rel: string, x: string): Promise<Map<string, number>> {
  const rows = await duck.all<{ v: string; p: number }>(
    `SELECT ${x}::VARCHAR AS v, count(*)::DOUBLE / sum(count(*)) OVER () AS p FROM (${rel}) WHERE ${x} IS NOT NULL GROUP BY 1`,
  );
  return new Map(rows.map((r) => [r.v, Number(r.p)]));
}

export async function computeDrift(project: Project, a: Manifest, b: Manifest, o: { thresholds?: Partial<Thresholds>; features?: string[] } = {}): Promise<DriftReport> {
  requireRows(a);
  requireRows(b);
  const thresholds = { ...DEFAULT_THRESHOLDS, ...o.thresholds };
  const duck = await project.duck();
  const relA = scanSql(project.dataDir, a);
  const relB = scanSql(project.dataDir, b);
  const colsB = new Map(userColumns(b).map((c) => [c.name, c]));
  const colsA = userColumns(a);
  for (const f of o.features ?? []) {
    if (!colsA.some((c) => c.name === f) || !colsB.has(f)) throw new UsageError(`feature ${JSON.stringify(f)} is not in both ${a.dataset}@${a.version} and ${b.dataset}@${b.version}`);
  }
  const features: FeatureDrift[] = [];
  const missing = [
    ...colsA.filter((c) => !colsB.has(c.name)).map((c) => ({ column: c.name, in: `${a.dataset}@${a.version}` })),
    ...userColumns(b).filter((c) => !colsA.some((x) => x.name === c.name)).map((c) => ({ column: c.name, in: `${b.dataset}@${b.version}` })),
  ];
  for (const c of colsA) {
    if (o.features?.length && !o.features.includes(c.name)) continue;
    const cb = colsB.get(c.name);
    if (!cb) continue;
    const kind = kindOf(c.type);
    const x = ident(c.name);
    if (kind === 'number' && kindOf(cb.type) === 'number') {
      const h = await numericBins(duck, relA, relB, x);
      const [p, q] = [shares(h.a), shares(h.b)];
      const f: FeatureDrift = { name: c.name, kind, psi: psi(p, q), js: jsDistance(p, q), bins: h.labels.map((label, i) => ({ label, a: p[i]!, b: q[i]! })), drifted: false, reasons: [] };
      if (f.psi! > thresholds.psi) f.reasons.push(`PSI ${f.psi!.toFixed(3)} > ${thresholds.psi}`);
      if (f.js! > thresholds.js) f.reasons.push(`JS distance ${f.js!.toFixed(3)} > ${thresholds.js}`);
      features.push({ ...f, drifted: f.reasons.length > 0 });
    } else if ((isCategorical(kind) || kind === 'number') && (isCategorical(kindOf(cb.type)) || kindOf(cb.type) === 'number')) {
      const [p, q] = [await categoryShares(duck, relA, x), await categoryShares(duck, relB, x)];
      const l = linf(p, q);
      const top = [...new Set([...p.keys(), ...q.keys()])].sort((u, v) => (q.get(v) ?? 0) + (p.get(v) ?? 0) - (q.get(u) ?? 0) - (p.get(u) ?? 0) || (u < v ? -1 : 1)).slice(0, 12);
      const reasons = l.distance > thresholds.linf ? [`L∞ ${l.distance.toFixed(3)} > ${thresholds.linf} (at ${JSON.stringify(l.worst)})`] : [];
      features.push({
        name: c.name,
        kind,
        linf: l.distance,
        ...(l.worst !== undefined ? { worst: l.worst } : {}),
        bins: top.map((v) => ({ label: v, a: p.get(v) ?? 0, b: q.get(v) ?? 0 })),
        drifted: reasons.length > 0,
        reasons,
      });
    }
  }
  return { a: `${a.dataset}@${a.version}`, b: `${b.dataset}@${b.version}`, rowsA: a.rows, rowsB: b.rows, thresholds, features, missing };
}
