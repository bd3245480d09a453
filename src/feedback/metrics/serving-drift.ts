// Serving drift: the logged fields of the feedback examples (what the model saw in production)
// against the model's training data: the analyze stage's drift over the whole period
// (computeDrift), and the same PSI / JS / L∞ measures per day, each day past a threshold an anomaly.
import { scanSql } from '../../core/dataset.ts';
import type { Manifest } from '../../core/manifest.ts';
import type { Project } from '../../core/project.ts';
import { ident, type DuckSession } from '../../engine/duckdb.ts';
import { computeDrift, DEFAULT_THRESHOLDS, jsDistance, linf, psi, type DriftReport, type Thresholds } from '../../analyze/drift.ts';
import { isCategorical, kindOf, userColumns } from '../../analyze/columns.ts';
import { FEEDBACK_COLUMNS } from '../records.ts';
import { fieldColumn } from './recompute.ts';

export interface DayDrift {
  /** YYYY-MM-DD (UTC) of predicted_at */
  day: string;
  feature: string;
  rows: number;
  psi?: number;
  js?: number;
  linf?: number;
  anomaly: string | null;
}

export interface ServingDrift {
  training: string;
  serving: string;
  overall: DriftReport;
  days: DayDrift[];
}

/** Logged fields present in the training data under the same name (fixed feedback columns left out). */
export function sharedFeatures(training: Manifest, feedback: Manifest, only?: string[]): string[] {
  const fb = new Set(feedback.schema.map((c) => c.name));
  return userColumns(training)
    .map((c) => c.name)
    .filter((n) => !(n in FEEDBACK_COLUMNS) && fb.has(fieldColumn(n)) && fieldColumn(n) === n && (!only?.length || only.includes(n)));
}

const shares = (counts: number[]) => {
  const t = counts.reduce((s, n) => s + n, 0);
  return counts.map((n) => (t ? n / t : 0));
};

async function perDayNumeric(duck: DuckSession, train: string, serve: string, x: string): Promise<Map<string, { p: number[]; q: number[]; rows: number }>> {
  // the training data's deciles, as computeDrift bins numbers
  const q = await duck.one<{ q: number[] | null }>(`SELECT quantile_cont(${x}::DOUBLE, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) AS q FROM (${train})`);
  const edges = [...new Set((q.q ?? []).map(Number))].sort((u, v) => u - v);
  const bin = edges.length ? `CASE ${edges.map((e, i) => `WHEN ${x} < ${e} THEN ${i}`).join(' ')} ELSE ${edges.length} END` : '0';
  const ref = Array.from({ length: edges.length + 1 }, () => 0);
  for (const r of await duck.all<{ b: number; n: number }>(`SELECT ${bin} AS b, count(*)::DOUBLE AS n FROM (${train}) WHERE ${x} IS NOT NULL GROUP BY 1`)) ref[Number(r.b)] = Number(r.n);
  const days = new Map<string, number[]>();
  for (const r of await duck.all<{ d: string; b: number; n: number }>(`SELECT strftime(predicted_at, '%Y-%m-%d') AS d, ${bin} AS b, count(*)::DOUBLE AS n FROM (${serve}) WHERE ${x} IS NOT NULL GROUP BY 1, 2`)) {
    let c = days.get(r.d);
    if (!c) days.set(r.d, (c = Array.from({ length: edges.length + 1 }, () => 0)));
    c[Number(r.b)] = Number(r.n);
  }
  const p = shares(ref);
  return new Map([...days].map(([d, c]) => [d, { p, q: shares(c), rows: c.reduce((s, n) => s + n, 0) }]));
}

async function perDayCategorical(duck: DuckSession, train: string, serve: string, x: string): Promise<Map<string, { p: Map<string, number>; q: Map<string, number>; rows: number }>> {
  const ref = new Map(
    (await duck.all<{ v: string; p: number }>(`SELECT ${x}::VARCHAR AS v, count(*)::DOUBLE / sum(count(*)) OVER () AS p FROM (${train}) WHERE ${x} IS NOT NULL GROUP BY 1`)).map((r) => [r.v, Number(r.p)]),
  );
  const days = new Map<string, { p: Map<string, number>; q: Map<string, number>; rows: number }>();
  const rows = await duck.all<{ d: string; v: string; n: number; t: number }>(
    `SELECT strftime(predicted_at, '%Y-%m-%d') AS d, ${x}::VARCHAR AS v, count(*)::DOUBLE AS n, sum(count(*)) OVER (PARTITION BY strftime(predicted_at, '%Y-%m-%d'))::DOUBLE AS t
     FROM (${serve}) WHERE ${x} IS NOT NULL GROUP BY 1, 2`,
  );
  for (const r of rows) {
    let e = days.get(r.d);
    if (!e) days.set(r.d, (e = { p: ref, q: new Map(), rows: Number(r.t) }));
    e.q.set(r.v, Number(r.n) / Number(r.t));
  }
  return days;
}

/** Drift of each shared feature per day, with the analyze stage's measures and thresholds. */
export async function driftPerDay(duck: DuckSession, dataDir: string, training: Manifest, feedback: Manifest, features: string[], thresholds: Thresholds = DEFAULT_THRESHOLDS): Promise<DayDrift[]> {
  const train = scanSql(dataDir, training);
  const serve = scanSql(dataDir, feedback);
  const types = new Map(training.schema.map((c) => [c.name, c.type]));
  const out: DayDrift[] = [];
  for (const f of features) {
    const kind = kindOf(types.get(f) ?? 'VARCHAR');
    const x = ident(f);
    if (kind === 'number') {
      for (const [day, d] of await perDayNumeric(duck, train, serve, x)) {
        const [ps, js] = [psi(d.p, d.q), jsDistance(d.p, d.q)];
        const why = [...(ps > thresholds.psi ? [`PSI ${ps.toFixed(3)} > ${thresholds.psi}`] : []), ...(js > thresholds.js ? [`JS ${js.toFixed(3)} > ${thresholds.js}`] : [])];
        out.push({ day, feature: f, rows: d.rows, psi: ps, js, anomaly: why.length ? why.join('; ') : null });
      }
    } else if (isCategorical(kind)) {
      for (const [day, d] of await perDayCategorical(duck, train, serve, x)) {
        const l = linf(d.p, d.q);
        out.push({ day, feature: f, rows: d.rows, linf: l.distance, anomaly: l.distance > thresholds.linf ? `L∞ ${l.distance.toFixed(3)} > ${thresholds.linf} (at ${JSON.stringify(l.worst)})` : null });
      }
    }
  }
  return out.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.feature < b.feature ? -1 : 1));
}

/** Overall (computeDrift) and per-day drift of the feedback version's logged fields against the training version. */
export async function servingDrift(project: Project, training: Manifest, feedback: Manifest, o: { features?: string[]; thresholds?: Partial<Thresholds> } = {}): Promise<ServingDrift | null> {
  const features = sharedFeatures(training, feedback, o.features);
  if (!features.length) return null;
  const thresholds = { ...DEFAULT_THRESHOLDS, ...o.thresholds };
  const overall = await computeDrift(project, training, feedback, { features, thresholds });
  const days = await driftPerDay(await project.duck(), project.dataDir, training, feedback, features, thresholds);
  return { training: `${training.dataset}@${training.version}`, serving: `${feedback.dataset}@${feedback.version}`, overall, days };
}

