// The `rebalance` stage: one map task resamples classes to the targets the plan fixed — seeded
// undersampling as deletion files over the shared parts, seeded oversampling as one extra part of
// repeated rows, or a weight column (a rewrite) — and the commit records the sampling rates.
import { describeFile, scanSql, SYSTEM_COLUMNS } from '../core/dataset.ts';
import { configHash } from '../core/hash.ts';
import type { Manifest, Part } from '../core/manifest.ts';
import { safeJoin } from '../core/names.ts';
import { ident, lit } from '../engine/duckdb.ts';
import type { Json, Stage } from '../engine/plan.ts';
import { liveRowsOf, subsetPart } from './deletes.ts';
import { PART_COL, POS_COL, versionRowsSql } from './rows.ts';

export interface RebalanceConfig {
  input: string;
  label: string;
  method: 'oversample' | 'undersample' | 'weights';
  ratio: number | null;
  seed: number;
  weightColumn: string;
  before: Record<string, number>;
  /** rows per class after resampling */
  after: Record<string, number>;
  weights: Record<string, number> | null;
  [k: string]: Json;
}

const caseOf = (x: string, m: Record<string, string | number>, otherwise = 'NULL') =>
  `CASE ${x} ${Object.entries(m).map(([k, v]) => `WHEN ${lit(k)} THEN ${v}`).join(' ')} ELSE ${otherwise} END`;

