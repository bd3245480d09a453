// The `split` stage: one map task assigns every row of a version to a split (by hash of a group
// key, stratified by rank within each class, or by time cutoffs) and writes, per split, deletion
// files over the shared parts. split.ts commits one named version per split.
import type { Part } from '../core/manifest.ts';
import { ident, lit } from '../engine/duckdb.ts';
import { InternalError } from '../core/errors.ts';
import type { Json, Stage } from '../engine/plan.ts';
import { subsetPart } from './deletes.ts';
import { PART_COL, POS_COL, versionRowsSql } from './rows.ts';

export interface SplitConfig {
  input: string;
  names: string[];
  ratios: number[] | null;
  group: string | null;
  stratify: string | null;
  byTime: string | null;
  cutoffs: string[] | null;
  seed: number;
}

export interface SplitOutput {
  parts: Record<string, Part[]>;
  rows: Record<string, number>;
  /** class counts per split, when stratified */
  strata: Record<string, Record<string, number>> | null;
}

/** A row's uniform number in [0, 1) from a seeded 64-bit hash (top 53 bits, exact in a double). */
const uniform = (h: string) => `((${h}) >> 11)::DOUBLE / 9007199254740992.0`;

function byCumulative(x: string, cum: number[]): string {
  return `CASE ${cum.slice(0, -1).map((c, i) => `WHEN ${x} < ${c} THEN ${i}`).join(' ')} ELSE ${cum.length - 1} END`;
}

/** SQL of (`__part`, `__pos`, `__split`[, `__strat`]) for every live row. */
export function assignSql(rows: string, c: SplitConfig): string {
  const k = c.names.length;
  if (c.byTime) {
    const t = ident(c.byTime);
    const when = (c.cutoffs ?? []).map((cut, i) => `WHEN ${t} < ${lit(cut)} THEN ${i}`).join(' ');
    return `SELECT ${PART_COL}, ${POS_COL}, CASE ${when} ELSE ${k - 1} END AS __split FROM (${rows})`;
  }
  const ratios = c.ratios!;
  const cum = ratios.map((_, i) => ratios.slice(0, i + 1).reduce((s, r) => s + r, 0));
  const key = c.group ? ident(c.group) : '_id';
  // xor the seed into the key's hash, then hash again so every output bit depends on the seed
  const h = `hash(xor(hash(${key}), ${c.seed}::UBIGINT))`;
  if (!c.stratify) return `SELECT ${PART_COL}, ${POS_COL}, ${byCumulative(uniform(h), cum)} AS __split FROM (${rows})`;
  const s = `${ident(c.stratify)}::VARCHAR`;
  if (!c.group) {
    // rank within the class by hash: each split takes round(cum·n) − round(prev·n) of every class
    const ranked = `SELECT ${PART_COL}, ${POS_COL}, ${s} AS __strat, row_number() OVER (PARTITION BY ${s} ORDER BY ${h}, _id) - 1 AS __r, count(*) OVER (PARTITION BY ${s}) AS __n FROM (${rows})`;
    const when = cum.slice(0, -1).map((cv, i) => `WHEN __r < round(${cv} * __n) THEN ${i}`).join(' ');
    return `SELECT ${PART_COL}, ${POS_COL}, __strat, CASE ${when} ELSE ${k - 1} END AS __split FROM (${ranked})`;
  }
  // groups stay whole: each group takes its most frequent class, and groups are dealt to splits by
  // hash order within their class until each split holds its share of that class's rows
  const groups =
    `SELECT __h, __gs, (coalesce(sum(__size) OVER (PARTITION BY __gs ORDER BY __h ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) + __size / 2.0) ` +
    `/ sum(__size) OVER (PARTITION BY __gs) AS __mid FROM (SELECT ${h} AS __h, count(*) AS __size, mode(${s}) AS __gs FROM (${rows}) GROUP BY 1)`;
  return (
    `SELECT r.${PART_COL}, r.${POS_COL}, ${s} AS __strat, ${byCumulative('g.__mid', cum)} AS __split ` +
    `FROM (SELECT *, ${h} AS __h FROM (${rows})) r JOIN (${groups}) g ON r.__h = g.__h`
  );
}

export const splitStage: Stage = {
  name: 'split',

  async map(ctx, task) {
    const parts = (task.input as unknown as { parts: Part[] }).parts;
    const c = ctx.plan.config as unknown as SplitConfig;
    const table = `split_${ctx.attemptId.replace(/\W/g, '')}`;
    const rows = versionRowsSql(ctx.env.dataDir, { parts } as never);
    await ctx.duck.run(`CREATE OR REPLACE TEMP TABLE ${table} AS ${assignSql(rows, c)}`);
    try {
      const counts = await ctx.duck.all<{ p: number; s: number; n: number }>(`SELECT ${PART_COL} AS p, __split AS s, count(*)::DOUBLE AS n FROM ${table} GROUP BY ALL`);
      const kept = (p: number, s: number) => Number(counts.find((r) => Number(r.p) === p && Number(r.s) === s)?.n ?? 0);
      const out: SplitOutput = { parts: {}, rows: {}, strata: null };
      for (const [s, name] of c.names.entries()) {
        const ps: Part[] = [];
        for (const [i, part] of parts.entries()) {
          const p = await subsetPart(ctx.duck, ctx.env.dataDir, `${ctx.outDir}/${name}-${i}.deletes.parquet`, part, i, table, `__split <> ${s}`, kept(i, s));
          if (p) ps.push(p);
        }
        out.parts[name] = ps;
        out.rows[name] = parts.reduce((n, _, i) => n + kept(i, s), 0);
      }
      if (c.stratify) {
        const strata = await ctx.duck.all<{ s: number; v: string; n: number }>(`SELECT __split AS s, __strat AS v, count(*)::DOUBLE AS n FROM ${table} GROUP BY ALL ORDER BY ALL`);
        out.strata = Object.fromEntries(c.names.map((name, s) => [name, Object.fromEntries(strata.filter((r) => Number(r.s) === s).map((r) => [String(r.v), Number(r.n)]))]));
      }
      return { stats: out as unknown as Json };
    } finally {
      await ctx.duck.run(`DROP TABLE IF EXISTS ${table}`);
    }
  },

  async commit() {
    throw new InternalError('the split stage commits one version per split itself', { hint: 'run it with splitVersion (src/analyze/split.ts)' });
  },
};