export const rebalanceStage: Stage = {
  name: 'rebalance',

  async map(ctx, task) {
    const parts = (task.input as unknown as { parts: Part[] }).parts;
    const c = ctx.plan.config as unknown as RebalanceConfig;
    const { duck } = ctx;
    const dataDir = ctx.env.dataDir;
    const rows = versionRowsSql(dataDir, { parts } as never);
    const y = `${ident(c.label)}::VARCHAR`;
    const h = `hash(xor(hash(_id), ${c.seed}::UBIGINT))`;
    const changed = Object.keys(c.before).filter((k) => c.after[k] !== c.before[k]);
    const inChanged = `${y} IN (${changed.map(lit).join(', ') || 'NULL'})`;
    if (c.method === 'weights') {
      const rel = `${ctx.outDir}/weighted.parquet`;
      const w = caseOf(y, Object.fromEntries(Object.entries(c.weights!).map(([k, v]) => [k, `${v}::DOUBLE`])));
      await duck.run(`COPY (SELECT * EXCLUDE (${PART_COL}, ${POS_COL}), ${w} AS ${ident(c.weightColumn)} FROM (${rows}) ORDER BY ${PART_COL}, ${POS_COL}) TO ${lit(safeJoin(dataDir, rel))} (FORMAT parquet)`);
      return { stats: { parts: [await describeFile(duck, dataDir, rel)] } as unknown as Json };
    }
    // every class already meets the ratio: the version keeps the same parts
    if (changed.length === 0) return { stats: { parts } as unknown as Json };
    // rank rows within each class by a seeded hash of their identity: the sample is the same for a seed
    const ranked = `SELECT *, row_number() OVER (PARTITION BY ${y} ORDER BY ${h}, _id) - 1 AS __r FROM (${rows}) WHERE ${inChanged}`;
    if (c.method === 'undersample') {
      // Keeps the `after` rows of each class with the smallest seeded hashes, without sorting the
      // class: rows whose uniform hash lies below lo are kept and above hi dropped; only the thin
      // band between (±6σ of a binomial around the rate) is ranked. Same rows as a full ranking.
      const table = `rebalance_${ctx.attemptId.replace(/\W/g, '')}`;
      const u = `((${h}) >> 11)::DOUBLE / 9007199254740992.0`;
      await duck.run(`CREATE OR REPLACE TEMP TABLE ${table}_c AS SELECT ${PART_COL}, ${POS_COL}, ${y} AS __y, ${h} AS __h, ${u} AS __u FROM (${rows}) WHERE ${inChanged}`);
      const bounds: Record<string, [number, number]> = {};
      for (const k of changed) {
        const rate = c.after[k]! / c.before[k]!;
        const sd = Math.sqrt((rate * (1 - rate)) / c.before[k]!);
        bounds[k] = [Math.max(0, rate - 6 * sd), Math.min(1, rate + 6 * sd)];
      }
      const lo = () => caseOf('__y', Object.fromEntries(changed.map((k) => [k, bounds[k]![0]])));
      const hi = () => caseOf('__y', Object.fromEntries(changed.map((k) => [k, bounds[k]![1]])));
      const below = await duck.all<{ y: string; lo: number; hi: number }>(`SELECT __y AS y, count_if(__u < ${lo()})::DOUBLE AS lo, count_if(__u < ${hi()})::DOUBLE AS hi FROM ${table}_c GROUP BY 1`);
      for (const b of below) {
        // the band missed the target (a ~1e-9 event): rank the whole class instead
        if (!(Number(b.lo) <= c.after[b.y]! && c.after[b.y]! <= Number(b.hi))) bounds[b.y] = [0, 1.1];
      }
      const need = caseOf('__y', Object.fromEntries(changed.map((k) => [k, `${c.after[k]} - ${Number(below.find((b) => b.y === k)?.lo ?? 0)}`])));
      const fallback = changed.filter((k) => bounds[k]![0] === 0 && bounds[k]![1] === 1.1);
      const needOf = fallback.length ? `CASE WHEN __y IN (${fallback.map(lit).join(', ')}) THEN ${caseOf('__y', c.after)} ELSE ${need} END` : need;
      await duck.run(
        `CREATE OR REPLACE TEMP TABLE ${table} AS ` +
          `SELECT ${PART_COL}, ${POS_COL}, true AS __drop FROM ${table}_c WHERE __u >= ${hi()} ` +
          `UNION ALL SELECT ${PART_COL}, ${POS_COL}, row_number() OVER (PARTITION BY __y ORDER BY __h, ${PART_COL}, ${POS_COL}) > ${needOf} AS __drop ` +
          `FROM ${table}_c WHERE __u >= ${lo()} AND __u < ${hi()}`,
      );
      await duck.run(`DROP TABLE IF EXISTS ${table}_c`);
      try {
        const dropped = await duck.all<{ p: number; n: number }>(`SELECT ${PART_COL} AS p, count(*)::DOUBLE AS n FROM ${table} WHERE __drop GROUP BY 1`);
        const out: Part[] = [];
        for (const [i, part] of parts.entries()) {
          const live = part.rows - (part.deletes?.rows ?? 0) - Number(dropped.find((d) => Number(d.p) === i)?.n ?? 0);
          const p = await subsetPart(duck, dataDir, `${ctx.outDir}/part-${i}.deletes.parquet`, part, i, table, '__drop', live);
          if (p) out.push(p);
        }
        return { stats: { parts: out } as unknown as Json };
      } finally {
        await duck.run(`DROP TABLE IF EXISTS ${table}`);
      }
    }
    // oversample: a class of n rows grown to t gets ⌊(t−n)/n⌋ extra copies of every row, plus one
    // more copy of its first (t−n) mod n rows in hash order
    const reps = Object.fromEntries(
      changed.map((k) => {
        const [n, t] = [c.before[k]!, c.after[k]!];
        return [k, `${Math.floor((t - n) / n)} + (__r < ${(t - n) % n})::INTEGER`];
      }),
    );
    const rel = `${ctx.outDir}/extra.parquet`;
    await duck.run(
      `COPY (SELECT * EXCLUDE (${PART_COL}, ${POS_COL}, __r, __reps, __k) FROM (SELECT *, unnest(range(__reps)) AS __k FROM (SELECT *, ${caseOf(y, reps, '0')} AS __reps FROM (${ranked})) WHERE __reps > 0)) ` +
        `TO ${lit(safeJoin(dataDir, rel))} (FORMAT parquet)`,
    );
    return { stats: { parts: [...parts, await describeFile(duck, dataDir, rel)] } as unknown as Json };
  },

  async commit(plan, outputs, _head, { duck, dataDir }) {
    const c = plan.config as unknown as RebalanceConfig;
    const parts = ([...outputs.maps.values()][0]!.stats as unknown as { parts: Part[] }).parts;
    const probe: Manifest = { format: 1, dataset: plan.dataset, version: 1, created_at: '', schema: [], parts, rows: 0, parents: [], operation: '', config_hash: '', licences: [] };
    const schema = await duck.describe(`(${scanSql(dataDir, probe)})`);
    const rates = Object.fromEntries(Object.keys(c.before).map((k) => [k, c.after[k]! / c.before[k]!]));
    const licences = (plan.config as { licences?: Manifest['licences'] }).licences ?? [];
    return {
      schema: schema.map((s) => ({ name: s.name, type: s.type, nullable: !SYSTEM_COLUMNS.includes(s.name as never) })),
      parts,
      rows: liveRowsOf(parts),
      parents: [c.input],
      operation: 'rebalance',
      config_hash: configHash(c),
      config: c,
      licences,
      extra: {
        rebalance: { label: c.label, method: c.method, ratio: c.ratio, seed: c.seed, before: c.before, after: c.after, rates, weights: c.weights },
        // a trainer calibrates a score s back to true rates: odds(s) · rate[neg] / rate[pos]
        calibration: 'true_odds = model_odds * rates[negative] / rates[positive]',
      },
    };
  },
};
